"""Covariance spectra of the preprocessed data sets, cached on disk (:mod:`lindiff.data.cache`)."""

from __future__ import annotations

import numpy as np

from .._checks import psd_eigh
from ..stats import empirical_stats
from . import cache
from .preprocessing import load_raw, preprocessing_settings
from .readers import RawSplit, raw_split


def _covariance_inputs(name, split, n, resolution, crop, colour, scale, data_dir):
    """The raw files and preprocessing settings of a covariance computation (n >= 2 images)."""
    if n is not None and n < 2:
        raise ValueError(f"a covariance needs at least n = 2 images, got n = {n}")
    return raw_split(name, split, n, data_dir), preprocessing_settings(name, resolution, crop, colour, scale)


def _key(raw: RawSplit, settings: dict, **extra) -> dict:
    """Cache key: the checksum of the files read, split, n and preprocessing (the package's source is
    added by :func:`~lindiff.data.cache.cached_arrays`)."""
    return {
        "data": raw.digest,
        "name": raw.name,
        "split": raw.split,
        "n": raw.n,
        **settings,
        **extra,
    }


def dataset_spectrum(
    name: str,
    split: str | None = None,
    *,
    n: int | None = None,
    resolution=None,
    crop=None,
    colour: bool = False,
    scale: str = "pm1",
    data_dir=None,
):
    """Mean and covariance eigendecomposition of a preprocessed data set, cached on disk.

    Sigma_0 = (1/N) sum_i (x_i - mu_0)(x_i - mu_0)^T (ddof = 0, the book's convention), with the
    arguments of :func:`load_dataset`. The result is stored in the cache (:mod:`lindiff.data.cache`)
    under a key made of the data files' checksum, the split, n, every preprocessing setting and the
    source of the package (:func:`lindiff.data.cache.package_digest`); any other call recomputes.

    Returns
    -------
    mean : ndarray, shape (d,)
    eigenvalues : ndarray, shape (d,)
        **Ascending**, like :class:`lindiff.LinearDiffusion` and ``numpy.linalg.eigh``; values
        within round-off of zero are exactly 0 (see ``lindiff._checks.psd_eigh``). Use
        ``eigenvalues[::-1]`` for the rank-ordered spectrum.
    eigenvectors : ndarray, shape (d, d)
        Columns, matching ``eigenvalues``. ``LinearDiffusion(mean, eigenvalues, eigenvectors,
        schedule, c)`` is the trained linear model.


    Defined in :doc:`chapter 5 </book/05_real_images>`.
    """
    raw, settings = _covariance_inputs(name, split, n, resolution, crop, colour, scale, data_dir)

    def compute():
        X, _ = load_raw(raw, settings)
        mean, cov = empirical_stats(X, ddof=0)
        del X
        evals, evecs = psd_eigh(cov, f"covariance of {name}")
        return {"mean": mean, "eigenvalues": evals, "eigenvectors": evecs}

    out = cache.cached_arrays("spectrum", _key(raw, settings), compute)
    return out["mean"], out["eigenvalues"], out["eigenvectors"]


def dataset_participation_ratio(
    name: str,
    split: str | None = None,
    *,
    n: int | None = None,
    resolution=None,
    crop=None,
    colour: bool = False,
    scale: str = "pm1",
    data_dir=None,
    centre: bool = True,
    standardise: bool = False,
) -> float:
    """d_eff = (Tr M)^2 / Tr M^2 of a preprocessed data set's second-moment matrix M, cached on disk.

    M is the covariance Sigma_0 (``centre=True``, ddof = 0) or the uncentred second moment
    (1/N) sum_i x_i x_i^T (``centre=False``, which depends on the offset set by ``scale``). With
    ``standardise=True`` every pixel is first divided by its standard deviation (M becomes the
    correlation matrix when centred); pixels of zero variance are dropped. Tr M^2 = ||M||_F^2, so
    no eigendecomposition is needed. Other arguments as in :func:`load_dataset`.

    Defined in :doc:`chapter 5 </book/05_real_images>`, equation :eq:`eq-participation-ratio`.
    """
    raw, settings = _covariance_inputs(name, split, n, resolution, crop, colour, scale, data_dir)

    def compute():
        X, _ = load_raw(raw, settings)
        if centre:
            X -= X.mean(axis=0)
        if standardise:
            sd = X.std(axis=0)
            X = X[:, sd > 0] / sd[sd > 0]
        M = X.T @ X / X.shape[0]
        return {"d_eff": np.trace(M) ** 2 / np.sum(M * M)}

    key = _key(raw, settings, centre=bool(centre), standardise=bool(standardise))
    return float(cache.cached_arrays("participation", key, compute)["d_eff"])
