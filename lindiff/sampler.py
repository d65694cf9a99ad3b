"""The DDPM ancestral sampler and every law it produces.

u_T ~ N(0, Id),  u_{t-1} = ( u_t - beta_t / sqrt(1 - abar_t) eps(u_t, t) ) / sqrt(alpha_t) + sigma_t z_t.

For an affine denoiser the sampler is affine and its output Gaussian. Its law is here in three
forms: telescoped in closed form at the optimum of the linear model (:func:`optimal_sampler_variances`,
:func:`optimal_sampler_mean_factors`), by a scalar recursion for any denoiser diagonal in a fixed
basis (:func:`lindiff.diagonal_sampler_law`), and by the dense recursion for general matrices
(:func:`affine_sampler_law`). The forward chain and the sampler are also recorded step by step
(:func:`forward_trajectories`, :func:`sampler_trajectories`), for drawing their paths; the forward
chain x_t = sqrt(alpha_t) x_{t-1} + sqrt(beta_t) z_t has the marginal x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._checks import as_data_matrix, as_finite_array, check_eps_model, check_positive_int, check_seed, eps_output
from .progress import progress
from .schedule import Schedule


def ddpm_sample(
    eps_model, schedule: Schedule, n: int, d: int, seed=None, progress_bar: bool = True, last_step_noise: bool = True
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
        if t > 1 or last_step_noise:
            u = u + np.sqrt(betas[i]) * rng.standard_normal((n, d))
    if not np.all(np.isfinite(u)):
        raise ValueError(
            "the samples overflowed to NaN or inf although eps_model's output stayed finite; "
            "eps_model is not a usable denoiser for this schedule"
        )
    return u


def _check_schedule(schedule) -> None:
    if not isinstance(schedule, Schedule):
        raise ValueError(f"schedule must be a lindiff.Schedule (e.g. Schedule.linear()), got {type(schedule).__name__}")


def _noise_variances(schedule: Schedule, last_step_noise: bool) -> np.ndarray:
    """sigma_t^2 = beta_t added at steps t = 1..T, with sigma_1^2 = 0 when ``last_step_noise`` is False."""
    noise = schedule.betas.copy()
    if not last_step_noise:
        noise[0] = 0.0
    return noise


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


def diagonal_sampler_law(w, m, schedule: Schedule, last_step_noise: bool = True):
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

    Returns
    -------
    mean, var : ndarray, shape (d,)
        Mean and variance of each coordinate of u_0 in the basis (coordinates are independent).


    Defined in :doc:`chapter 6 </book/06_early_stopping>`, equation :eq:`eq-diagonal-sampler-law`.
    """
    gain, offset = _step_coefficients(w, m, schedule)
    mean = np.zeros(gain.shape[1:])
    var = np.ones(gain.shape[1:])
    noise = _noise_variances(schedule, last_step_noise)
    for i in range(schedule.T - 1, -1, -1):
        mean = gain[i] * mean + offset[i]
        var = gain[i] ** 2 * var + noise[i]
    return mean, var


def optimal_sampler_variances(lam, schedule: Schedule, last_step_noise: bool = True) -> np.ndarray:
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


    Defined in :doc:`chapter 2 </book/02_linear_model>`, equation :eq:`eq-sampled-variance`.
    """
    ab = schedule.alpha_bars[:, None]
    ratio = ab * lam
    ratio += 1.0 - ab
    np.divide(lam, ratio, out=ratio)  # lam / v_t for t = 1..T
    np.square(ratio, out=ratio)
    # coef_t = beta_{t+1} abar_t for t = 1..T-1 (terms t+1 = 2..T of the sum), abar_T for t = T
    coef = np.append(schedule.betas[1:] * schedule.alpha_bars[:-1], schedule.alpha_bars[-1])
    return _noise_variances(schedule, last_step_noise)[0] + coef @ ratio


def optimal_sampler_mean_factors(lam, schedule: Schedule) -> np.ndarray:
    """Mean of the sampler output along e_nu over e_nu . mu_0, for the optimal linear denoiser:
    1 - abar_T lam / v_T.

    lam = lambda_nu + c and v_T = abar_T lam + 1 - abar_T, as in :func:`optimal_sampler_variances`.
    Evaluated as (1 - abar_T) / v_T, the same number without the cancellation of
    1 - abar_T lam / v_T at large lam.

    Defined in :doc:`chapter 2 </book/02_linear_model>`, equation :eq:`eq-sampled-variance`.
    """
    abar_T = schedule.alpha_bars[-1]
    v_T = abar_T * lam + 1.0 - abar_T
    return (1.0 - abar_T) / v_T


def affine_sampler_law(weights, biases, schedule: Schedule, last_step_noise: bool = True):
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

    Returns
    -------
    mean : ndarray, shape (d,)
    cov : ndarray, shape (d, d)


    Defined in :doc:`chapter 6 </book/06_early_stopping>`: equation :eq:`eq-diagonal-sampler-law` with dense
    weights, the affine recursion :eq:`eq-affine-sampler-step` of :doc:`chapter 2 </book/02_linear_model>`.
    """
    _check_schedule(schedule)
    W = as_finite_array(weights, "weights")
    b = as_finite_array(biases, "biases")
    T = schedule.T
    if W.ndim != 3 or W.shape[0] != T or W.shape[1] != W.shape[2] or b.shape != W.shape[:2]:
        raise ValueError(
            f"weights must have shape (T, d, d) and biases (T, d) with T = {T}; got {W.shape} and {b.shape}"
        )
    d = W.shape[1]
    g = schedule.betas / np.sqrt(1.0 - schedule.alpha_bars)
    noise = _noise_variances(schedule, last_step_noise)
    mean, cov = np.zeros(d), np.eye(d)
    for i in range(T - 1, -1, -1):
        A = (np.eye(d) - g[i] * W[i]) / np.sqrt(schedule.alphas[i])
        mean = A @ mean - g[i] * (W[i] @ b[i]) / np.sqrt(schedule.alphas[i])
        cov = A @ cov @ A.T + noise[i] * np.eye(d)
    return mean, 0.5 * (cov + cov.T)


def paired_sampler_difference_law(weights_a, biases_a, weights_b, biases_b, schedule: Schedule, last_step_noise=True):
    """Exact law of u_a - u_b for two affine denoisers sampled from the SAME noise (u_T and every z_t).

    Each model's step is u_{t-1} = A_t u_t + o_t + sigma_t z_t (see :func:`affine_sampler_law`); with the
    noise shared, the pair (u_a, u_b) is jointly Gaussian and its blocks follow

        C_aa <- A C_aa A^T + s Id,  C_bb <- B C_bb B^T + s Id,  C_ab <- A C_ab B^T + s Id,

    from C_aa = C_bb = C_ab = Id at t = T (s = sigma_t^2; the same u_T for both), so that the paired
    difference is Gaussian with mean m_a - m_b and covariance C_aa + C_bb - C_ab - C_ab^T. Its mean
    squared length is |m_a - m_b|^2 + tr(cov). This is the linear model's version of Kadkhodaie et al.'s
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


    Defined in :doc:`chapter 8 </book/08_trained_networks>`, equation :eq:`eq-paired-difference`.
    """
    _check_schedule(schedule)
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
    return mean_a - mean_b, 0.5 * (cov + cov.T)


_BLOCK_ELEMENTS = 1 << 17  # at most this many entries in a block of rows of the chain (512 KB in float32)
_BLOCK_MULTIPLE = 4  # the number of blocks is a multiple of 4: an even load on 1, 2 or 4 CPUs
_EXPONENT_ONE = np.uint32(0x3F800000)  # the bits of 1.0f: or-ed with 23 random mantissa bits, [1, 2)
_TWO_PI32 = np.float32(2.0 * np.pi)


def _fill_normal32(bitgen: np.random.BitGenerator, out: np.ndarray, angle: np.ndarray, scale: float) -> None:
    """Fill the flat float32 array ``out`` (size 2 h) with scale * z, z i.i.d. standard normal (Box-Muller).

    Each 64-bit word of ``bitgen`` gives two 23-bit uniforms u in (0, 1] and v in [0, 1), and each
    pair the two independent normals sqrt(-2 ln u) (cos 2 pi v, sin 2 pi v) (Box & Muller 1958), all
    in vectorised float32 ufuncs: about twice as fast as numpy's float32 ziggurat on 2 cores. The
    23-bit uniforms cut the tails at |z| = sqrt(46 ln 2) = 5.65, where the normal has mass 1.6e-8.
    ``angle`` is a float32 scratch array of size h.
    """
    half = angle.size
    bits = bitgen.random_raw(half).view(np.uint32)
    radius, angle_bits, radius_bits = out[:half], angle.view(np.uint32), out[:half].view(np.uint32)
    np.right_shift(bits[half:], 9, out=angle_bits)  # 23 random mantissa bits under the exponent of 1:
    angle_bits |= _EXPONENT_ONE  # 1 + v, an exact uniform on a 2^-23 grid of [1, 2)
    angle *= _TWO_PI32  # 2 pi (1 + v): the same angle as 2 pi v
    np.right_shift(bits[:half], 9, out=radius_bits)
    radius_bits |= _EXPONENT_ONE
    np.subtract(np.float32(2.0), radius, out=radius)  # u = 2 - (1 + v') in (0, 1]
    np.log(radius, out=radius)
    radius *= np.float32(-2.0 * scale * scale)
    np.sqrt(radius, out=radius)  # scale sqrt(-2 ln u)
    np.sin(angle, out=out[half:])
    out[half:] *= radius
    np.cos(angle, out=angle)
    radius *= angle


def _run_chain32(gain, offset, noise_sd, y: np.ndarray, bitgen: np.random.BitGenerator) -> None:
    """y <- gain_t y + offset_t + noise_sd_t z for t = T..1, in place on the float32 rows y."""
    z = np.empty(y.size + y.size % 2, dtype=np.float32)
    angle = np.empty(z.size // 2, dtype=np.float32)
    noise = z[: y.size].reshape(y.shape)
    for i in range(gain.shape[0] - 1, -1, -1):
        y *= gain[i]
        y += offset[i]
        if noise_sd[i] > 0:
            _fill_normal32(bitgen, z, angle, noise_sd[i])
            y += noise


def _worker_count() -> int:
    """The CPUs this process may use (threads of the sampler: numpy's ufuncs release the GIL)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def diagonal_sample(
    w,
    m,
    schedule: Schedule,
    n: int,
    seed=None,
    progress_bar: bool = True,
    last_step_noise: bool = True,
    dtype=np.float32,
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
    time over all rows (about 5 times slower). ``last_step_noise``: as in :func:`lindiff.ddpm_sample`.

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
    noise_sd = np.sqrt(_noise_variances(schedule, last_step_noise))
    rng = np.random.default_rng(check_seed(seed))
    y = rng.standard_normal((n, gain.shape[1]))
    bar = {} if progress_bar else {"disable": True}
    if dtype == np.float64:
        z = np.empty_like(y)
        for i in progress(range(schedule.T - 1, -1, -1), desc="sampling", total=schedule.T, **bar):
            y *= gain[i]  # y <- a_t y + o_t + sigma_t z, in place
            y += offset[i]
            if noise_sd[i] > 0:
                rng.standard_normal(out=z)
                z *= noise_sd[i]
                y += z
        return y
    y32 = y.astype(np.float32)
    gain32, offset32 = gain.astype(np.float32), offset.astype(np.float32)
    n_blocks = -(-n * gain.shape[1] // _BLOCK_ELEMENTS)
    rows = -(-n // (_BLOCK_MULTIPLE * -(-n_blocks // _BLOCK_MULTIPLE)))
    blocks = [y32[start : start + rows] for start in range(0, n, rows)]
    streams = np.random.SeedSequence(rng.integers(0, 2**63, size=2)).spawn(len(blocks))
    with ThreadPoolExecutor(min(_worker_count(), len(blocks))) as pool:
        runs = pool.map(
            lambda job: _run_chain32(gain32, offset32, noise_sd, job[0], np.random.SFC64(job[1])),
            zip(blocks, streams),
        )
        for _ in progress(runs, desc="sampling", total=len(blocks), unit="block", **bar):
            pass
    return y32.astype(np.float64)


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
    _check_schedule(schedule)
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
    _check_schedule(schedule)
    check_eps_model(eps_model, schedule)  # recording_model below hides eps_model's own schedule
    recorded = {}

    def recording_model(u, t):
        recorded[t] = np.array(u, dtype=np.float64, copy=True)
        return eps_model(u, t)

    u0 = ddpm_sample(recording_model, schedule, n, d, seed=seed, progress_bar=progress_bar)
    return np.stack([u0] + [recorded[t] for t in range(1, schedule.T + 1)])
