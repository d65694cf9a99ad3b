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
    "KLToTruth",
    "LearnedKL",
    "LinearDiffusion",
    "Schedule",
    "affine_sampler_law",
    "blurred_training_kl",
    "class_posteriors",
    "collapse_size",
    "collapse_step",
    "ddpm_sample",
    "diagonal_sample",
    "diagonal_sampler_law",
    "empirical_stats",
    "expected_kl",
    "expected_naive_measure",
    "fit_power_law",
    "forward_trajectories",
    "gaussian_kl",
    "learned_kl",
    "naive_measure",
    "noisy_information",
    "optimal_ridge_limit_law",
    "optimal_ridge_sampler",
    "optimal_sampler_stop",
    "optimal_sampler_mean_factors",
    "optimal_sampler_variances",
    "paired_sampler_difference_law",
    "participation_ratio",
    "power_law_spectrum",
    "random_rotation",
    "rayleigh_median",
    "rotated_covariance",
    "sampler_noise_variances",
    "sampler_ridge_kl",
    "sampler_stop_kl",
    "sampler_stop_ridge",
    "sampler_trajectories",
    "speciation_step",
    "stopped_sample",
    "stopped_sampler_law",
    "whitened_kl_approximation",
]
