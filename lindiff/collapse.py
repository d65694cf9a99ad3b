"""Speciation and collapse of the memorising sampler (Biroli, Bonnaire, de Bortoli & Mezard 2024).

Run backwards, the exact optimum of the training loss for N points (:class:`lindiff.memorisation.EmpiricalDenoiser`)
first behaves like a sampler of the smooth law the points came from, and at some step commits to one
training point (the *collapse*). For Gaussian data N(mu, Sigma) the excess-entropy criterion of Biroli et
al. becomes, in the book's notation (a = abar_t, snr_t = a / (1 - a)),

    I_t = 1/2 sum_nu ln(1 + snr_t lambda_nu) = ln N,

where I_t is the mutual information between x_0 and x_t = sqrt(a) x_0 + sqrt(1 - a) eps: the collapse step is
where the noisy state carries just enough information (ln N nats) to single out one of N points. Before that
(larger t) the N noisy training points overlap; after it, they are separated. Earlier, for data with
structure on a large scale, the *speciation* step is where the largest variance Lambda of the data rises
above the noise, abar_t Lambda = 1 (Biroli et al.'s t_S = ln(Lambda) / 2 in their time): trajectories then
commit to a class.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from ._checks import as_finite_array, check_nonnegative, check_schedule, check_spectrum
from .mixture import GaussianMixture
from .schedule import Schedule


def noisy_information(eigenvalues, schedule: Schedule) -> np.ndarray:
    """I_t = 1/2 sum_nu ln(1 + snr_t lambda_nu), t = 1..T: the information x_t carries about x_0 ~ N(mu, Sigma).

    Evaluated with log1p; it decreases with t.

    Parameters
    ----------
    eigenvalues : array_like, shape (d,)
        The variances lambda_nu of the data (eigenvalues of Sigma), >= 0.
    schedule : Schedule

    Returns
    -------
    ndarray, shape (T,)


    Defined in :doc:`chapter 8 </book/08_sampler_regularisation>`, equation :eq:`eq-collapse-criterion`.
    """
    check_schedule(schedule)
    lam = check_spectrum(eigenvalues)
    return 0.5 * np.sum(np.log1p(schedule.snr[:, None] * lam[None, :]), axis=1)


def _crossing_step(values: np.ndarray, level: float) -> float:
    """The step t (fractional) where a decreasing sequence values[t-1] crosses ``level``, linear between steps.

    T if values_T >= level already, 0 if values_1 < level (never crossed).
    """
    T = values.size
    if values[-1] >= level:
        return float(T)
    if values[0] < level:
        return 0.0
    i = int(np.flatnonzero(values >= level)[-1])  # last step (index) still above level
    frac = (values[i] - level) / (values[i] - values[i + 1])
    return float(i + 1 + frac)


def collapse_step(eigenvalues, N, schedule: Schedule) -> float:
    """The step at which the memorising sampler for N Gaussian training points collapses: I_t = ln N.

    Biroli et al.'s excess-entropy criterion for Gaussian data in the limit of large d with ln N / d fixed
    (see the module docstring and :func:`noisy_information`). Backwards, trajectories collapse onto a training
    point below this step. Fractional steps by linear interpolation of I_t; T if I_T >= ln N (collapsed from
    the start), 0 if I_1 < ln N (never collapses within the schedule).

    Parameters
    ----------
    eigenvalues : array_like, shape (d,)
        The variances of the data.
    N : float or array_like
        Training-set size(s), >= 1.
    schedule : Schedule

    Returns
    -------
    float, or ndarray of the shape of N


    Defined in :doc:`chapter 8 </book/08_sampler_regularisation>`, equation :eq:`eq-collapse-criterion`.
    """
    info = noisy_information(eigenvalues, schedule)
    Ns = as_finite_array(N, "N")
    if np.any(Ns < 1):
        raise ValueError("N must be >= 1")
    out = np.array([_crossing_step(info, float(np.log(n))) for n in Ns.ravel()]).reshape(Ns.shape)
    return float(out) if out.ndim == 0 else out


def collapse_size(eigenvalues, step: int, schedule: Schedule) -> float:
    """The training-set size N whose collapse falls exactly at ``step``: ln N = I_step.

    A larger N collapses later in the backward run (at a smaller step): N > collapse_size keeps the sampler
    stopped at ``step`` before its collapse. For d equal variances lambda, ln N = (d / 2) ln(1 + snr lambda):
    exponential in d.

    Defined in :doc:`chapter 8 </book/08_sampler_regularisation>`, equation :eq:`eq-collapse-criterion`.
    """
    check_schedule(schedule)
    t = schedule.check_step(step)
    return float(np.exp(noisy_information(eigenvalues, schedule)[t - 1]))


def speciation_step(top_eigenvalue, schedule: Schedule) -> float:
    """The step where the largest data variance Lambda rises above the noise: abar_t Lambda = 1.

    Biroli et al.'s speciation time t_S = ln(Lambda) / 2 of the Ornstein-Uhlenbeck process (e^{-2 t} = abar_t),
    in the book's steps; fractional by linear interpolation of ln abar_t. T if abar_T Lambda >= 1 (the schedule
    starts after speciation), 0 if Lambda <= 1.

    Defined in :doc:`chapter 8 </book/08_sampler_regularisation>`, equation :eq:`eq-speciation`.
    """
    check_schedule(schedule)
    lam = check_nonnegative(top_eigenvalue, "top_eigenvalue")
    if lam <= 1.0:
        return 0.0
    log_signal = np.log(schedule.alpha_bars) + np.log(lam)  # ln(abar_t Lambda), decreasing in t
    return _crossing_step(log_signal, 0.0)


def class_posteriors(mixture: GaussianMixture, x, abar: float) -> np.ndarray:
    """P(class k | x_t = x) for x_0 from ``mixture`` at noise level abar: the responsibilities of the noised mixture.

    For the exact reverse process these are also the probabilities that a trajectory through x ends in
    class k (a martingale along the backward run), so sum_k P_k^2 is the probability that two independent
    continuations from x end in the same class.

    Returns
    -------
    ndarray, shape (n, K)


    Defined in :doc:`chapter 8 </book/08_sampler_regularisation>`, equation :eq:`eq-speciation`.
    """
    if not isinstance(mixture, GaussianMixture):
        raise ValueError("mixture must be a lindiff.mixture.GaussianMixture")
    a = check_nonnegative(abar, "abar")
    if a >= 1:
        raise ValueError(f"abar must lie in [0, 1), got {abar}")
    noised = mixture.noised(a)
    x = noised._as_points(x)
    log_comp, _ = noised._component_terms(x, noised.means, noised.eigenvalues)
    return np.exp(log_comp - logsumexp(log_comp, axis=0)).T


def blurred_training_kl(X, c: float, true_mean, true_cov, n: int = 2000, seed=0):
    """KL(p_c || N(mu, Sigma)) for the blurred training set p_c = (1/N) sum_i N(x_i, c Id), by Monte Carlo.

    p_c is the law of the exact reverse process's state at a step t0 with c = (1 - abar_t0) / abar_t0,
    rescaled by 1 / sqrt(abar_t0), for the memorising optimum. E_p[ln q] is exact (Gaussian moments);
    E_p[ln p_c] is averaged over n draws from p_c (ln p_c by logsumexp). Returns (kl, standard error).

    Defined in :doc:`chapter 8 </book/08_sampler_regularisation>`, equation :eq:`eq-blurred-training-set`.
    """
    X = as_finite_array(X, "X", ndim=2)
    N, d = X.shape
    c = check_nonnegative(c, "c")
    if c == 0:
        raise ValueError("c must be > 0: the unblurred training set has no density")
    mu = as_finite_array(true_mean, "true_mean", ndim=1)
    Sigma = as_finite_array(true_cov, "true_cov", ndim=2)
    if mu.shape != (d,) or Sigma.shape != (d, d):
        raise ValueError(f"true_mean and true_cov must have shapes ({d},) and ({d}, {d})")
    lam, U = np.linalg.eigh(0.5 * (Sigma + Sigma.T))
    if lam[0] <= 0:
        raise ValueError("true_cov must be positive definite")
    rng = np.random.default_rng(seed)
    # E_p[ln q]: mean over the N components of -1/2 [ (x_i - mu)^T S^-1 (x_i - mu) + c Tr S^-1 ] - 1/2 ln det(2 pi S)
    z = (X - mu) @ U / np.sqrt(lam)
    e_log_q = -0.5 * (np.mean(np.sum(z**2, axis=1)) + c * np.sum(1 / lam) + np.sum(np.log(2 * np.pi * lam)))
    centre = X.mean(axis=0)  # distances from centred points: no cancellation for data far from 0
    Xc = X - centre
    y = Xc[rng.integers(N, size=n)] + np.sqrt(c) * rng.standard_normal((n, d))
    sq = np.sum(y**2, 1)[:, None] - 2 * y @ Xc.T + np.sum(Xc**2, 1)[None, :]
    sq = np.maximum(sq, 0.0)
    log_p = logsumexp(-0.5 * sq / c, axis=1) - np.log(N) - 0.5 * d * np.log(2 * np.pi * c)
    return float(np.mean(log_p) - e_log_q), float(np.std(log_p) / np.sqrt(n))
