"""Preprocessing: crop, grey, area resampling, scale; and :func:`~lindiff.data.load_dataset`, which
reads a split and applies them."""

from __future__ import annotations

import numpy as np

from .._checks import check_positive_int
from .readers import RawSplit, raw_split
from .sources import DEFAULTS

SCALES = ("pm1", "unit")
LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601, as PIL's convert("L")


def area_resampling_matrix(n_in: int, n_out: int) -> np.ndarray:
    """The (n_out, n_in) matrix of area resampling along one image axis.

    With s = n_in / n_out, output pixel i covers [i s, (i + 1) s) in input pixel units, and

        R[i, j] = ``|[i s, (i + 1) s) intersected with [j, j + 1)|`` / s,

    the mean of the piecewise-constant input over the footprint. Rows sum to 1 (a constant image
    stays constant), columns sum to 1 / s (the total intensity is kept up to the area factor), an
    integer factor s averages s x s blocks, and resampling to n_out then to n_out / k (k an
    integer) equals resampling to n_out / k directly.

    Defined in :doc:`chapter 5 </book/05_real_images>`.
    """
    n_in = check_positive_int(n_in, "n_in")
    n_out = check_positive_int(n_out, "n_out")
    s = n_in / n_out
    lo = np.arange(n_out)[:, None] * s
    j = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(lo + s, j + 1) - np.maximum(lo, j), 0.0, None)
    return overlap / s


def _crop_box(crop, h: int, w: int):
    """(top, left, height, width) of the centred crop box; see :func:`preprocess`."""
    if isinstance(crop, str):
        if crop == "none":
            return 0, 0, h, w
        if crop == "square":
            side = min(h, w)
            return (h - side) // 2, (w - side) // 2, side, side
        raise ValueError(f"crop must be 'none', 'square', a fraction in (0, 1] or (height, width), got {crop!r}")
    if isinstance(crop, (float, np.floating)):
        if not 0 < crop <= 1:
            raise ValueError(f"a fractional crop must lie in (0, 1], got {crop}")
        side = max(1, int(round(crop * min(h, w))))
        return (h - side) // 2, (w - side) // 2, side, side
    try:
        ch, cw = (check_positive_int(v, "crop") for v in crop)
    except (TypeError, ValueError):
        raise ValueError(
            f"crop must be 'none', 'square', a fraction in (0, 1] or (height, width) in pixels, got {crop!r}"
        ) from None
    if ch > h or cw > w:
        raise ValueError(f"crop ({ch}, {cw}) is larger than the stored images ({h}, {w})")
    return (h - ch) // 2, (w - cw) // 2, ch, cw


def _out_size(resolution, default):
    if resolution is None:
        return default
    if isinstance(resolution, (int, np.integer)) and not isinstance(resolution, bool):
        r = check_positive_int(resolution, "resolution")
        return r, r
    try:
        h, w = (check_positive_int(v, "resolution") for v in resolution)
    except (TypeError, ValueError):
        raise ValueError(f"resolution must be an int or (height, width), got {resolution!r}") from None
    return h, w


def _check_scale(scale):
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES} ('pm1': [-1, 1], 'unit': [0, 1]), got {scale!r}")
    return scale


def preprocess(images, *, crop="none", resolution=None, colour=False, scale="pm1", chunk: int | None = None):
    """Turn uint8 images into a float64 data matrix: crop, grey, area resampling, scale.

    Parameters
    ----------
    images : array_like of uint8, shape (N, H, W) or (N, H, W, 3)
        Grey or RGB images, values 0..255.
    crop : {"none", "square"}, float or (int, int)
        Centred box cut out first: the whole image; the largest centred square; a centred square
        whose side is that fraction of min(H, W) (rounded); or (height, width) in pixels.
        The box's top-left corner is ((H - h) // 2, (W - w) // 2).
    resolution : None, int or (int, int)
        Output (height, width) after area resampling (:func:`area_resampling_matrix`, applied
        along both axes); None keeps the cropped size.
    colour : bool
        Keep the RGB channels (only for RGB input); otherwise RGB becomes luma
        0.299 R + 0.587 G + 0.114 B.
    scale : {"pm1", "unit"}
        "pm1": x / 127.5 - 1, in [-1, 1]; "unit": x / 255, in [0, 1].
    chunk : int, optional
        Images processed at a time; default: as many as fill about 8 MB as float64 (small blocks
        stay in the CPU cache, which is several times faster than whole-array steps).

    Returns
    -------
    X : ndarray, shape (N, d), float64
        One flattened image per row (C order of ``image_shape``).
    image_shape : tuple
        (h, w), or (h, w, 3) with colour.


    Defined in :doc:`chapter 5 </book/05_real_images>`.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 (values 0..255), got dtype {images.dtype}")
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[3] != 3) or images.shape[0] < 1:
        raise ValueError(f"images must have shape (N, H, W) or (N, H, W, 3) with N >= 1, got {images.shape}")
    rgb = images.ndim == 4
    if colour and not rgb:
        raise ValueError("colour=True needs RGB images; these are grey (pass colour=False)")
    scale = _check_scale(scale)
    top, left, ch, cw = _crop_box(crop, images.shape[1], images.shape[2])
    per_image = ch * cw * (3 if rgb else 1) * 8
    chunk = max(1, (8 << 20) // per_image) if chunk is None else check_positive_int(chunk, "chunk")
    oh, ow = _out_size(resolution, (ch, cw))
    Rh = None if oh == ch else area_resampling_matrix(ch, oh)
    Rw = None if ow == cw else area_resampling_matrix(cw, ow)
    shape = (oh, ow, 3) if colour else (oh, ow)
    lo, step = (-1.0, 2.0 / 255.0) if scale == "pm1" else (0.0, 1.0 / 255.0)
    X = np.empty((images.shape[0], int(np.prod(shape))), dtype=np.float64)
    for start in range(0, images.shape[0], chunk):
        block = images[start : start + chunk, top : top + ch, left : left + cw].astype(np.float64)
        if rgb and not colour:
            block = block @ LUMA
        if Rh is not None:
            block = np.moveaxis(np.tensordot(Rh, block, axes=([1], [1])), 0, 1)
        if Rw is not None:
            block = np.moveaxis(np.tensordot(Rw, block, axes=([1], [2])), 0, 2)
        X[start : start + chunk] = (block * step + lo).reshape(block.shape[0], -1)
    return X, shape


def preprocessing_settings(name, resolution, crop, colour, scale) -> dict:
    """The preprocessing arguments with the data set's defaults filled in (JSON-able, for keys)."""
    _, has_colour, default_res, default_crop = DEFAULTS[name]
    if colour and not has_colour:
        raise ValueError(f"{name} is grey; colour=True is only for cifar10 and celeba")
    crop = default_crop if crop is None else crop
    if isinstance(crop, (float, np.floating)):
        crop = float(crop)
    elif not isinstance(crop, str):
        _crop_box(crop, 1 << 30, 1 << 30)  # checks the form; the size is checked on the images
        crop = [int(v) for v in crop]
    resolution = default_res if resolution is None else resolution
    resolution = None if resolution is None else list(_out_size(resolution, None))
    return {"crop": crop, "resolution": resolution, "colour": bool(colour), "scale": _check_scale(scale)}


def load_raw(raw: RawSplit, settings: dict):
    """Read and preprocess a located split."""
    crop = tuple(settings["crop"]) if isinstance(settings["crop"], list) else settings["crop"]
    resolution = settings["resolution"] and tuple(settings["resolution"])
    return preprocess(raw.read(), crop=crop, resolution=resolution, colour=settings["colour"], scale=settings["scale"])


def load_dataset(
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
    """Load a real image data set as a float64 data matrix, one preprocessed image per row.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist", "cifar10", "celeba"}
    split : str, optional
        "train" or "test" (MNIST, Fashion-MNIST); "test" only for CIFAR-10 (its default);
        "train" for CelebA ("valid" and "test" need the full img_align_celeba, whose 178 x 218 faces
        are reduced 2x to 89 x 109 as they are read). Default: "train", or "test" for CIFAR-10.
    n : int, optional
        Take the first n images of the split (deterministic); default all, except CelebA: its first
        10,000 (``CELEBA_DEFAULT_N``). The order is that of the files, except CIFAR-10, which is
        stored sorted by class: its images are put in class-interleaved order (sorted by class then
        file name, then image k of each class in turn), so that the first n mix all ten classes.
    resolution : int or (int, int), optional
        Output size after area resampling. Default: the (cropped) stored size, i.e. 28 x 28 for
        MNIST and Fashion-MNIST, 32 x 32 for CIFAR-10; 80 x 80 for CelebA.
    crop : {"none", "square"}, float or (int, int), optional
        Centred crop applied first (see :func:`preprocess`). Default "none", and "square" for
        CelebA (the largest centred square: 89 x 89 of the 89 x 109 faces, which the official
        178 x 218 ones are reduced to as they are read, so the same face region either way).
    colour : bool
        Keep RGB (CIFAR-10, CelebA), image_shape (h, w, 3); default grey (ITU-R 601 luma).
    scale : {"pm1", "unit"}
        "pm1" (default): [-1, 1]; "unit": [0, 1].
    data_dir : path, optional
        Data folder laid out as ``mnist/``, ``fashion-mnist/``, ``cifar10/``, ``celeba/``; default
        ``$LINDIFF_DATA_DIR``. :func:`download_dir` is searched after it.

    Returns
    -------
    X : ndarray, shape (N, d), float64
    image_shape : tuple
        e.g. (28, 28), (80, 80) or (32, 32, 3); d = prod(image_shape).

    Raises
    ------
    FileNotFoundError
        No file found: the message lists where it looked and how to get the data.
    ValueError
        Unknown name or split, bad preprocessing argument, n too large, or a file that fails its
        checksum (corrupt or partial).


    Defined in :doc:`chapter 5 </book/05_real_images>`.
    """
    raw = raw_split(name, split, n, data_dir)
    return load_raw(raw, preprocessing_settings(name, resolution, crop, colour, scale))
