"""Empirical statistics of a training set."""

from __future__ import annotations

from ._checks import as_data_matrix


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
    mean = X.mean(axis=0)
    Xc = X - mean
    cov = Xc.T @ Xc / (X.shape[0] - ddof)
    return mean, 0.5 * (cov + cov.T)
