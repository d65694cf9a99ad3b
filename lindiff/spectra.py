"""Covariance spectra: power laws, random rotations, the participation ratio and power-law fits."""

from __future__ import annotations

import numpy as np

from ._checks import (
    as_covariance,
    as_finite_array,
    check_nonnegative,
    check_positive_int,
    check_psd,
    check_seed,
    check_spectrum,
)


def power_law_spectrum(d: int, k: float, trace: float | None = None) -> np.ndarray:
    """Eigenvalues lambda_nu = C nu^{-k}, nu = 1..d, with C fixed by sum_nu lambda_nu = ``trace``.

    Parameters
    ----------
    d : int
        Dimension.
    k : float
        Decay exponent (k = 0 is isotropic).
    trace : float, optional
        Sum of the eigenvalues; default ``d`` (unit variance per dimension on average).

    Returns
    -------
    ndarray, shape (d,)
        Decreasing eigenvalues.


    Defined in :doc:`chapter 3 </book/03_train_test_loss>`.
    """
    d = check_positive_int(d, "d")
    k = check_nonnegative(k, "k")
    trace = float(d) if trace is None else check_nonnegative(trace, "trace")
    if trace <= 0:
        raise ValueError(f"trace must be a finite number > 0, got {trace!r}")
    nu = np.arange(1, d + 1, dtype=np.float64)
    lam = nu ** (-k)
    return lam * (trace / lam.sum())


def random_rotation(d: int, seed=0) -> np.ndarray:
    """A Haar-random d x d orthogonal matrix (QR of a Gaussian matrix with the sign fix).

    Defined in :doc:`chapter 3 </book/03_train_test_loss>`.
    """
    d = check_positive_int(d, "d")
    rng = np.random.default_rng(check_seed(seed))
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def rotated_covariance(eigenvalues, seed=0) -> np.ndarray:
    """Sigma = O diag(eigenvalues) O^T with a Haar-random rotation O (see :func:`random_rotation`).

    Defined in :doc:`chapter 3 </book/03_train_test_loss>`.
    """
    lam = check_spectrum(eigenvalues)
    Q = random_rotation(lam.size, seed)
    cov = (Q * lam) @ Q.T
    return 0.5 * (cov + cov.T)


def participation_ratio(x) -> float:
    """d_eff = (sum_nu lambda_nu)^2 / sum_nu lambda_nu^2.

    Parameters
    ----------
    x : array_like
        Either a 1-D array of eigenvalues (>= 0) or a 2-D symmetric PSD covariance matrix, for
        which d_eff = (Tr Sigma)^2 / Tr Sigma^2 (no eigendecomposition needed; positive
        semi-definiteness is checked with a Cholesky factorisation).

    Returns
    -------
    float
        Between 1 (one non-zero eigenvalue) and d (isotropic).

    Notes
    -----
    The ratio is scale-free, so ``x`` is first divided by its largest absolute entry: the sums of
    squares neither overflow (eigenvalues near 1e160) nor underflow (near 1e-170).


    Defined in :doc:`chapter 5 </book/05_real_images>`, equation :eq:`eq-participation-ratio`.
    """
    arr = as_finite_array(x, "x")
    if arr.ndim == 1:
        if arr.size == 0:
            raise ValueError("x is empty; pass eigenvalues or a covariance matrix")
        if np.any(arr < 0):
            raise ValueError("eigenvalues must be >= 0 (variances cannot be negative)")
    elif arr.ndim == 2:
        arr = as_covariance(arr, name="x")
        check_psd(arr, "x")
    else:
        raise ValueError(f"x must be 1-D eigenvalues or a 2-D covariance, got shape {arr.shape}")
    top = float(np.max(np.abs(arr)))
    if top == 0:
        raise ValueError("x is identically zero; the participation ratio is undefined")
    arr = arr / top
    s1, s2 = (arr.sum(), np.sum(arr**2)) if arr.ndim == 1 else (np.trace(arr), np.sum(arr * arr))
    return float(s1**2 / s2)


def fit_power_law(eigenvalues, window=(10, 100)):
    """Least-squares fit of lambda_nu = C nu^{-k} over the ranks nu in ``window``.

    The eigenvalues are rank-ordered (sorted descending, nu = 1 the largest) and the straight line
    ln lambda_nu = ln C - k ln nu is fitted to nu = window[0] .. window[1] (inclusive).

    Returns
    -------
    k : float
        The decay exponent.
    C : float
        The prefactor.


    Defined in :doc:`chapter 5 </book/05_real_images>`, equation :eq:`eq-power-law-fit`.
    """
    lam = np.sort(check_spectrum(eigenvalues))[::-1]
    lo, hi = (check_positive_int(v, "window") for v in window)
    if not lo < hi <= lam.size:
        raise ValueError(f"window must satisfy 1 <= lo < hi <= {lam.size}, got {window}")
    sel = lam[lo - 1 : hi]
    if np.any(sel <= 0):
        raise ValueError("the window contains zero eigenvalues; choose ranks with positive variance")
    slope, intercept = np.polyfit(np.log(np.arange(lo, hi + 1)), np.log(sel), 1)
    return float(-slope), float(np.exp(intercept))
