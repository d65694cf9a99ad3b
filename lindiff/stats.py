"""Empirical statistics of a training set, and the law of a sample median the chapters check against."""

from __future__ import annotations

import numpy as np

from ._checks import as_data_matrix, check_nonnegative, check_positive_int


def empirical_stats(X, ddof: int = 0):
    """Empirical mean and covariance of the rows of X.

    mu_0 = (1/N) sum_i x_i,  Sigma_0 = 1/(N - ddof) sum_i (x_i - mu_0)(x_i - mu_0)^T.

    The book's Sigma_0 is the ddof = 0 (maximum-likelihood) covariance: it is the one the
    training loss of the linear denoiser is minimised by.

    Parameters
    ----------
    X : array_like, shape (N, d)
        One sample per row, N >= 2.
    ddof : {0, 1}
        Delta degrees of freedom.

    Returns
    -------
    mean : ndarray, shape (d,)
    cov : ndarray, shape (d, d)


    Defined in :doc:`chapter 2 </book/02_linear_model>` (the training covariance, ddof = 0, that minimising
    the training loss produces); conventions on :doc:`/book/notation`.
    """
    X = as_data_matrix(X)
    if ddof not in (0, 1):
        raise ValueError(f"ddof must be 0 or 1, got {ddof!r}")
    with np.errstate(over="ignore", invalid="ignore"):
        mean = X.mean(axis=0)
        Xc = X - mean
        cov = Xc.T @ Xc / (X.shape[0] - ddof)
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(cov))):
        top = float(np.max(np.abs(X)))
        raise ValueError(
            f"X is too large for float64 statistics: entries up to {top:.3g}, whose squares overflow; "
            "rescale X (e.g. divide it by its largest entry) before fitting"
        )
    return mean, 0.5 * (cov + cov.T)


def rayleigh_median(scale, n: int):
    """Median of the Rayleigh law of scale s and the standard error of the median of n draws.

    The distance r = ``|s z|`` with z ~ N(0, Id_2) has the Rayleigh density f(r) = r / s^2 exp(-r^2 / 2 s^2),
    so P(r <= m) = 1 - exp(-m^2 / 2 s^2) = 1/2 at the median m = s sqrt(2 ln 2), where f(m) = m / (2 s^2).
    The median of n independent draws is asymptotically normal about m with standard deviation

        1 / (2 f(m) sqrt(n)) = s / sqrt(2 n ln 2).

    Parameters
    ----------
    scale : float
        s > 0, the standard deviation of each of the two coordinates.
    n : int
        Number of draws whose median is taken.

    Returns
    -------
    median, standard_error : float


    Defined in :doc:`chapter 1 </book/01_diffusion_models>`, equation :eq:`eq-rayleigh-median`.
    """
    s = check_nonnegative(scale, "scale")
    if s == 0:
        raise ValueError("scale must be > 0 (the standard deviation of each coordinate), got 0")
    n = check_positive_int(n, "n")
    return s * np.sqrt(2.0 * np.log(2.0)), s / np.sqrt(2.0 * n * np.log(2.0))
