"""lindiff: the exact theory of linear diffusion models, the engine of the lindiff book.

Reproduces Merger & Goldt, "Generalization Dynamics of Linear Diffusion Models" (arXiv 2505.24769).
"""
from .kl import (KLToTruth, LearnedKL, expected_kl, expected_naive_measure, gaussian_kl, learned_kl, naive_measure,
                 optimal_ridge_limit_law, optimal_ridge_sampler, sampler_ridge_kl)
from .linear import LinearDiffusion
from .sampler import (affine_sampler_law, ddpm_sample, diagonal_sample, diagonal_sampler_law, forward_trajectories,
                      optimal_sampler_mean_factors, optimal_sampler_variances, sampler_trajectories)
from .schedule import Schedule
from .spectra import participation_ratio, power_law_spectrum, random_rotation, rotated_covariance
from .stats import empirical_stats

__version__ = "0.1.0"

__all__ = [
    "KLToTruth",
    "LearnedKL",
    "LinearDiffusion",
    "Schedule",
    "affine_sampler_law",
    "ddpm_sample",
    "diagonal_sample",
    "diagonal_sampler_law",
    "empirical_stats",
    "expected_kl",
    "expected_naive_measure",
    "forward_trajectories",
    "gaussian_kl",
    "learned_kl",
    "naive_measure",
    "optimal_ridge_limit_law",
    "optimal_ridge_sampler",
    "optimal_sampler_mean_factors",
    "optimal_sampler_variances",
    "participation_ratio",
    "power_law_spectrum",
    "random_rotation",
    "rotated_covariance",
    "sampler_ridge_kl",
    "sampler_trajectories",
]
