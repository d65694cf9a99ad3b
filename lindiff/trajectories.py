"""Whole paths of the forward (noising) chain and of the ancestral sampler, for drawing them.

Forward chain:  x_t = sqrt(alpha_t) x_{t-1} + sqrt(beta_t) z_t, whose marginal is
x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps.
Sampler: the one of :func:`lindiff.ddpm_sample`, recorded at every step.
"""
from __future__ import annotations

import numpy as np

from ._checks import as_data_matrix, check_eps_model, check_seed
from .sampler import ddpm_sample
from .schedule import Schedule


def forward_trajectories(x0, schedule: Schedule, seed=None) -> np.ndarray:
    """Run the forward chain x_t = sqrt(alpha_t) x_{t-1} + sqrt(beta_t) z_t from each row of x0.

    Parameters
    ----------
    x0 : array_like, shape (n, d)
        Starting points.
    schedule : Schedule
    seed : None, int or numpy Generator
        None (the default) draws fresh entropy on each call.

    Returns
    -------
    ndarray, shape (T + 1, n, d)
        Entry t is x_t (entry 0 is x0).


    Defined in :doc:`chapter 1 </book/01_diffusion_models>`, equation :eq:`eq-forward-step`.
    """
    if not isinstance(schedule, Schedule):
        raise ValueError("schedule must be a lindiff.Schedule, e.g. Schedule.linear()")
    x0 = as_data_matrix(x0, "x0", min_rows=1)
    rng = np.random.default_rng(check_seed(seed))
    z = rng.standard_normal((schedule.T,) + x0.shape)
    path = np.empty((schedule.T + 1,) + x0.shape)
    path[0] = x0
    for i in range(schedule.T):
        path[i + 1] = np.sqrt(schedule.alphas[i]) * path[i] + schedule.sigmas[i] * z[i]
    return path


def sampler_trajectories(eps_model, schedule: Schedule, n: int, d: int, seed=None, progress_bar: bool = True):
    """Run :func:`lindiff.ddpm_sample` and keep every intermediate u_t.

    Same seed, same samples: entry 0 equals ``ddpm_sample(eps_model, schedule, n, d, seed)``.

    Returns
    -------
    ndarray, shape (T + 1, n, d)
        Entry t is u_t: entry T is the starting noise u_T, entry 0 the samples u_0.


    Defined in :doc:`chapter 1 </book/01_diffusion_models>`, equation :eq:`eq-ancestral-sampler`.
    """
    if not isinstance(schedule, Schedule):
        raise ValueError("schedule must be a lindiff.Schedule, e.g. Schedule.linear()")
    check_eps_model(eps_model, schedule)  # recording_model below hides eps_model's own schedule
    recorded = {}

    def recording_model(u, t):
        recorded[t] = np.array(u, dtype=np.float64, copy=True)
        return eps_model(u, t)

    u0 = ddpm_sample(recording_model, schedule, n, d, seed=seed, progress_bar=progress_bar)
    return np.stack([u0] + [recorded[t] for t in range(1, schedule.T + 1)])
