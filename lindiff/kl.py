"""Kullback-Leibler divergences between Gaussians, computed from eigenvalues."""
from __future__ import annotations

import numpy as np
from scipy.special import digamma

from ._checks import as_covariance, as_mean, check_positive_int, psd_eigh

_RTOL_SINGULAR = 1e-12


def gaussian_kl(mean_p, cov_p, mean_q, cov_q) -> float:
    """KL(p || q) for p = N(mean_p, cov_p) and q = N(mean_q, cov_q).

    KL = 1/2 [ tr(S_q^-1 S_p) - d + (m_q - m_p)^T S_q^-1 (m_q - m_p) + ln det S_q - ln det S_p ],

    evaluated in float64 in the eigenbasis of S_q, with log-determinants from eigenvalues and no
    inverse of a singular matrix. Degenerate (singular) Gaussians are handled exactly: the result is
    ``inf`` where p is not absolutely continuous with respect to q (p singular and q not, or p
    putting mass outside the support of q); where both live on the same subspace the divergence is
    computed in that subspace. Eigenvalues below 1e-12 times the largest count as zero.

    Returns
    -------
    float
        The divergence in nats, >= 0, possibly ``inf``; never NaN.
    """
    m_p = as_mean(mean_p, name="mean_p")
    d = m_p.size
    S_p = as_covariance(cov_p, d, name="cov_p")
    m_q = as_mean(mean_q, d, name="mean_q")
    S_q = as_covariance(cov_q, d, name="cov_q")
    lam_q, V = psd_eigh(S_q, "cov_q")
    scale = max(float(lam_q[-1]), float(np.max(np.diag(S_p))), 1e-300)
    keep = lam_q > _RTOL_SINGULAR * scale
    delta = V.T @ (m_q - m_p)
    Sp_q = V.T @ S_p @ V  # S_p in q's eigenbasis
    if not np.all(keep):
        null = ~keep
        # p must not put variance or mean offset on q's null space.
        if (np.max(np.abs(np.diag(Sp_q)[null])) > _RTOL_SINGULAR * scale
                or np.max(np.abs(delta[null])) > np.sqrt(_RTOL_SINGULAR * scale)):
            return float("inf")
        lam_q, delta, Sp_q = lam_q[keep], delta[keep], Sp_q[np.ix_(keep, keep)]
    lam_p = np.linalg.eigvalsh(0.5 * (Sp_q + Sp_q.T))
    if lam_p[0] <= _RTOL_SINGULAR * scale:
        return float("inf")
    r = lam_q.size
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
    """
    d = check_positive_int(d, "d")
    N = check_positive_int(N, "N", minimum=2)
    if N <= d:
        return float("inf")
    i = np.arange(1, d + 1, dtype=np.float64)
    return float(0.5 * (-np.sum(digamma((N - i) / 2.0)) - d * np.log(2.0 / N)))
