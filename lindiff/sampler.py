"""The DDPM ancestral sampler and every law it produces.

u_T ~ N(0, Id),  u_{t-1} = ( u_t - beta_t / sqrt(1 - abar_t) eps(u_t, t) ) / sqrt(alpha_t) + sigma_t z_t.

For an affine denoiser the sampler is affine and its output Gaussian. Its law is here in three
forms: telescoped in closed form at the optimum of the linear model (:func:`optimal_sampler_variances`,
:func:`optimal_sampler_mean_factors`), by a scalar recursion for any denoiser diagonal in a fixed
basis (:func:`lindiff.diagonal_sampler_law`), and by the dense recursion for general matrices
(:func:`affine_sampler_law`). The forward chain and the sampler are also recorded step by step
(:func:`forward_trajectories`, :func:`sampler_trajectories`), for drawing their paths; the forward
chain x_t = sqrt(alpha_t) x_{t-1} + sqrt(beta_t) z_t has the marginal x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps.

The sampler can be stopped at a step t0 (:func:`stopped_sample`: the rescaled state or Tweedie's one-step
estimate there, with exact laws :func:`stopped_sampler_law` and the ridge c(t0) it imitates,
:func:`sampler_stop_ridge`), and its noise variance sigma_t^2 is beta_t (the book's choice, default) or the
posterior variance beta~_t (``noise="posterior"``, :func:`sampler_noise_variances`).
"""

from __future__ import annotations

import numpy as np

from ._checks import (
    as_data_matrix,
    as_finite_array,
    as_real_array,
    check_eps_model,
    check_finite_result,
    check_positive_int,
    check_schedule,
    check_seed,
    check_spectrum,
    eps_output,
)
from .float32_chain import float32_chain
from .progress import progress
from .schedule import Schedule


def ddpm_sample(
    eps_model,
    schedule: Schedule,
    n: int,
    d: int,
    seed=None,
    progress_bar: bool = True,
    last_step_noise: bool = True,
    noise: str = "beta",
    t0: int = 0,
):
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
    last_step_noise : bool
        Add sigma_1 z_1 at the last step t = 1 (the book's convention, default). False follows Ho et
        al.'s Algorithm 2 (z = 0 at t = 1): the output then lacks the variance beta_1 added there.
    noise : {"beta", "posterior"}
        The sampler's noise variance sigma_t^2 (:func:`sampler_noise_variances`): beta_t (the book's
        choice, diffusers' ``fixed_large``, default) or the posterior variance
        beta~_t = beta_t (1 - abar_{t-1}) / (1 - abar_t) (diffusers' ``fixed_small``).
    t0 : int
        Stop after the step t0 + 1 and return u_{t0} (0, the default, runs the whole chain; see
        :func:`stopped_sample` for the outputs of a stopped sampler).

    Returns
    -------
    ndarray, shape (n, d)
        The samples u_{t0} (u_0 by default).

    Raises
    ------
    ValueError
        If ``eps_model`` returns NaN or inf (checked at every step, naming the first such step), or
        the samples overflow.


    Defined in :doc:`chapter 1 </book/01_diffusion_models>`, equation :eq:`eq-ancestral-sampler`.
    """
    check_schedule(schedule)
    check_eps_model(eps_model, schedule)
    n = check_positive_int(n, "n")
    d = check_positive_int(d, "d")
    t0 = _check_stop(t0, schedule)
    variances = sampler_noise_variances(schedule, noise, last_step_noise)
    rng = np.random.default_rng(check_seed(seed))
    betas, alphas, abars = schedule.betas, schedule.alphas, schedule.alpha_bars
    u = rng.standard_normal((n, d))
    steps = range(schedule.T, t0, -1)
    bar = {} if progress_bar else {"disable": True}
    for t in progress(steps, desc="sampling", total=schedule.T - t0, **bar):
        i = t - 1
        eps = eps_output(eps_model(u, t), u.shape, t)
        u = (u - betas[i] / np.sqrt(1.0 - abars[i]) * eps) / np.sqrt(alphas[i])
        if variances[i] > 0:
            u = u + np.sqrt(variances[i]) * rng.standard_normal((n, d))
    if not np.all(np.isfinite(u)):
        raise ValueError(
            "the samples overflowed to NaN or inf although eps_model's output stayed finite; "
            "eps_model is not a usable denoiser for this schedule"
        )
    return u


NOISE_CHOICES = ("beta", "posterior")
_DIVERGES = (
    "the weights make the chain diverge (a gain |1 - g_t w_t| / sqrt(alpha_t) far above 1) or the data are too large"
)


def sampler_noise_variances(schedule: Schedule, noise: str = "beta", last_step_noise: bool = True) -> np.ndarray:
    """The variances sigma_t^2 of the noise the ancestral sampler adds at steps t = 1..T.

    ``noise="beta"`` (the book's choice, diffusers' ``fixed_large``): sigma_t^2 = beta_t.
    ``noise="posterior"`` (diffusers' ``fixed_small``): the variance of the forward posterior
    q(x_{t-1} | x_t, x_0),

        beta~_t = beta_t (1 - abar_{t-1}) / (1 - abar_t),   abar_0 = 1, so beta~_1 = 0.

    ``last_step_noise=False`` sets sigma_1^2 = 0 (Ho et al.'s Algorithm 2); with the posterior
    variance it is 0 anyway.

    Returns
    -------
    ndarray, shape (T,)


    Defined in :doc:`chapter 8 </book/08_sampler_regularisation>`, equation :eq:`eq-posterior-variance`.
    """
    check_schedule(schedule)
    if noise not in NOISE_CHOICES:
        raise ValueError(f"noise must be 'beta' or 'posterior', got {noise!r}")
    if noise == "beta":
        variances = schedule.betas.copy()
    else:
        variances = schedule.betas * (1.0 - schedule.alpha_bars_prev) / (1.0 - schedule.alpha_bars)
    if not last_step_noise:
        variances[0] = 0.0
    return variances


def _noise_variances(schedule: Schedule, last_step_noise: bool, noise: str = "beta") -> np.ndarray:
    """sigma_t^2 added at steps t = 1..T (see :func:`sampler_noise_variances`)."""
    return sampler_noise_variances(schedule, noise, last_step_noise)


def _check_stop(t0, schedule: Schedule) -> int:
    """A stopping step t0 in 0..T (t0 = 0: the whole chain)."""
    if isinstance(t0, (bool, np.bool_)) or not isinstance(t0, (int, np.integer)) or not 0 <= t0 <= schedule.T:
        raise ValueError(f"t0 must be an integer step in 0..{schedule.T} (0: run the whole chain), got {t0!r}")
    return int(t0)


def _check_stops(t0, schedule: Schedule) -> np.ndarray:
    """One stopping step or a 1-D array of them, each an integer in 0..T."""
    raw = np.asarray(t0)
    if raw.ndim > 1 or raw.dtype.kind not in "iu" or np.any(raw < 0) or np.any(raw > schedule.T):
        raise ValueError(f"t0 must be an integer step in 0..{schedule.T} or a 1-D array of them, got {t0!r}")
    return raw.astype(np.int64)


def _step_coefficients(w, m, schedule: Schedule):
    """Gain a_t and offset o_t of u_{t-1} = a_t u_t + o_t + sigma_t z for eps = w_t (u - m_t)."""
    check_schedule(schedule)
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


def diagonal_sampler_law(w, m, schedule: Schedule, last_step_noise: bool = True, noise: str = "beta", t0: int = 0):
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
    last_step_noise : bool
        As in :func:`lindiff.ddpm_sample`: False leaves out the noise of the last step t = 1.
    noise : {"beta", "posterior"}
        The sampler's noise variances (:func:`lindiff.sampler_noise_variances`); beta_t above.
    t0 : int
        Stop the recursion at u_{t0} (default 0: the sampler's output u_0).

    Returns
    -------
    mean, var : ndarray, shape (d,)
        Mean and variance of each coordinate of u_{t0} in the basis (coordinates are independent).


    Defined in :doc:`chapter 6 </book/06_early_stopping>`, equation :eq:`eq-diagonal-sampler-law`.
    """
    gain, offset = _step_coefficients(w, m, schedule)
    t0 = _check_stop(t0, schedule)
    mean = np.zeros(gain.shape[1:])
    var = np.ones(gain.shape[1:])
    variances = _noise_variances(schedule, last_step_noise, noise)
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(schedule.T - 1, t0 - 1, -1):
            mean = gain[i] * mean + offset[i]
            var = gain[i] ** 2 * var + variances[i]
    return check_finite_result("the sampler's law", _DIVERGES, mean, var)


def _check_lam(lam) -> np.ndarray:
    """lambda_nu + c, a scalar or a 1-D array of variances >= 0 (a scalar becomes shape (1,))."""
    arr = as_real_array(lam, "lam")
    return check_spectrum(arr.reshape(1) if arr.ndim == 0 else arr, "lam")


def optimal_sampler_variances(lam, schedule: Schedule, last_step_noise: bool = True, noise: str = "beta") -> np.ndarray:
    """Variance of the sampler output along a direction of regularised training variance lam, for
    the optimal linear denoiser (exact, finite T).

    With v_t = abar_t lam + 1 - abar_t (v_0 = lam), the per-step gain is A_t = sqrt(alpha_t) v_{t-1} / v_t,
    the gains telescope, and

        C(lam) = lam^2 [ abar_T / v_T^2 + sum_{t=1..T} sigma_t^2 abar_{t-1} / v_{t-1}^2 ].

    The t = 1 term is sigma_1^2 = beta_1 exactly (v_0 = lam), so a direction with lam = 0 keeps
    the variance beta_1; without noise at the last step (``last_step_noise=False``) that term is
    absent and such a direction gets variance 0. Evaluated as beta_1 + sum_t coef_t (lam / v_t)^2 with the ratios
    lam / v_t <= 1 / abar_t, which never divides by zero and never overflows, even for huge lam.
    Cost O(T d): one (T, d) array and a matrix-vector product.

    Parameters
    ----------
    lam : ndarray, shape (d,)
        lambda_nu + c: the eigenvalues of Sigma_0 plus the ridge, all >= 0.
    schedule : Schedule
    last_step_noise : bool
        As in :func:`lindiff.ddpm_sample`: False leaves out the noise of the last step t = 1.
    noise : {"beta", "posterior"}
        The sampler's noise variances sigma_t^2 (:func:`lindiff.sampler_noise_variances`); the formula
        holds for any choice (chapter 8, :eq:`eq-posterior-variance`).


    Defined in :doc:`chapter 2 </book/02_linear_model>`, equation :eq:`eq-sampled-variance`.
    """
    check_schedule(schedule)
    lam = _check_lam(lam)
    variances = _noise_variances(schedule, last_step_noise, noise)
    ab = schedule.alpha_bars[:, None]
    ratio = ab * lam
    ratio += 1.0 - ab
    np.divide(lam, ratio, out=ratio)  # lam / v_t for t = 1..T
    np.square(ratio, out=ratio)
    # coef_t = beta_{t+1} abar_t for t = 1..T-1 (terms t+1 = 2..T of the sum), abar_T for t = T
    coef = np.append(variances[1:] * schedule.alpha_bars[:-1], schedule.alpha_bars[-1])
    return variances[0] + coef @ ratio


def optimal_sampler_mean_factors(lam, schedule: Schedule) -> np.ndarray:
    """Mean of the sampler output along e_nu over e_nu . mu_0, for the optimal linear denoiser:
    1 - abar_T lam / v_T.

    lam = lambda_nu + c and v_T = abar_T lam + 1 - abar_T, as in :func:`optimal_sampler_variances`.
    Evaluated as (1 - abar_T) / v_T, the same number without the cancellation of
    1 - abar_T lam / v_T at large lam.

    Defined in :doc:`chapter 2 </book/02_linear_model>`, equation :eq:`eq-sampled-variance`.
    """
    check_schedule(schedule)
    lam = _check_lam(lam)
    abar_T = schedule.alpha_bars[-1]
    v_T = abar_T * lam + 1.0 - abar_T
    return (1.0 - abar_T) / v_T


def sampler_stop_ridge(t0, schedule: Schedule):
    """The ridge that stopping the sampler at step t0 imitates: c(t0) = (1 - abar_t0) / abar_t0.

    At step t0 the optimal linear sampler's state is, to leading order, the forward marginal
    N(sqrt(abar_t0) mu_0, abar_t0 Sigma_0 + (1 - abar_t0) Id); divided by sqrt(abar_t0) it is
    N(mu_0, Sigma_0 + c(t0) Id). c(0) = 0.

    Parameters
    ----------
    t0 : int or 1-D array of int
        Stopping steps in 0..T.
    schedule : Schedule

    Returns
    -------
    float or ndarray


    Defined in :doc:`chapter 8 </book/08_sampler_regularisation>`, equation :eq:`eq-stop-ridge`.
    """
    check_schedule(schedule)
    t0 = _check_stops(t0, schedule)
    abar = np.concatenate(([1.0], schedule.alpha_bars))[t0]
    c = (1.0 - abar) / abar
    return float(c) if np.ndim(c) == 0 else c


_OUTPUTS = ("state", "denoised")


def stopped_sampler_law(lam, schedule: Schedule, t0, output: str = "state", noise: str = "beta", last_step_noise=True):
    """Exact law of the optimal linear sampler stopped at step t0, per eigen-direction.

    For a direction of regularised training variance lam (= lambda_nu + c), with
    v_t = abar_t lam + 1 - abar_t (v_0 = lam, abar_0 = 1) and

        S(t0) = abar_T / v_T^2 + sum_{t = t0+1..T} sigma_t^2 abar_{t-1} / v_{t-1}^2,

    the two outputs of a sampler stopped at u_{t0} are Gaussian along e_nu with

    - ``output="state"``, x = u_{t0} / sqrt(abar_t0): variance (v_t0 / abar_t0)^2 S(t0), mean
      (1 - abar_T / abar_t0) / v_T (e_nu . mu_0);
    - ``output="denoised"``, Tweedie's one-step estimate
      x^_0 = (u_{t0} - sqrt(1 - abar_t0) eps(u_{t0}, t0)) / sqrt(abar_t0): variance lam^2 S(t0), mean
      (1 - abar_T) / v_T (e_nu . mu_0), the full sampler's mean.

    At t0 = 0 both are the full sampler's law (:func:`optimal_sampler_variances`). The state's variance is
    evaluated as sigma_{t0+1}^2 / abar_t0 + (v_t0 / abar_t0)^2 S'(t0) with S' the sum from t = t0 + 2,
    which never divides by v_0 = 0. Cost O(T d) for all stopping steps together.

    Parameters
    ----------
    lam : array_like, shape (d,)
        lambda_nu + c >= 0.
    schedule : Schedule
    t0 : int or 1-D array of int
        Stopping steps in 0..T (T: the starting noise).
    output : {"state", "denoised"}
    noise : {"beta", "posterior"}
        The sampler's noise variances (:func:`sampler_noise_variances`).
    last_step_noise : bool
        As in :func:`lindiff.ddpm_sample` (matters only at t0 = 0).

    Returns
    -------
    mean_factor, var : ndarray, shape (d,) for scalar t0, (len(t0), d) otherwise
        The mean along e_nu is mean_factor * (e_nu . mu_0).


    Defined in :doc:`chapter 8 </book/08_sampler_regularisation>`, equations :eq:`eq-stopped-state-law` and
    :eq:`eq-stopped-denoised-law`.
    """
    check_schedule(schedule)
    lam = check_spectrum(lam, "lam")
    if output not in _OUTPUTS:
        raise ValueError(f"output must be 'state' or 'denoised', got {output!r}")
    stops = _check_stops(t0, schedule)
    flat = np.atleast_1d(stops)
    T = schedule.T
    sig2 = _noise_variances(schedule, last_step_noise, noise)  # sigma_t^2, t = 1..T
    abar = np.concatenate(([1.0], schedule.alpha_bars))  # abar_t, t = 0..T
    v = abar[:, None] * lam + (1.0 - abar[:, None])  # v_t, t = 0..T
    v[0] = lam
    # Every v_t, and lam, enter the variances as ratios: divided by s = max(lam, 1) they neither
    # overflow when squared (lam up to 1e308) nor change for lam <= 1 (s = 1).
    s = np.maximum(lam, 1.0)
    vs = v / s
    # tail[j] for j = 2..T+1: s^2 [sum_{t = j..T} sigma_t^2 abar_{t-1} / v_{t-1}^2 + abar_T / v_T^2]
    with np.errstate(divide="ignore", invalid="ignore"):
        term = sig2[1:, None] * abar[1:T, None] / vs[1:T] ** 2  # t = 2..T
    tail = np.zeros((T + 2, lam.size))
    tail[T + 1] = abar[T] / vs[T] ** 2
    tail[2 : T + 1] = np.cumsum(term[::-1], axis=0)[::-1] + tail[T + 1]
    first = np.concatenate((sig2, [0.0]))[flat][:, None]  # sigma_{t0+1}^2 (0 at t0 = T)
    a0 = abar[flat][:, None]
    vs0 = vs[flat]
    if output == "state":
        var = first / a0 + (vs0 / a0) ** 2 * tail[np.minimum(flat + 2, T + 1)]
        mean = (1.0 - abar[T] / a0) / v[T]
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            # lam^2 S(t0) = lam^2 sigma_{t0+1}^2 abar_t0 / v_t0^2 + lam^2 S'(t0); lam / v_0 = 1
            ratio = np.where(flat[:, None] == 0, 1.0, (lam / s) / vs0)
        var = first * a0 * ratio**2 + (lam / s) ** 2 * tail[np.minimum(flat + 2, T + 1)]
        mean = (1.0 - abar[T]) / v[T]
    mean = np.broadcast_to(mean, var.shape).copy()
    check_finite_result("the stopped sampler's law", "lam is too large for float64: rescale the data", mean, var)
    return (mean[0], var[0]) if stops.ndim == 0 else (mean, var)


def stopped_sample(
    eps_model,
    schedule: Schedule,
    n: int,
    d: int,
    t0: int,
    output: str = "state",
    seed=None,
    noise: str = "beta",
    progress_bar: bool = True,
):
    """Run the ancestral sampler down to u_{t0} and return one of its two outputs there.

    ``output="state"``: x = u_{t0} / sqrt(abar_t0), the state rescaled to the data's scale;
    ``output="denoised"``: Tweedie's one-step estimate with the model's own noise prediction,
    x^_0 = (u_{t0} - sqrt(1 - abar_t0) eps_model(u_{t0}, t0)) / sqrt(abar_t0). At t0 = 0 both are
    the sampler's usual output u_0. Same seed, same u_{t0} as :func:`ddpm_sample` with ``t0``.

    Returns
    -------
    ndarray, shape (n, d)


    Defined in :doc:`chapter 8 </book/08_sampler_regularisation>`, equation :eq:`eq-stopped-outputs`.
    """
    if output not in _OUTPUTS:
        raise ValueError(f"output must be 'state' or 'denoised', got {output!r}")
    check_schedule(schedule)
    t0 = _check_stop(t0, schedule)
    u = ddpm_sample(eps_model, schedule, n, d, seed=seed, progress_bar=progress_bar, noise=noise, t0=t0)
    if t0 == 0:
        return u
    a = schedule.alpha_bars[t0 - 1]
    if output == "state":
        return u / np.sqrt(a)
    eps = eps_output(eps_model(u, t0), u.shape, t0)
    return (u - np.sqrt(1.0 - a) * eps) / np.sqrt(a)


def affine_sampler_law(weights, biases, schedule: Schedule, last_step_noise: bool = True, noise: str = "beta"):
    """Exact law of the ancestral sampler for eps(u, t) = W_t (u + b_t) with general matrices W_t.

    The step u_{t-1} = A_t u_t + o_t + sigma_t z with A_t = (Id - g_t W_t) / sqrt(alpha_t),
    o_t = -g_t W_t b_t / sqrt(alpha_t), g_t = beta_t / sqrt(1 - abar_t), is affine, so u_0 is Gaussian:

        mean_{t-1} = A_t mean_t + o_t,   cov_{t-1} = A_t cov_t A_t^T + beta_t Id,   mean_T = 0, cov_T = Id.

    The dense counterpart of :func:`lindiff.diagonal_sampler_law`, O(T d^3).

    Parameters
    ----------
    weights : array_like, shape (T, d, d)
    biases : array_like, shape (T, d)
    schedule : Schedule
    last_step_noise : bool
        As in :func:`lindiff.ddpm_sample`: False leaves out the noise of the last step t = 1.
    noise : {"beta", "posterior"}
        The sampler's noise variances (:func:`lindiff.sampler_noise_variances`).

    Returns
    -------
    mean : ndarray, shape (d,)
    cov : ndarray, shape (d, d)


    Defined in :doc:`chapter 6 </book/06_early_stopping>`: equation :eq:`eq-diagonal-sampler-law` with dense
    weights, the affine recursion :eq:`eq-affine-sampler-step` of :doc:`chapter 2 </book/02_linear_model>`.
    """
    check_schedule(schedule)
    W = as_finite_array(weights, "weights")
    b = as_finite_array(biases, "biases")
    T = schedule.T
    if W.ndim != 3 or W.shape[0] != T or W.shape[1] != W.shape[2] or b.shape != W.shape[:2]:
        raise ValueError(
            f"weights must have shape (T, d, d) and biases (T, d) with T = {T}; got {W.shape} and {b.shape}"
        )
    d = W.shape[1]
    g = schedule.betas / np.sqrt(1.0 - schedule.alpha_bars)
    variances = _noise_variances(schedule, last_step_noise, noise)
    mean, cov = np.zeros(d), np.eye(d)
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(T - 1, -1, -1):
            A = (np.eye(d) - g[i] * W[i]) / np.sqrt(schedule.alphas[i])
            mean = A @ mean - g[i] * (W[i] @ b[i]) / np.sqrt(schedule.alphas[i])
            cov = A @ cov @ A.T + variances[i] * np.eye(d)
    return check_finite_result("the sampler's law", _DIVERGES, mean, 0.5 * (cov + cov.T))


def paired_sampler_difference_law(weights_a, biases_a, weights_b, biases_b, schedule: Schedule, last_step_noise=True):
    """Exact law of u_a - u_b for two affine denoisers sampled from the SAME noise (u_T and every z_t).

    Each model's step is u_{t-1} = A_t u_t + o_t + sigma_t z_t (see :func:`affine_sampler_law`); with the
    noise shared, the pair (u_a, u_b) is jointly Gaussian and its blocks follow

        C_aa <- A C_aa A^T + s Id,  C_bb <- B C_bb B^T + s Id,  C_ab <- A C_ab B^T + s Id,

    from C_aa = C_bb = C_ab = Id at t = T (s = sigma_t^2; the same u_T for both), so that the paired
    difference is Gaussian with mean m_a - m_b and covariance C_aa + C_bb - C_ab - C_ab^T. Its mean
    squared length is ``||m_a - m_b||^2 + tr(cov)``. This is the linear model's version of Kadkhodaie et al.'s
    test: two models fitted to disjoint training sets, sampled from the same noise.

    Parameters
    ----------
    weights_a, weights_b : array_like, shape (T, d, d)
    biases_a, biases_b : array_like, shape (T, d)
        eps_a(u, t) = W_t (u + b_t), likewise for b.
    schedule : Schedule
    last_step_noise : bool
        As in :func:`lindiff.ddpm_sample`.

    Returns
    -------
    mean : ndarray, shape (d,)
    cov : ndarray, shape (d, d)


    Defined in :doc:`chapter 9 </book/09_trained_networks>`, equation :eq:`eq-paired-difference`.
    """
    check_schedule(schedule)
    T = schedule.T
    Ws, bs = [], []
    for name, W, b in (("weights_a", weights_a, biases_a), ("weights_b", weights_b, biases_b)):
        W = as_finite_array(W, name)
        b = as_finite_array(b, name.replace("weights", "biases"))
        if W.ndim != 3 or W.shape[0] != T or W.shape[1] != W.shape[2] or b.shape != W.shape[:2]:
            raise ValueError(
                f"{name} must have shape (T, d, d) and its biases (T, d) with T = {T}; got {W.shape} and {b.shape}"
            )
        Ws.append(W)
        bs.append(b)
    if Ws[0].shape != Ws[1].shape:
        raise ValueError(f"weights_a and weights_b must have the same shape, got {Ws[0].shape} and {Ws[1].shape}")
    d = Ws[0].shape[1]
    g = schedule.betas / np.sqrt(1.0 - schedule.alpha_bars)
    noise = _noise_variances(schedule, last_step_noise)
    eye = np.eye(d)
    mean_a, mean_b = np.zeros(d), np.zeros(d)
    c_aa, c_bb, c_ab = eye.copy(), eye.copy(), eye.copy()
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(T - 1, -1, -1):
            r = np.sqrt(schedule.alphas[i])
            A = (eye - g[i] * Ws[0][i]) / r
            B = (eye - g[i] * Ws[1][i]) / r
            mean_a = A @ mean_a - g[i] * (Ws[0][i] @ bs[0][i]) / r
            mean_b = B @ mean_b - g[i] * (Ws[1][i] @ bs[1][i]) / r
            c_aa = A @ c_aa @ A.T + noise[i] * eye
            c_bb = B @ c_bb @ B.T + noise[i] * eye
            c_ab = A @ c_ab @ B.T + noise[i] * eye
    cov = c_aa + c_bb - c_ab - c_ab.T
    return check_finite_result("the paired difference's law", _DIVERGES, mean_a - mean_b, 0.5 * (cov + cov.T))


def diagonal_sample(
    w,
    m,
    schedule: Schedule,
    n: int,
    seed=None,
    progress_bar: bool = True,
    last_step_noise: bool = True,
    dtype=np.float32,
    noise: str = "beta",
):
    """Run the ancestral sampler for the diagonal denoiser of :func:`diagonal_sampler_law`.

    Works in the basis coordinates, where the chain is diagonal: u_T and every z_t are drawn there
    (a rotation of an isotropic Gaussian is isotropic), and each coordinate follows
    y <- a_t y + o_t + sigma_t z, at O(T n d) cost. The T n d normal draws dominate it, so with the
    default ``dtype=float32`` the chain runs in float32 on blocks of rows that stay in cache, with
    Box-Muller normals (tails cut at 5.65 sigma), split over the available CPUs: about 1.7 s for
    d = 784, T = 1000, n = 1000 on 2 cores (``benchmarks/bench_sampler.py``). Rounding adds a
    relative error of about 1e-6 to the samples, far below the sampling error of any n that fits in
    memory; each block has its own random stream, so the samples do not depend on the number of
    CPUs. ``dtype=float64`` runs the chain in float64 with numpy's ziggurat normals, one step at a
    time over all rows (about 5 times slower). The float32 engine is a module of its own,
    ``lindiff/float32_chain.py``. ``last_step_noise`` and ``noise``: as in :func:`lindiff.ddpm_sample`.

    Returns
    -------
    ndarray, shape (n, d), float64
        Samples in the basis coordinates.


    Defined in :doc:`chapter 6 </book/06_early_stopping>`, equation :eq:`eq-diagonal-sampler-law`.
    """
    n = check_positive_int(n, "n")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be numpy.float32 or numpy.float64, got {dtype}")
    gain, offset = _step_coefficients(w, m, schedule)
    noise_sd = np.sqrt(_noise_variances(schedule, last_step_noise, noise))
    rng = np.random.default_rng(check_seed(seed))
    y = rng.standard_normal((n, gain.shape[1]))
    bar = {} if progress_bar else {"disable": True}
    if dtype == np.float32:
        y = float32_chain(gain, offset, noise_sd, y, rng, progress_bar)
        hint = _DIVERGES + " (in float32 the largest value is 3.4e38: pass dtype=numpy.float64 for larger data)"
        return check_finite_result("the samples", hint, y)
    with np.errstate(over="ignore", invalid="ignore"):
        z = np.empty_like(y)
        for i in progress(range(schedule.T - 1, -1, -1), desc="sampling", total=schedule.T, **bar):
            y *= gain[i]  # y <- a_t y + o_t + sigma_t z, in place
            y += offset[i]
            if noise_sd[i] > 0:
                rng.standard_normal(out=z)
                z *= noise_sd[i]
                y += z
    return check_finite_result("the samples", _DIVERGES, y)


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
    check_schedule(schedule)
    x0 = as_data_matrix(x0, "x0", min_rows=1)
    rng = np.random.default_rng(check_seed(seed))
    z = rng.standard_normal((schedule.T,) + x0.shape)
    path = np.empty((schedule.T + 1,) + x0.shape)
    path[0] = x0
    for i in range(schedule.T):  # sqrt(alpha_t) <= 1: a finite x0 never overflows
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
    check_schedule(schedule)
    check_eps_model(eps_model, schedule)  # recording_model below hides eps_model's own schedule
    recorded = {}

    def recording_model(u, t):
        recorded[t] = np.array(u, dtype=np.float64, copy=True)
        return eps_model(u, t)

    u0 = ddpm_sample(recording_model, schedule, n, d, seed=seed, progress_bar=progress_bar)
    return np.stack([u0] + [recorded[t] for t in range(1, schedule.T + 1)])
