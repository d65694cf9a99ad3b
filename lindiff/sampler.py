"""The DDPM ancestral sampler, generic and in closed form for diagonal affine denoisers.

u_T ~ N(0, Id),  u_{t-1} = ( u_t - beta_t / sqrt(1 - abar_t) eps(u_t, t) ) / sqrt(alpha_t) + sigma_t z_t.
"""
from __future__ import annotations

import numpy as np

from ._checks import as_finite_array, check_eps_model, check_positive_int, check_seed, eps_output
from .progress import progress
from .schedule import Schedule


def ddpm_sample(eps_model, schedule: Schedule, n: int, d: int, seed=None, progress_bar: bool = True):
    """Run the ancestral sampler for any noise predictor.

    Parameters
    ----------
    eps_model : callable
        ``eps_model(x, t)`` with x of shape (n, d) and an integer step t in 1..T, returning the
        predicted noise, shape (n, d). If it has a ``schedule`` attribute (a
        :class:`lindiff.LinearDiffusion`, a trained model), that schedule must equal ``schedule``.
    schedule : Schedule
    n, d : int
        Number of samples and dimension.
    seed : None, int or numpy Generator
        Seeds u_T and every z_t; None (the default) draws fresh entropy on each call.

    Returns
    -------
    ndarray, shape (n, d)
        The samples u_0.

    Raises
    ------
    ValueError
        If ``eps_model`` returns NaN or inf (checked at every step, naming the first such step), or
        the samples overflow.


    Defined in :doc:`chapter 1 </book/01_diffusion_models>`, equation :eq:`eq-ancestral-sampler`.
    """
    _check_schedule(schedule)
    check_eps_model(eps_model, schedule)
    n = check_positive_int(n, "n")
    d = check_positive_int(d, "d")
    rng = np.random.default_rng(check_seed(seed))
    betas, alphas, abars = schedule.betas, schedule.alphas, schedule.alpha_bars
    u = rng.standard_normal((n, d))
    steps = range(schedule.T, 0, -1)
    for t in progress(steps, desc="sampling", total=schedule.T, **({} if progress_bar else {"disable": True})):
        i = t - 1
        eps = eps_output(eps_model(u, t), u.shape, t)
        u = (u - betas[i] / np.sqrt(1.0 - abars[i]) * eps) / np.sqrt(alphas[i])
        u = u + np.sqrt(betas[i]) * rng.standard_normal((n, d))
    if not np.all(np.isfinite(u)):
        raise ValueError("the samples overflowed to NaN or inf although eps_model's output stayed finite; "
                         "eps_model is not a usable denoiser for this schedule")
    return u


def _check_schedule(schedule) -> None:
    if not isinstance(schedule, Schedule):
        raise ValueError(f"schedule must be a lindiff.Schedule (e.g. Schedule.linear()), got {type(schedule).__name__}")


def _step_coefficients(w, m, schedule: Schedule):
    """Gain a_t and offset o_t of u_{t-1} = a_t u_t + o_t + sigma_t z for eps = w_t (u - m_t)."""
    _check_schedule(schedule)
    w = as_finite_array(w, "w")
    if w.ndim != 2 or w.shape[0] != schedule.T:
        raise ValueError(f"w must have shape (T, d) with T = {schedule.T}, got {w.shape}")
    m = as_finite_array(m, "m")
    try:
        m = np.broadcast_to(m, w.shape)
    except ValueError:
        raise ValueError(f"m of shape {m.shape} does not broadcast to w's shape {w.shape}") from None
    g = (schedule.betas / np.sqrt(1.0 - schedule.alpha_bars))[:, None]
    sqrt_alpha = np.sqrt(schedule.alphas)[:, None]
    gain = (1.0 - g * w) / sqrt_alpha
    offset = g * w * m / sqrt_alpha
    return gain, offset


def diagonal_sampler_law(w, m, schedule: Schedule):
    """Exact law of the sampler output for a denoiser that is diagonal in a fixed orthonormal basis.

    In that basis, direction nu at step t predicts eps_nu = w[t-1, nu] (y_nu - m[t-1, nu]). The
    sampler is then affine, y_{t-1} = a_t y_t + o_t + sigma_t z with
    a_t = (1 - g_t w_t) / sqrt(alpha_t), o_t = g_t w_t m_t / sqrt(alpha_t), g_t = beta_t / sqrt(1 - abar_t),
    so the output is Gaussian with mean and variance from the scalar recursions

        mean_{t-1} = a_t mean_t + o_t,   var_{t-1} = a_t^2 var_t + beta_t,   mean_T = 0, var_T = 1.

    Cost O(T d): no d x d matrix is formed.

    Parameters
    ----------
    w : array_like, shape (T, d)
        Per-step weights in the basis.
    m : array_like, broadcastable to (T, d)
        Per-step centres in the basis.
    schedule : Schedule

    Returns
    -------
    mean, var : ndarray, shape (d,)
        Mean and variance of each coordinate of u_0 in the basis (coordinates are independent).


    Defined in :doc:`chapter 6 </book/06_early_stopping>`, equation :eq:`eq-diagonal-sampler-law`.
    """
    gain, offset = _step_coefficients(w, m, schedule)
    mean = np.zeros(gain.shape[1:])
    var = np.ones(gain.shape[1:])
    for i in range(schedule.T - 1, -1, -1):
        mean = gain[i] * mean + offset[i]
        var = gain[i] ** 2 * var + schedule.betas[i]
    return mean, var


def diagonal_sample(w, m, schedule: Schedule, n: int, seed=None, progress_bar: bool = True):
    """Run the ancestral sampler for the diagonal denoiser of :func:`diagonal_sampler_law`.

    Works in the basis coordinates: u_T and every z_t are drawn there (a rotation of an isotropic
    Gaussian is isotropic), at O(T n d) cost.

    Returns
    -------
    ndarray, shape (n, d)
        Samples in the basis coordinates.


    Defined in :doc:`chapter 6 </book/06_early_stopping>`, equation :eq:`eq-diagonal-sampler-law`.
    """
    n = check_positive_int(n, "n")
    gain, offset = _step_coefficients(w, m, schedule)
    rng = np.random.default_rng(check_seed(seed))
    y = rng.standard_normal((n, gain.shape[1]))
    z = np.empty_like(y)
    sigmas = schedule.sigmas
    for i in progress(range(schedule.T - 1, -1, -1), desc="sampling", total=schedule.T,
                      **({} if progress_bar else {"disable": True})):
        # y <- a_t y + o_t + sigma_t z, in place (drawing the T n d normals dominates the cost)
        y *= gain[i]
        y += offset[i]
        rng.standard_normal(out=z)
        z *= sigmas[i]
        y += z
    return y
