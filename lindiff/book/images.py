"""Image grids: the rows of a data matrix drawn as a mosaic of images."""

from __future__ import annotations

import numpy as np

from .._checks import as_finite_array, check_positive_int


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
        grid[i * (h + pad) : i * (h + pad) + h, j * (w + pad) : j * (w + pad) + w] = row.reshape(shape)
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
