"""How close is the learned law to the truth? The naive Frobenius measure, the KL, the best ridge.

The trained linear model samples (for T -> infinity) rho_N = N(mu_0, Sigma_0 + c Id); the truth is
rho = N(mu, Sigma). Two ways to score it:

- the naive measure ||Sigma_0 - Sigma||_F^2 / ||Sigma||_F^2, whose average for Gaussian data is
  governed by the participation ratio d_eff = (Tr Sigma)^2 / Tr Sigma^2;
- the divergence KL(rho_N || rho), which weighs every direction by its own variance and so needs
  N ~ d samples whatever the spectrum.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from ._checks import as_covariance, as_finite_array, as_mean, check_positive_int, check_psd, psd_eigh
from .spectra import participation_ratio


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
            raise ValueError("true_cov is singular; the KL to a degenerate truth is infinite or "
                             "undefined (pass a positive definite covariance)")
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


def optimal_ridge(mean0, cov0, true_mean, true_cov) -> float:
    """The ridge c >= 0 minimising KL(N(mu_0, Sigma_0 + c Id) || N(mu, Sigma)); see :class:`LearnedKL`.

    Defined in :doc:`chapter 4 </book/04_kl_divergence>`, equation :eq:`eq-kl-ridge-derivative`.
    """
    return LearnedKL(mean0, cov0, true_mean, true_cov).optimal_ridge()
