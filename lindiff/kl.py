"""Kullback-Leibler divergences between Gaussians, computed from eigenvalues."""
from __future__ import annotations

import numpy as np
from scipy.special import digamma

from ._checks import as_covariance, as_mean, check_positive_int, check_psd, psd_eigh

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
    x = var / lam_q
    u = x - 1.0
    near = np.abs(u) < 0.5  # x - 1 - ln x cancels to second order there: ln x through log1p(x - 1)
    log_x = np.log(x)
    log_x[near] = np.log1p(u[near])
    total = np.sum(u - log_x) + np.sum(delta**2 / lam_q) - np.sum(np.log(corr_eigenvalues))
    return float(max(0.5 * total, 0.0))


def expected_kl(d: int, N: int) -> float:
    """Exact average over training sets of KL(N(mu_0, Sigma_0) || N(mu, Sigma)), c = 0.

    With Sigma_0 the ddof = 0 covariance of N Gaussian samples, N Sigma^-1/2 Sigma_0 Sigma^-1/2 is
    Wishart with N - 1 degrees of freedom; the trace and mean terms average to d and cancel, so

        E KL = 1/2 [ - sum_{i=1..d} digamma((N - i) / 2) - d ln(2 / N) ]
             = 1/2 sum_{i=1..d} [ ln(N / 2) - digamma(x_i) ],   x_i = (N - i) / 2,

    independent of mu and Sigma. For large N it is ~ d(d+1)/(4N) + d/(2N). Each term is a small
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
    terms[big] = (-np.log1p(-i[big] / N) + 0.5 / xs
                  + r * (1.0 / 12 - r * (1.0 / 120 - r * (1.0 / 252 - r / 240))))
    terms[~big] = np.log(N / 2.0) - digamma(x[~big])
    return float(0.5 * np.sum(terms))
