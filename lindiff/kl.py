"""Every Kullback-Leibler divergence of the book, and the ridges that minimise them.

The trained linear model samples (for T -> infinity) the limit law rho_N = N(mu_0, Sigma_0 + c Id);
at finite T, or during training, it samples a Gaussian that is diagonal in the eigenbasis of Sigma_0.
The truth is rho = N(mu, Sigma). Here:

- :func:`lindiff.gaussian_kl`, the divergence of any two Gaussians, and :func:`lindiff.expected_kl`,
  its exact average over training sets for rho_N at c = 0
  (:func:`lindiff.whitened_kl_approximation`, its quadratic approximation for N >> d);
- :class:`LearnedKL` (with :func:`learned_kl`), KL(rho_N || rho) as a function of c, and
  :func:`optimal_ridge_limit_law`, the c that minimises it;
- :class:`KLToTruth`, the divergence of many laws diagonal in one basis, for the exact finite-T
  sampler: :func:`sampler_ridge_kl` against the ridge, :func:`optimal_ridge_sampler` its minimiser;
  :func:`sampler_stop_kl` against the step t0 where the sampler is stopped, :func:`optimal_sampler_stop`
  its minimiser;
- the naive measure ||Sigma_0 - Sigma||_F^2 / ||Sigma||_F^2 (:func:`naive_measure`,
  :func:`lindiff.expected_naive_measure`), governed by the participation ratio d_eff = (Tr Sigma)^2 / Tr Sigma^2:
  by it N ~ d_eff samples would do, while the divergence weighs every direction by its own
  variance and so needs N ~ d samples whatever the spectrum.

The dataset average of KL(rho_N || rho) at c > 0 is :func:`lindiff.dataset_average.averaged_kl`.
"""

from __future__ import annotations

import hashlib

import numpy as np
from scipy.optimize import brentq, minimize_scalar
from scipy.special import digamma

from ._checks import as_covariance, as_finite_array, as_mean, as_times, check_positive_int, check_psd, psd_eigh
from .linear import LinearDiffusion
from .sampler import optimal_sampler_mean_factors, optimal_sampler_variances, stopped_sampler_law
from .spectra import participation_ratio

_SERIES_FROM = 50.0  # expected_kl: the asymptotic series of digamma from this argument on


def gaussian_kl(mean_p, cov_p, mean_q, cov_q) -> float:
    """KL(p || q) for p = N(mean_p, cov_p) and q = N(mean_q, cov_q).

    KL = 1/2 [ tr(S_q^-1 S_p) - d + (m_q - m_p)^T S_q^-1 (m_q - m_p) + ln det S_q - ln det S_p ],

    evaluated in float64 in the eigenbasis (lambda_i, v_i) of S_q. With s_i = v_i^T S_p v_i, p's
    variance along v_i, x_i = s_i / lambda_i, and A the correlation matrix of S_p in that basis
    (A_ij = v_i^T S_p v_j / sqrt(s_i s_j), unit diagonal, eigenvalues a_k),

        KL = 1/2 [ sum_i (x_i - 1 - ln x_i) + sum_i (v_i . (m_q - m_p))^2 / lambda_i - sum_k ln a_k ],

    a sum of terms that are each >= 0 (sum_k ln a_k = ln det A <= 0 by Hadamard's inequality), so
    nothing cancels: graded spectra keep their accuracy (condition numbers up to about 1e12, any
    overall scale) and KL(p || p) is 0 to round-off. No inverse of a singular matrix is formed.
    Tolerances are relative to each matrix's own spectrum, with the rank tolerance of
    :func:`numpy.linalg.matrix_rank`, tol = d eps (eps the float64 machine epsilon):

    - q's null space is spanned by its eigenvectors with eigenvalue <= tol times its largest (as in
      :class:`lindiff.LinearDiffusion`); if p puts variance there (some s_i > tol times p's
      largest eigenvalue) or its mean is offset along it (by more than round-off can hide), p is
      not absolutely continuous with respect to q and the result is ``inf``;
    - otherwise both live on q's range, of dimension r, and the formula is applied there with d
      replaced by r; p is singular there, and the result ``inf``, if it has no variance along
      some v_i (s_i <= tol times p's largest eigenvalue) or A is singular (smallest a_k <= tol
      times the largest).

    So KL(rho_N || rho) is ``inf`` for an empirical covariance of rank < d, while two Gaussians on
    the same subspace get a finite divergence. Both covariances must be symmetric PSD.

    Returns
    -------
    float
        The divergence in nats, >= 0, possibly ``inf``; never NaN.


    Defined in :doc:`chapter 4 </book/04_kl_divergence>`, equation :eq:`eq-gaussian-kl`.
    """
    m_p = as_mean(mean_p, name="mean_p")
    d = m_p.size
    S_p = as_covariance(cov_p, d, name="cov_p")
    m_q = as_mean(mean_q, d, name="mean_q")
    S_q = as_covariance(cov_q, d, name="cov_q")
    check_psd(S_p, "cov_p")
    lam_q, V = psd_eigh(S_q, "cov_q")  # eigenvalues <= tol lambda_max(q) are exactly 0
    tol = d * np.finfo(np.float64).eps
    p_top = max(float(np.linalg.eigvalsh(S_p)[-1]), 0.0)  # p's largest variance
    delta = V.T @ (m_q - m_p)
    Sp_q = V.T @ S_p @ V  # S_p in q's eigenbasis
    Sp_q = 0.5 * (Sp_q + Sp_q.T)
    var = np.diag(Sp_q)
    keep = lam_q > 0
    if not np.all(keep):
        null = ~keep
        # p must put neither variance nor a mean offset on q's null space.
        length = np.sqrt(tol * max(p_top, float(lam_q[-1])))
        length += tol * max(float(np.max(np.abs(m_p))), float(np.max(np.abs(m_q))))
        if np.max(var[null]) > tol * p_top or np.max(np.abs(delta[null])) > length:
            return float("inf")
        lam_q, delta, Sp_q, var = lam_q[keep], delta[keep], Sp_q[np.ix_(keep, keep)], var[keep]
        if lam_q.size == 0:  # q is a point mass and p the same point mass
            return 0.0
    if np.min(var) <= tol * p_top:  # no variance along some eigenvector of q: p is singular
        return float("inf")
    scale = 1.0 / np.sqrt(var)
    corr_eigenvalues = np.linalg.eigvalsh(Sp_q * scale[:, None] * scale[None, :])
    if corr_eigenvalues[0] <= tol * corr_eigenvalues[-1]:
        return float("inf")
    with np.errstate(over="ignore", invalid="ignore"):
        x = var / lam_q  # inf where the ratio exceeds float64 (tiny lam_q): then the term is inf
        u = x - 1.0
        near = np.abs(u) < 0.5  # x - 1 - ln x cancels to second order there: ln x through log1p(x - 1)
        log_x = np.log(x)
        log_x[near] = np.log1p(u[near])
        terms = np.where(np.isinf(x), np.inf, u - log_x)
    total = np.sum(terms) + np.sum(delta**2 / lam_q) - np.sum(np.log(corr_eigenvalues))
    return float(max(0.5 * total, 0.0))


def expected_kl(d: int, N: int) -> float:
    """Exact average over training sets of KL(N(mu_0, Sigma_0) || N(mu, Sigma)), c = 0.

    With Sigma_0 the ddof = 0 covariance of N Gaussian samples, N Sigma^-1/2 Sigma_0 Sigma^-1/2 is
    Wishart with N - 1 degrees of freedom; the trace and mean terms average to d and cancel, so

        E KL = 1/2 [ - sum_{i=1..d} digamma((N - i) / 2) - d ln(2 / N) ]
             = 1/2 sum_{i=1..d} [ ln(N / 2) - digamma(x_i) ],   x_i = (N - i) / 2,

    independent of mu and Sigma. For N >> d only it is ~ d(d+1)/(4N) + d/(2N), the whitened quadratic
    approximation (:func:`lindiff.whitened_kl_approximation`), which falls short by a fraction
    ~ d/(3N) and stays finite as N -> d while the exact average diverges. Each term is a small
    difference of two logarithms once x_i is large, so there (x_i >= 50) it is evaluated from the
    asymptotic series of digamma, whose leading logarithm cancels exactly:

        ln(N / 2) - digamma(x) = -ln(1 - i / N) + 1/(2x) + 1/(12x^2) - 1/(120x^4) + 1/(252x^6) - 1/(240x^8) + ...

    (truncation error below 1e-19 per term), which keeps full relative precision up to N = 1e15
    and beyond.

    Returns ``inf`` for N <= d, where Sigma_0 is singular and every KL is infinite.

    Defined in :doc:`chapter 4 </book/04_kl_divergence>`, equation :eq:`eq-expected-kl`.
    """
    d = check_positive_int(d, "d")
    N = check_positive_int(N, "N", minimum=2)
    if N <= d:
        return float("inf")
    i = np.arange(1, d + 1, dtype=np.float64)
    x = (N - i) / 2.0
    big = x >= _SERIES_FROM
    terms = np.empty(d)
    xs = x[big]
    r = 1.0 / xs**2
    terms[big] = -np.log1p(-i[big] / N) + 0.5 / xs + r * (1.0 / 12 - r * (1.0 / 120 - r * (1.0 / 252 - r / 240)))
    terms[~big] = np.log(N / 2.0) - digamma(x[~big])
    return float(0.5 * np.sum(terms))


def whitened_kl_approximation(d: int, N: int) -> float:
    """The quadratic (whitened Frobenius) approximation of :func:`lindiff.expected_kl`, valid for N >> d only.

    With A = Sigma^-1/2 Sigma_0 Sigma^-1/2 - Id the error of Sigma_0 in whitened coordinates, the
    covariance part of KL(N(mu_0, Sigma_0) || N(mu, Sigma)) is 1/2 [Tr A - ln det(Id + A)] ~ 1/4 Tr A^2.
    Keeping that and the mean term exactly, and averaging (N Sigma^-1/2 Sigma_0 Sigma^-1/2 is Wishart
    with n = N - 1 degrees of freedom, identity scale: the naive measure's average with d_eff = d,
    :func:`lindiff.expected_naive_measure`),

        E [ 1/4 Tr A^2 + 1/2 delta^T Sigma^-1 delta ] = 1/4 [ d / N + (N - 1) d^2 / N^2 ] + d / (2N)
                                                      ~ d (d + 1) / (4N) + d / (2N).

    The next terms of ln det(Id + A), with the Marchenko-Pastur moments E Tr A^3 ~ d q^2 and
    E Tr A^4 ~ 2 d q^2 (q = d / N), add d q^2 / 12 to the exact average, so this approximation is low
    by a fraction ~ q / 3: within 5 % of :func:`lindiff.expected_kl` for N >= 8 d, within 10 % for
    N >= 4 d, a factor about 2 at N = d + 1, and finite for N <= d where the divergence is infinite.

    Defined in :doc:`chapter 4 </book/04_kl_divergence>`, equation :eq:`eq-whitened-kl`.
    """
    d = check_positive_int(d, "d")
    N = check_positive_int(N, "N", minimum=2)
    return float(0.25 * (d / N + (N - 1) * d**2 / N**2) + d / (2.0 * N))


def naive_measure(cov0, cov) -> float:
    """||Sigma_0 - Sigma||_F^2 / ||Sigma||_F^2 for a learned covariance ``cov0`` and the truth ``cov``.

    Defined in :doc:`chapter 4 </book/04_kl_divergence>`, equation :eq:`eq-naive-measure`.
    """
    S = as_covariance(cov, name="cov")
    S0 = as_covariance(cov0, S.shape[0], name="cov0")
    check_psd(S, "cov")
    check_psd(S0, "cov0")
    norm = np.sum(S * S)
    if norm <= 0:
        raise ValueError("cov is identically zero; the naive measure is undefined")
    return float(np.sum((S0 - S) ** 2) / norm)


def expected_naive_measure(cov_or_eigenvalues, N: int) -> float:
    """Exact average of the naive measure over training sets of N Gaussian points (ddof = 0).

    N Sigma_0 is Wishart with n = N - 1 degrees of freedom and scale Sigma, so
    E Sigma_0 = (n/N) Sigma and E Tr Sigma_0^2 = [n (n + 1) Tr Sigma^2 + n (Tr Sigma)^2] / N^2, whence

        E ||Sigma_0 - Sigma||_F^2 = Tr Sigma^2 / N + (N - 1) (Tr Sigma)^2 / N^2,

        E ||Sigma_0 - Sigma||_F^2 / ||Sigma||_F^2 = [1 + (1 - 1/N) d_eff] / N  ~  (d_eff + 1) / N,

    with d_eff = (Tr Sigma)^2 / Tr Sigma^2 the participation ratio.

    Parameters
    ----------
    cov_or_eigenvalues : array_like
        The true covariance (d, d) or its eigenvalues (d,).
    N : int
        Training-set size, >= 2.


    Defined in :doc:`chapter 4 </book/04_kl_divergence>`, equation :eq:`eq-naive-measure`.
    """
    N = check_positive_int(N, "N", minimum=2)
    d_eff = participation_ratio(cov_or_eigenvalues)
    return float((1.0 + (1.0 - 1.0 / N) * d_eff) / N)


class LearnedKL:
    """KL(N(mu_0, Sigma_0 + c Id) || N(mu, Sigma)) as a function of the ridge c, for one training set.

    In closed form in c: with lambda_nu the eigenvalues of Sigma_0 and delta = mu - mu_0,

        KL(c) = 1/2 [ Tr(Sigma^-1 Sigma_0) + c Tr Sigma^-1 - d + delta^T Sigma^-1 delta
                      + ln det Sigma - sum_nu ln(lambda_nu + c) ],

    infinite at c = 0 when Sigma_0 is singular (N <= d). The true covariance must be positive
    definite. One eigendecomposition of each matrix; every c after that costs O(d).

    Parameters
    ----------
    mean0, cov0 : array_like
        Training mean (d,) and covariance (d, d) (ddof = 0, see :func:`lindiff.empirical_stats`).
    true_mean, true_cov : array_like
        The true law's mean (d,) and positive definite covariance (d, d).


    Defined in :doc:`chapter 4 </book/04_kl_divergence>`, equation :eq:`eq-kl-learned`.
    """

    def __init__(self, mean0, cov0, true_mean, true_cov):
        m0 = as_mean(mean0, name="mean0")
        d = m0.size
        S0 = as_covariance(cov0, d, name="cov0")
        mu = as_mean(true_mean, d, name="true_mean")
        lam_true, V = psd_eigh(as_covariance(true_cov, d, name="true_cov"), "true_cov")
        if lam_true[0] <= 1e-12 * lam_true[-1]:
            raise ValueError(
                "true_cov is singular; the KL to a degenerate truth is infinite or "
                "undefined (pass a positive definite covariance)"
            )
        self.d = d
        self.eigenvalues, _ = psd_eigh(S0, "cov0")
        w = (V.T @ (mu - m0)) ** 2
        self._tr_inv = float(np.sum(1.0 / lam_true))
        # Tr(Sigma^-1 Sigma_0) + delta^T Sigma^-1 delta - d + ln det Sigma
        diag0 = np.einsum("ij,ij->j", V, S0 @ V)
        self._const = float(np.sum((diag0 + w) / lam_true) - d + np.sum(np.log(lam_true)))

    def __call__(self, c):
        """KL(c) for a ridge c >= 0 (float or array)."""
        c_arr = as_finite_array(c, "c")
        if np.any(c_arr < 0):
            raise ValueError("c must be >= 0")
        lam = self.eigenvalues[:, None] + c_arr.reshape(1, -1)
        with np.errstate(divide="ignore"):
            logdet = np.sum(np.log(lam), axis=0)
        out = 0.5 * (self._const + c_arr.reshape(-1) * self._tr_inv - logdet)
        out = np.maximum(out, 0.0).reshape(c_arr.shape)
        return float(out) if out.ndim == 0 else out

    def optimal_ridge(self) -> float:
        """The c >= 0 minimising KL(c): the root of sum_nu 1 / (lambda_nu + c) = Tr Sigma^-1.

        dKL/dc = 1/2 [ Tr Sigma^-1 - sum_nu 1/(lambda_nu + c) ] increases with c (KL is convex), so
        the root is unique; it is 0 if all lambda_nu > 0 and sum_nu 1/lambda_nu <= Tr Sigma^-1. With
        m zero eigenvalues the root lies in [m / Tr Sigma^-1, d / Tr Sigma^-1].

        Defined in :doc:`chapter 4 </book/04_kl_divergence>`, equation :eq:`eq-kl-ridge-derivative`.
        """
        lam, B, d = self.eigenvalues, self._tr_inv, self.d
        m = int(np.sum(lam == 0))
        if m == 0 and np.sum(1.0 / lam) <= B:
            return 0.0
        slope = lambda c: np.sum(1.0 / (lam + c)) - B  # noqa: E731
        return float(brentq(slope, m / B if m else 0.0, d / B, xtol=1e-14 * d / B, rtol=1e-12))


def learned_kl(mean0, cov0, true_mean, true_cov, c=0.0):
    """KL(rho_N || rho) with rho_N = N(mu_0, Sigma_0 + c Id), rho = N(mu, Sigma); see :class:`LearnedKL`.

    Defined in :doc:`chapter 4 </book/04_kl_divergence>`, equation :eq:`eq-kl-learned`.
    """
    return LearnedKL(mean0, cov0, true_mean, true_cov)(c)


def optimal_ridge_limit_law(mean0, cov0, true_mean, true_cov) -> float:
    """The ridge c >= 0 minimising KL(rho_N || rho) for the limit law rho_N = N(mu_0, Sigma_0 + c Id);
    see :class:`LearnedKL` (for the exact finite-T sampler see :func:`optimal_ridge_sampler`).

    Defined in :doc:`chapter 4 </book/04_kl_divergence>`, equation :eq:`eq-kl-ridge-derivative`.
    """
    return LearnedKL(mean0, cov0, true_mean, true_cov).optimal_ridge()


_TRUTH_CACHE: dict = {}


def _truth_eigh(cov: np.ndarray):
    """psd_eigh of the true covariance, remembered for the last few distinct matrices (a sweep over
    training sets compares many models with one truth). Keyed by the matrix's bytes."""
    key = (cov.shape, hashlib.sha1(np.ascontiguousarray(cov).tobytes()).hexdigest())
    if key not in _TRUTH_CACHE:
        if len(_TRUTH_CACHE) >= 4:
            _TRUTH_CACHE.pop(next(iter(_TRUTH_CACHE)))
        lam, U = psd_eigh(cov, "true_cov")
        lam.setflags(write=False)
        U.setflags(write=False)
        _TRUTH_CACHE[key] = (lam, U)
    return _TRUTH_CACHE[key]


class KLToTruth:
    """KL(N(V m, V diag(v) V^T) || N(mu, Sigma)) for many laws diagonal in one orthonormal basis V.

    With Q = V^T Sigma^{-1} V and delta = V^T mu - m,

        KL = 1/2 [ sum_nu Q_nunu v_nu - d + delta^T Q delta + ln det Sigma - sum_nu ln v_nu ],

    where ln det Sigma comes from Sigma's eigenvalues, computed once (O(d^3)); each law then costs
    O(d^2). If Sigma is singular every such law (all v_nu > 0) has KL = inf.

    Parameters
    ----------
    basis : ndarray, shape (d, d)
        Orthonormal columns (e.g. ``LinearDiffusion.eigenvectors``).
    true_mean, true_cov : array_like
        The truth N(mu, Sigma).


    Defined in :doc:`chapter 6 </book/06_early_stopping>`, with equation :eq:`eq-gaussian-kl` of
    :doc:`chapter 4 </book/04_kl_divergence>`.
    """

    def __init__(self, basis, true_mean, true_cov):
        V = as_finite_array(basis, "basis", ndim=2)
        d = V.shape[0]
        if V.shape != (d, d):
            raise ValueError(f"basis must be square (d, d), got {V.shape}")
        self._mu = V.T @ as_mean(true_mean, d, name="true_mean")
        lam, U = _truth_eigh(as_covariance(true_cov, d, name="true_cov"))
        self.singular = bool(lam[0] <= 1e-12 * lam[-1])
        if not self.singular:
            R = (V.T @ U) / np.sqrt(lam)
            self._Q = R @ R.T
            self._logdet = float(np.sum(np.log(lam)))
        self.d = d

    def __call__(self, mean, var):
        """KL for mean coordinates ``mean`` and variances ``var`` (shape (d,) or (n, d))."""
        mean = as_finite_array(mean, "mean")
        var = as_finite_array(var, "var")
        if mean.shape != var.shape or mean.shape[-1] != self.d or mean.ndim > 2:
            raise ValueError(f"mean and var must both have shape (d,) or (n, d) with d = {self.d}")
        if np.any(var <= 0):
            raise ValueError("var must be > 0 in every direction")
        if self.singular:
            kl = np.full(mean.shape[:-1], np.inf)
        else:
            delta = self._mu - mean
            trace = var @ np.diag(self._Q)
            maha = np.einsum("...i,ij,...j->...", delta, self._Q, delta)
            kl = 0.5 * (trace - self.d + maha + self._logdet - np.sum(np.log(var), axis=-1))
        return float(kl) if np.ndim(kl) == 0 else kl


def _ridge_laws(model: LinearDiffusion, cs):
    """Sampled laws (eigen-coordinate means and variances) of the fully trained model, ridge c in cs."""
    lams = [model.eigenvalues + c for c in np.atleast_1d(cs)]
    centre = model.eigenvectors.T @ model.mean
    return (
        np.array([optimal_sampler_mean_factors(lam, model.schedule) * centre for lam in lams]),
        np.array([optimal_sampler_variances(lam, model.schedule) for lam in lams]),
    )


def sampler_ridge_kl(model: LinearDiffusion, cs, true_mean, true_cov):
    """KL(rho_N(c) || rho) of the fully trained model with ridge c, for every c in ``cs``.

    rho_N(c) is the exact law of the finite-T sampler (:meth:`~lindiff.LinearDiffusion.sampling_distribution`),
    not its T -> infinity idealisation N(mu_0, Sigma_0 + c Id) (for which see :class:`LearnedKL`),
    so that it compares like with like with :meth:`lindiff.gradient_flow.GradientFlow.kl`. Reuses ``model``'s
    eigendecomposition of Sigma_0 (its own c is ignored); each c costs O(T d + d^2).

    Defined in :doc:`chapter 6 </book/06_early_stopping>`: the exact sampler law :eq:`eq-sampled-variance` of
    :doc:`chapter 2 </book/02_linear_model>`, scored by equation :eq:`eq-gaussian-kl` of
    :doc:`chapter 4 </book/04_kl_divergence>`.
    """
    if not isinstance(model, LinearDiffusion):
        raise ValueError("model must be a lindiff.LinearDiffusion")
    cs = as_times(cs, "cs")
    if not np.all(np.isfinite(cs)):
        raise ValueError("every c must be finite")
    kl = KLToTruth(model.eigenvectors, true_mean, true_cov)(*_ridge_laws(model, cs))
    return kl if cs.ndim else float(kl[0])


def optimal_ridge_sampler(model: LinearDiffusion, true_mean, true_cov, cs):
    """The ridge c minimising KL(rho_N(c) || rho) for the exact finite-T sampler law (see
    :func:`sampler_ridge_kl`; for the limit law see :func:`optimal_ridge_limit_law`): grid ``cs``
    (increasing, > 0), refined in log c.

    Returns
    -------
    c_star, kl_star : float


    Defined in :doc:`chapter 6 </book/06_early_stopping>`.
    """
    if not isinstance(model, LinearDiffusion):
        raise ValueError("model must be a lindiff.LinearDiffusion")
    cs = as_times(cs, "cs")
    if cs.ndim != 1 or cs.size < 3 or np.any(cs <= 0) or np.any(np.diff(cs) <= 0) or not np.all(np.isfinite(cs)):
        raise ValueError("cs must be an increasing 1-D grid of >= 3 finite ridges > 0")
    kl = KLToTruth(model.eigenvectors, true_mean, true_cov)

    def f(c):
        values = kl(*_ridge_laws(model, c))
        return values if np.ndim(c) else float(values[0])

    return refine_log_minimum(f, cs)


def refine_log_minimum(f, grid):
    """Minimise f over the grid, then by bounded Brent search in log x between the best point's
    neighbours. Returns (x*, f(x*))."""
    values = np.asarray(f(grid), dtype=np.float64)
    i = int(np.argmin(values))
    lo, hi = np.log(grid[max(i - 1, 0)]), np.log(grid[min(i + 1, grid.size - 1)])
    res = minimize_scalar(lambda u: float(f(np.exp(u))), bounds=(lo, hi), method="bounded", options={"xatol": 1e-4})
    if res.fun <= values[i]:
        return float(np.exp(res.x)), float(res.fun)
    return float(grid[i]), float(values[i])


def sampler_stop_kl(model: LinearDiffusion, t0, true_mean, true_cov, output: str = "state", noise: str = "beta"):
    """KL(rho_t0 || rho) of the fully trained model's sampler stopped at step t0, for every t0 given.

    rho_t0 is the exact law of the stopped sampler's output (:func:`lindiff.stopped_sampler_law`):
    the rescaled state u_t0 / sqrt(abar_t0) (``output="state"``) or Tweedie's one-step denoised
    estimate (``output="denoised"``), with the model's ridge c included in lam = lambda_nu + c. A law
    with variance 0 in some direction (the denoised estimate in an unseen direction, or the posterior
    noise at t0 = 0) is singular: its KL is inf. Each t0 costs O(d^2) after one O(T d) pass.

    Parameters
    ----------
    model : LinearDiffusion
    t0 : int or 1-D array of int
        Stopping steps in 0..T.
    true_mean, true_cov : array_like
        The truth N(mu, Sigma).
    output : {"state", "denoised"}
    noise : {"beta", "posterior"}

    Returns
    -------
    float for scalar t0, else ndarray


    Defined in :doc:`chapter 8 </book/08_sampler_regularisation>`: the laws :eq:`eq-stopped-state-law` and
    :eq:`eq-stopped-denoised-law`, scored by equation :eq:`eq-gaussian-kl` of
    :doc:`chapter 4 </book/04_kl_divergence>`.
    """
    if not isinstance(model, LinearDiffusion):
        raise ValueError("model must be a lindiff.LinearDiffusion")
    factor, var = stopped_sampler_law(model.eigenvalues + model.c, model.schedule, t0, output, noise)
    mean = factor * (model.eigenvectors.T @ model.mean)
    kl = KLToTruth(model.eigenvectors, true_mean, true_cov)
    regular = np.all(var > 0, axis=-1)
    if np.ndim(regular) == 0:
        return kl(mean, var) if regular else float("inf")
    out = np.full(regular.shape, np.inf)
    if np.any(regular):
        out[regular] = kl(mean[regular], var[regular])
    return out


def optimal_sampler_stop(model: LinearDiffusion, true_mean, true_cov, output: str = "state", noise: str = "beta"):
    """The stopping step t0 in 0..T minimising :func:`sampler_stop_kl`, found over every step.

    Returns
    -------
    t0_star : int
    kl_star : float


    Defined in :doc:`chapter 8 </book/08_sampler_regularisation>`, equation :eq:`eq-stopped-state-law`.
    """
    if not isinstance(model, LinearDiffusion):
        raise ValueError("model must be a lindiff.LinearDiffusion")
    steps = np.arange(model.schedule.T + 1)
    kl = sampler_stop_kl(model, steps, true_mean, true_cov, output, noise)
    i = int(np.argmin(kl))
    return int(steps[i]), float(kl[i])
