"""lindiff: the exact theory of linear diffusion models, the engine of the lindiff book.

Reproduces Merger & Goldt, "Generalization Dynamics of Linear Diffusion Models" (arXiv 2505.24769).

Three layers, and imports go only downward:

- ``lindiff`` (this package's own modules) is the mathematics: numpy and scipy only, so importing
  ``lindiff`` imports neither torch nor matplotlib; torch is imported only by the trainer
  (``lindiff.train``), which ``import lindiff`` does not load;
- ``lindiff.data`` holds the files and the disk cache (sources and checksums, readers,
  preprocessing, cached spectra and sweeps); it may import ``lindiff``;
- ``lindiff.book`` holds what draws or renders (style, image grids, explorers, claims, chapter
  needs); it may import ``lindiff`` and ``lindiff.data``.

Chapters import one way, ``import lindiff as ld``, and call ``ld.<name>``: every mathematical name is
re-exported here. The data layer and the torch-based modules are reached as ``ld.data``,
``ld.train``, ``ld.networks`` and ``ld.experiments``, imported on first use (so ``import lindiff``
stays free of torch).

Nothing imports upward: no module of the mathematics imports ``lindiff.data`` or ``lindiff.book``,
and no module of ``lindiff.data`` imports ``lindiff.book`` (``tests/test_layers.py`` checks both).
"""

from .collapse import (
    blurred_training_kl,
    class_posteriors,
    collapse_size,
    collapse_step,
    noisy_information,
    speciation_step,
)
from .dataset_average import (
    averaged_kl,
    averaged_log_det,
    averaged_optimal_ridge,
    averaged_test_loss_excess_per_step,
    averaged_test_loss_per_step,
    averaged_train_loss_per_step,
    averaged_unseen_variance,
    renormalized_ridge,
)
from .gradient_flow import GradientFlow, effective_ridge
from .kl import (
    KLToTruth,
    LearnedKL,
    expected_kl,
    expected_naive_measure,
    gaussian_kl,
    learned_kl,
    naive_measure,
    optimal_ridge_limit_law,
    optimal_ridge_sampler,
    optimal_sampler_stop,
    sampler_ridge_kl,
    sampler_stop_kl,
    whitened_kl_approximation,
)
from .linear import LinearDiffusion
from .losses import (
    directional_second_moments,
    loss_gap_per_step,
    loss_per_direction,
    losses_from_resolvent_traces,
    optimal_loss_per_direction,
    unseen_lower_bound_per_step,
)
from .memorisation import (
    EmpiricalDenoiser,
    distances_to_training_set,
    memorised,
    memorised_fraction,
    nearest_training_point,
    transition_size,
    two_nearest_distances,
)
from .mixture import GaussianMixture
from .montecarlo import ddpm_loss, ddpm_loss_per_step, losses_over_training_sets
from .sampler import (
    affine_sampler_law,
    ddpm_sample,
    diagonal_sample,
    diagonal_sampler_law,
    forward_trajectories,
    optimal_sampler_mean_factors,
    optimal_sampler_variances,
    paired_sampler_difference_law,
    sampler_noise_variances,
    sampler_stop_ridge,
    sampler_trajectories,
    stopped_sample,
    stopped_sampler_law,
)
from .schedule import Schedule
from .spectra import fit_power_law, participation_ratio, power_law_spectrum, random_rotation, rotated_covariance
from .stats import empirical_stats, rayleigh_median

__version__ = "0.2.0"

__all__ = [
    "EmpiricalDenoiser",
    "GaussianMixture",
    "GradientFlow",
    "KLToTruth",
    "LearnedKL",
    "LinearDiffusion",
    "Schedule",
    "affine_sampler_law",
    "averaged_kl",
    "averaged_log_det",
    "averaged_optimal_ridge",
    "averaged_test_loss_excess_per_step",
    "averaged_test_loss_per_step",
    "averaged_train_loss_per_step",
    "averaged_unseen_variance",
    "blurred_training_kl",
    "class_posteriors",
    "collapse_size",
    "collapse_step",
    "ddpm_loss",
    "ddpm_loss_per_step",
    "ddpm_sample",
    "diagonal_sample",
    "diagonal_sampler_law",
    "directional_second_moments",
    "distances_to_training_set",
    "effective_ridge",
    "empirical_stats",
    "expected_kl",
    "expected_naive_measure",
    "fit_power_law",
    "forward_trajectories",
    "gaussian_kl",
    "learned_kl",
    "loss_gap_per_step",
    "loss_per_direction",
    "losses_from_resolvent_traces",
    "losses_over_training_sets",
    "memorised",
    "memorised_fraction",
    "naive_measure",
    "nearest_training_point",
    "noisy_information",
    "optimal_loss_per_direction",
    "optimal_ridge_limit_law",
    "optimal_ridge_sampler",
    "optimal_sampler_mean_factors",
    "optimal_sampler_stop",
    "optimal_sampler_variances",
    "paired_sampler_difference_law",
    "participation_ratio",
    "power_law_spectrum",
    "random_rotation",
    "rayleigh_median",
    "renormalized_ridge",
    "rotated_covariance",
    "sampler_noise_variances",
    "sampler_ridge_kl",
    "sampler_stop_kl",
    "sampler_stop_ridge",
    "sampler_trajectories",
    "speciation_step",
    "stopped_sample",
    "stopped_sampler_law",
    "transition_size",
    "two_nearest_distances",
    "unseen_lower_bound_per_step",
    "whitened_kl_approximation",
]


#: Modules reached as ``ld.<module>`` and imported on first use: the data layer, and the torch-based
#: trainer, networks and experiment grid (``pip install 'lindiff[train]'``).
_LAZY_MODULES = ("data", "experiments", "networks", "train")


def __getattr__(name: str):
    if name in _LAZY_MODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
