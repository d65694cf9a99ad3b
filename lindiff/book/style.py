"""Small plotting helpers shared by the chapters: one style, one colour per role, covariance ellipses.

A covariance ellipse of N(m, C) at ``n_std`` standard deviations is the set
{ x : (x - m)^T C^{-1} (x - m) = n_std^2 }, drawn as m + n_std C^{1/2} (cos s, sin s); for a
singular C it degenerates to a segment (or a point), which is still drawn.
"""

from __future__ import annotations

import numpy as np

from .._checks import as_covariance, as_mean, check_nonnegative, check_positive_int, psd_eigh, require_module

mpl = require_module("matplotlib", "chapters", "lindiff.book.style")

#: The Okabe-Ito palette of Color Universal Design (Okabe and Ito, 2008), whose eight colours readers
#: with any of the common colour-vision deficiencies still tell apart; the default colour cycle.
OKABE_ITO = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#D55E00",  # vermillion (the book's "red")
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow (last: too light for thin lines on white)
)

#: One colour per role, used by every chapter (Okabe-Ito; the prose's colour words still hold:
#: data blue, model orange, exact red, empirical green, noise purple, training points black).
COLORS = {
    "data": OKABE_ITO[0],  # the true distribution / fresh samples from it
    "train": "#000000",  # training points
    "model": OKABE_ITO[1],  # samples / law of a trained model
    "exact": OKABE_ITO[2],  # closed-form predictions
    "empirical": OKABE_ITO[3],  # empirical statistics of the training set
    "noise": OKABE_ITO[4],  # noise, noised data
}

#: Markers that tell series apart without colour (see :func:`tell_apart`), in the order used.
MARKERS = ("D", "s", "^", "v", "P", "X", "*", "o", "<", ">", "p", "h")

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
    "image.cmap": "viridis",  # perceptually uniform and readable without colour
    "axes.prop_cycle": mpl.cycler(color=list(OKABE_ITO)),
    # An opaque white figure: a transparent PNG is unreadable on the website's dark mode (black
    # text and lines on a dark page).
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.transparent": False,
}


def use_style() -> None:
    """Set the book's matplotlib style for the rest of the session.

    Figure size, fonts, grid, the colour-blind-safe :data:`OKABE_ITO` colour cycle and an opaque
    white background (legible in the website's dark mode).
    """
    mpl.rcParams.update(_STYLE)


def tell_apart(fig_or_ax, *, n_markers: int = 8):
    """Give lines that differ only by colour a marker each, so that they read without colour.

    In every axes, the lines drawn with a label, a visible line style and no marker are grouped
    by line style; in a group of two or more colours, each colour gets a marker of
    :data:`MARKERS` (the same colour, the same marker), placed ``n_markers`` times along the line
    (at every point of a line with fewer points); a marker that the axes already use for data
    (e.g. Monte-Carlo circles) is not used. Lines with markers, unlabelled lines and scatter
    plots are left as they are. Legends already drawn (of the axes or of the figure) show
    the new markers too; nothing else about them changes.

    Parameters
    ----------
    fig_or_ax : matplotlib Figure or Axes
    n_markers : int
        Markers per line (at least 2).

    Returns
    -------
    int
        The number of series (label and colour) that got a marker.
    """
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    if isinstance(fig_or_ax, Figure):
        fig, axes = fig_or_ax, fig_or_ax.axes
    elif isinstance(fig_or_ax, Axes):
        fig, axes = fig_or_ax.figure, [fig_or_ax]
    else:
        raise ValueError(f"fig_or_ax must be a matplotlib Figure or Axes, got {type(fig_or_ax).__name__}")
    n_markers = check_positive_int(n_markers, "n_markers", minimum=2)
    marked = {}  # (label, colour) -> marker
    for ax in axes:
        groups: dict = {}
        taken = {line.get_marker() for line in ax.get_lines()}
        free = [m for m in MARKERS if m not in taken] or list(MARKERS)
        for line in ax.get_lines():
            if (
                line.get_label().startswith("_")
                or line.get_linestyle() in ("None", "", " ")
                or line.get_marker() not in ("None", "", " ", None)
            ):
                continue
            groups.setdefault(line.get_linestyle(), []).append(line)
        for lines in groups.values():
            colours = list(dict.fromkeys(mpl.colors.to_hex(line.get_color()) for line in lines))
            if len(colours) < 2:
                continue
            for line in lines:
                colour = mpl.colors.to_hex(line.get_color())
                marker = free[colours.index(colour) % len(free)]
                n = len(line.get_xdata())
                line.set_marker(marker)
                line.set_markersize(4)
                line.set_markevery(None if n <= n_markers else 1.0 / n_markers)
                marked[line.get_label(), colour] = marker
    legends = [ax.get_legend() for ax in axes] + (list(fig.legends) if fig is not None else [])
    for legend in filter(None, legends):
        for handle, text in zip(legend.legend_handles, legend.texts):
            if isinstance(handle, Line2D):
                key = (text.get_text(), mpl.colors.to_hex(handle.get_color()))
                if key in marked:
                    handle.set_marker(marked[key])
                    handle.set_markersize(4)
    return len(marked)


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
