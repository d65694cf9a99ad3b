"""lindiff: the exact theory of linear diffusion models, the engine of the lindiff book.

Reproduces Merger & Goldt, "Generalization Dynamics of Linear Diffusion Models" (arXiv 2505.24769).
"""
from .kl import expected_kl, gaussian_kl
from .linear import LinearDiffusion
from .sampler import ddpm_sample, diagonal_sample, diagonal_sampler_law
from .schedule import Schedule
from .spectra import participation_ratio, power_law_spectrum, random_rotation, rotated_covariance
from .stats import empirical_stats

__version__ = "0.1.0"

__all__ = [
    "LinearDiffusion",
    "Schedule",
    "ddpm_sample",
    "diagonal_sample",
    "diagonal_sampler_law",
    "empirical_stats",
    "expected_kl",
    "gaussian_kl",
    "participation_ratio",
    "power_law_spectrum",
    "random_rotation",
    "rotated_covariance",
]
