"""Covariance spectra: power laws, random rotations and the participation ratio."""
from __future__ import annotations

import numpy as np

from ._checks import as_covariance, as_finite_array, check_nonnegative, check_positive_int, check_psd


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
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def rotated_covariance(eigenvalues, seed=0) -> np.ndarray:
    """Sigma = O diag(eigenvalues) O^T with a Haar-random rotation O (see :func:`random_rotation`).

    Defined in :doc:`chapter 3 </book/03_train_test_loss>`.
    """
    lam = as_finite_array(eigenvalues, "eigenvalues", ndim=1)
    if np.any(lam < 0):
        raise ValueError("eigenvalues must be >= 0 (variances cannot be negative)")
    O = random_rotation(lam.size, seed)
    cov = (O * lam) @ O.T
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


    Defined in :doc:`chapter 5 </book/05_real_images>`, equation :eq:`eq-participation-ratio`.
    """
    arr = as_finite_array(x, "x")
    if arr.ndim == 1:
        if arr.size == 0:
            raise ValueError("x is empty; pass eigenvalues or a covariance matrix")
        if np.any(arr < 0):
            raise ValueError("eigenvalues must be >= 0 (variances cannot be negative)")
        s1, s2 = arr.sum(), np.sum(arr**2)
    elif arr.ndim == 2:
        cov = as_covariance(arr, name="x")
        check_psd(cov, "x")
        s1, s2 = np.trace(cov), np.sum(cov * cov)
    else:
        raise ValueError(f"x must be 1-D eigenvalues or a 2-D covariance, got shape {arr.shape}")
    if s2 <= 0:
        raise ValueError("x is identically zero; the participation ratio is undefined")
    return float(s1**2 / s2)
