"""Small plotting helpers shared by the chapters: one style, one colour per role, covariance ellipses.

A covariance ellipse of N(m, C) at ``n_std`` standard deviations is the set
{ x : (x - m)^T C^{-1} (x - m) = n_std^2 }, drawn as m + n_std C^{1/2} (cos s, sin s); for a
singular C it degenerates to a segment (or a point), which is still drawn.
"""

from __future__ import annotations

import numpy as np

from .._checks import as_covariance, as_mean, check_nonnegative, check_positive_int, psd_eigh, require_module

mpl = require_module("matplotlib", "chapters", "lindiff.book.style")

#: One colour per role, used by every chapter.
COLORS = {
    "data": "#4c72b0",  # the true distribution / fresh samples from it
    "train": "#000000",  # training points
    "model": "#dd8452",  # samples / law of a trained model
    "exact": "#c44e52",  # closed-form predictions
    "empirical": "#55a868",  # empirical statistics of the training set
    "noise": "#8172b3",  # noise, noised data
}

_STYLE = {
    "figure.figsize": (6.0, 3.5),
    "figure.dpi": 90,
    "savefig.dpi": 90,
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.5,
    "image.cmap": "viridis",
}


def use_style() -> None:
    """Set the book's matplotlib style (figure size, fonts, grid) for the rest of the session."""
    mpl.rcParams.update(_STYLE)


def ellipse_points(mean, cov, n_std: float = 2.0, num: int = 200) -> np.ndarray:
    """Points m + n_std C^{1/2} (cos s, sin s), s in [0, 2 pi], on the covariance ellipse of N(m, C).

    Parameters
    ----------
    mean : array_like, shape (2,)
    cov : array_like, shape (2, 2)
        Symmetric positive semi-definite; may be singular.
    n_std : float
        Mahalanobis radius: the ellipse is (x - m)^T C^{-1} (x - m) = n_std^2.
    num : int
        Number of points (the first and last coincide, closing the curve).

    Returns
    -------
    ndarray, shape (num, 2)
    """
    mean = as_mean(mean, 2)
    cov = as_covariance(cov, 2)
    lam, vec = psd_eigh(cov)
    n_std = check_nonnegative(n_std, "n_std")
    num = check_positive_int(num, "num", minimum=3)
    s = np.linspace(0.0, 2.0 * np.pi, num)
    circle = np.stack([np.cos(s), np.sin(s)], axis=1)
    return mean + n_std * (circle * np.sqrt(lam)) @ vec.T


def covariance_ellipse(ax, mean, cov, n_std: float = 2.0, **line_kwargs):
    """Draw the ``n_std`` covariance ellipse of N(mean, cov) (2-D) on ``ax``; returns the Line2D.

    ``line_kwargs`` go to ``ax.plot`` (colour, label, line style, ...).
    """
    pts = ellipse_points(mean, cov, n_std)
    (line,) = ax.plot(pts[:, 0], pts[:, 1], **line_kwargs)
    return line
