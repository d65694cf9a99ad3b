"""The linear diffusion model on real images: spectrum fits, Gaussian predictions, image grids.

Tools of the chapter "How structured are images?": a power-law fit of a rank-ordered spectrum, the
Gaussian surrogate (what the theory predicts if the data were Gaussian with a given covariance),
learning curves of the linear model on real images, and image mosaics.
"""
from __future__ import annotations

import sys

import numpy as np

from . import _checks, cache, data
from . import kl as _kl, linear as _linear, losses as _losses, stats as _stats
from ._checks import as_finite_array, check_nonnegative, check_positive_int
from ._progress import progress
from .kl import gaussian_kl, naive_measure
from .linear import LinearDiffusion
from .schedule import Schedule
from .stats import empirical_stats


def _eigenvalues(eigenvalues, name="eigenvalues") -> np.ndarray:
    lam = as_finite_array(eigenvalues, name, ndim=1)
    if lam.size == 0 or np.any(lam < 0):
        raise ValueError(f"{name} must be a non-empty array of variances >= 0")
    return lam


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
    lam = np.sort(_eigenvalues(eigenvalues))[::-1]
    lo, hi = (check_positive_int(v, "window") for v in window)
    if not lo < hi <= lam.size:
        raise ValueError(f"window must satisfy 1 <= lo < hi <= {lam.size}, got {window}")
    sel = lam[lo - 1:hi]
    if np.any(sel <= 0):
        raise ValueError("the window contains zero eigenvalues; choose ranks with positive variance")
    slope, intercept = np.polyfit(np.log(np.arange(lo, hi + 1)), np.log(sel), 1)
    return float(-slope), float(np.exp(intercept))


def gaussian_surrogate(eigenvalues, Ns, schedule: Schedule, cs=(0.0,), reps: int = 2, seed: int = 0) -> dict:
    """What the theory predicts for Gaussian data N(mu, Sigma) with the spectrum ``eigenvalues``.

    For every N in ``Ns`` and repetition, draw N points from N(0, diag(lambda)) (the losses and the
    KL are invariant under rotations and shifts, so the eigenbasis of Sigma and mu = 0 lose no
    generality), fit the linear model (ddof = 0 statistics) and record, for each ridge c in ``cs``:

    - ``train_loss``, ``test_loss``: :meth:`~lindiff.LinearDiffusion.train_loss` and ``test_loss(mu, Sigma)``,
      summed over the T steps;
    - ``kl``: KL(N(mu_0, Sigma_0 + c Id) || N(mu, Sigma)) (:func:`lindiff.gaussian_kl`), computed in
      the r-dimensional support of Sigma (the directions with lambda > 0; the truth puts no mass
      elsewhere, so this is the only place a finite KL can live); ``inf`` for c = 0 and N <= r;
    - ``cov_error``: the naive measure ||Sigma_0 - Sigma||_F^2 / ||Sigma||_F^2
      (:func:`lindiff.naive_measure`), independent of c.

    Results are cached on disk (:func:`lindiff.cache.cached_arrays`), keyed by the spectrum, the
    schedule and every argument.

    Returns
    -------
    dict of ndarray
        ``train_loss``, ``test_loss``, ``kl`` of shape (len(cs), len(Ns), reps); ``cov_error`` of
        shape (len(Ns), reps); ``Ns``, ``cs`` as passed.


    Defined in :doc:`chapter 5 </book/05_real_images>`.
    """
    lam = _eigenvalues(eigenvalues)
    Ns = [check_positive_int(N, "N", minimum=2) for N in Ns]
    cs = [check_nonnegative(c, "c") for c in cs]
    reps = check_positive_int(reps, "reps")
    seed = check_positive_int(seed, "seed", minimum=0)
    if not isinstance(schedule, Schedule):
        raise ValueError("schedule must be a lindiff.Schedule")
    support = lam > 0
    Sigma = np.diag(lam)
    Sigma_s = np.diag(lam[support])
    zero = np.zeros(lam.size)

    def compute():
        rng = np.random.default_rng(seed)
        shape = (len(cs), len(Ns), reps)
        out = {"train_loss": np.empty(shape), "test_loss": np.empty(shape), "kl": np.empty(shape),
               "cov_error": np.empty((len(Ns), reps))}
        for j, N in enumerate(progress(Ns, desc="Gaussian surrogate")):
            for r in range(reps):
                X = rng.standard_normal((N, lam.size)) * np.sqrt(lam)
                mu0, S0 = empirical_stats(X, ddof=0)
                out["cov_error"][j, r] = naive_measure(S0, Sigma)
                base = LinearDiffusion.from_stats(mu0, S0, schedule)
                S0_s = S0[np.ix_(support, support)]
                for i, c in enumerate(cs):
                    model = LinearDiffusion(base.mean, base.eigenvalues, base.eigenvectors, schedule, c)
                    out["train_loss"][i, j, r] = model.train_loss()
                    out["test_loss"][i, j, r] = model.test_loss(zero, Sigma)
                    out["kl"][i, j, r] = gaussian_kl(mu0[support], S0_s + c * np.eye(S0_s.shape[0]),
                                                     zero[support], Sigma_s)
        return out

    key = {"spectrum": cache.arrays_digest({"eigenvalues": lam}),
           "schedule": cache.arrays_digest({"betas": schedule.betas}), "Ns": Ns, "cs": cs,
           "reps": reps, "seed": seed,
           "code": cache.source_digest(sys.modules[__name__], _linear, _losses, _kl, _stats, _checks)}
    out = cache.cached_arrays("surrogate", key, compute)
    out.update(Ns=np.array(Ns), cs=np.array(cs))
    return out


def learning_curve(name: str, Ns, true_mean, true_cov, schedule: Schedule, cs=(0.0,), **preprocessing) -> dict:
    """Train and test loss of the linear model fitted on the first N images of a real data set.

    For each N the model is built from :func:`lindiff.data.dataset_spectrum` (cached) with
    ``n=N`` and the given preprocessing; the test loss is :meth:`~lindiff.LinearDiffusion.test_loss` with the
    test distribution's mean and covariance, which is exact for any test distribution with those
    two moments (the loss is quadratic in x_0), in particular for the empirical distribution of a
    held-out set.

    Returns
    -------
    dict of ndarray
        ``train_loss``, ``test_loss`` of shape (len(cs), len(Ns)), summed over the T steps.


    Defined in :doc:`chapter 5 </book/05_real_images>`.
    """
    Ns = [check_positive_int(N, "N", minimum=2) for N in Ns]
    cs = [check_nonnegative(c, "c") for c in cs]
    out = {"train_loss": np.empty((len(cs), len(Ns))), "test_loss": np.empty((len(cs), len(Ns)))}
    for j, N in enumerate(progress(Ns, desc=f"learning curve {name}")):
        mean, evals, evecs = data.dataset_spectrum(name, n=N, **preprocessing)
        for i, c in enumerate(cs):
            model = LinearDiffusion(mean, evals, evecs, schedule, c)
            out["train_loss"][i, j] = model.train_loss()
            out["test_loss"][i, j] = model.test_loss(true_mean, true_cov)
    return out


def tile_images(X, image_shape, ncols: int, pad: int = 1, fill: float = np.nan) -> np.ndarray:
    """Arrange the rows of X as images in a grid: an array (rows*(h+pad)-pad, ncols*(w+pad)-pad[, 3])."""
    X = as_finite_array(X, "X", ndim=2)
    shape = tuple(int(s) for s in image_shape)
    if len(shape) not in (2, 3) or int(np.prod(shape)) != X.shape[1]:
        raise ValueError(f"image_shape {image_shape} does not match rows of length {X.shape[1]}")
    ncols = check_positive_int(ncols, "ncols")
    nrows = -(-X.shape[0] // ncols)
    h, w = shape[:2]
    grid = np.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad) + shape[2:], fill)
    for k, row in enumerate(X):
        i, j = divmod(k, ncols)
        grid[i * (h + pad):i * (h + pad) + h, j * (w + pad):j * (w + pad) + w] = row.reshape(shape)
    return grid


def show_images(ax, X, image_shape, ncols: int, scale: str = "pm1", symmetric: bool = False, title=None):
    """Draw the rows of X as an image grid on a matplotlib axes.

    ``scale`` gives the pixel range ("pm1": [-1, 1], "unit": [0, 1]); values outside it are clipped.
    With ``symmetric=True`` (e.g. eigenvectors) each image is divided by its largest absolute value
    and shown on a diverging colour map centred at 0 (grey images only).
    """
    X = as_finite_array(X, "X", ndim=2)
    if symmetric:
        if len(image_shape) != 2:
            raise ValueError("symmetric=True is for grey images")
        peak = np.max(np.abs(X), axis=1, keepdims=True)
        grid = tile_images(X / np.where(peak > 0, peak, 1.0), image_shape, ncols)
        ax.imshow(grid, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    else:
        lo = {"pm1": -1.0, "unit": 0.0}.get(scale)
        if lo is None:
            raise ValueError(f"scale must be 'pm1' or 'unit', got {scale!r}")
        unit = np.clip((X - lo) / (1.0 - lo), 0.0, 1.0)
        grid = tile_images(unit, image_shape, ncols, fill=1.0)
        ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    return ax
