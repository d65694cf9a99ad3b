"""Kullback-Leibler divergences between Gaussians, computed from eigenvalues."""
from __future__ import annotations

import numpy as np
from scipy.special import digamma

from ._checks import as_covariance, as_mean, check_positive_int, check_psd, psd_eigh

_RTOL_SINGULAR = 1e-12


def gaussian_kl(mean_p, cov_p, mean_q, cov_q) -> float:
    """KL(p || q) for p = N(mean_p, cov_p) and q = N(mean_q, cov_q).

    KL = 1/2 [ tr(S_q^-1 S_p) - d + (m_q - m_p)^T S_q^-1 (m_q - m_p) + ln det S_q - ln det S_p ],

    evaluated in float64 in the eigenbasis of S_q, with log-determinants from eigenvalues and no
    inverse of a singular matrix. Degenerate (singular) Gaussians are handled exactly:

    - q's null space is spanned by its eigenvectors with eigenvalue <= 1e-12 times its largest;
      if p puts variance there (more than 1e-12 times p's largest variance) or its mean is offset
      along it, p is not absolutely continuous with respect to q and the result is ``inf``;
    - otherwise both live on q's range, of dimension r, and the formula is applied there with d
      replaced by r; if S_p restricted to that range is singular (smallest eigenvalue <= 1e-12
      times its largest), p is singular and q is not, and the result is ``inf``.

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
    lam_q, V = psd_eigh(S_q, "cov_q")
    delta = V.T @ (m_q - m_p)
    Sp_q = V.T @ S_p @ V  # S_p in q's eigenbasis
    p_top = max(float(np.max(np.diag(S_p))), 0.0)
    keep = lam_q > _RTOL_SINGULAR * lam_q[-1]
    if not np.all(keep):
        null = ~keep
        # p must put neither variance nor a mean offset on q's null space.
        length = np.sqrt(_RTOL_SINGULAR * max(p_top, float(lam_q[-1])))
        length += _RTOL_SINGULAR * max(float(np.max(np.abs(m_p))), float(np.max(np.abs(m_q))))
        if (np.max(np.diag(Sp_q)[null]) > _RTOL_SINGULAR * p_top
                or np.max(np.abs(delta[null])) > length):
            return float("inf")
        lam_q, delta, Sp_q = lam_q[keep], delta[keep], Sp_q[np.ix_(keep, keep)]
    r = lam_q.size
    if r == 0:  # q is a point mass and p the same point mass
        return 0.0
    lam_p = np.linalg.eigvalsh(0.5 * (Sp_q + Sp_q.T))
    if lam_p[0] <= _RTOL_SINGULAR * lam_p[-1]:
        return float("inf")
    trace = np.sum(np.diag(Sp_q) / lam_q)
    maha = np.sum(delta**2 / lam_q)
    logdet = np.sum(np.log(lam_q)) - np.sum(np.log(lam_p))
    return float(max(0.5 * (trace - r + maha + logdet), 0.0))


def expected_kl(d: int, N: int) -> float:
    """Exact average over training sets of KL(N(mu_0, Sigma_0) || N(mu, Sigma)), c = 0.

    With Sigma_0 the ddof = 0 covariance of N Gaussian samples, N Sigma^-1/2 Sigma_0 Sigma^-1/2 is
    Wishart with N - 1 degrees of freedom; the trace and mean terms average to d and cancel, so

        E KL = 1/2 [ - sum_{i=1..d} digamma((N - i) / 2) - d ln(2 / N) ],

    independent of mu and Sigma. For large N it is ~ d(d+1)/(4N) + d/(2N).

    Returns ``inf`` for N <= d, where Sigma_0 is singular and every KL is infinite.

    Defined in :doc:`chapter 4 </book/04_kl_divergence>`, equation :eq:`eq-expected-kl`.
    """
    d = check_positive_int(d, "d")
    N = check_positive_int(N, "N", minimum=2)
    if N <= d:
        return float("inf")
    i = np.arange(1, d + 1, dtype=np.float64)
    return float(0.5 * (-np.sum(digamma((N - i) / 2.0)) - d * np.log(2.0 / N)))
