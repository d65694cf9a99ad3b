"""lindiff.data: real image data sets, found, checked, read and preprocessed; results cached on disk.

The data layer: it may import the mathematics (``lindiff``), never ``lindiff.book``. Its modules:

- ``sources``: the registry of files and their checksums; locating, verifying and downloading them
  (:func:`fetch`, :func:`missing`, :func:`download_dir`, :func:`downloads_allowed`);
- ``readers``: the IDX, CIFAR-10 and CelebA readers (uint8 images);
- ``preprocessing``: crop, grey, area resampling, scale (:func:`preprocess`,
  :func:`area_resampling_matrix`) and :func:`load_dataset`;
- ``covariance``: the cached spectra (:func:`dataset_spectrum`, :func:`dataset_participation_ratio`);
- ``learning_curves``: the cached sweeps (:func:`gaussian_surrogate`, :func:`learning_curve`);
- :mod:`lindiff.data.cache`: the on-disk cache;
- ``__main__``: ``python -m lindiff.data fetch|status``.

Every public name below is importable from ``lindiff.data``.

Four data sets, read from the data folder ``$LINDIFF_DATA_DIR`` (laid out as ``mnist/``,
``fashion-mnist/``, ``cifar10/``, ``celeba/``; see :func:`load_dataset`) or from the download
folder ``<cache_dir>/data`` that :func:`fetch` fills:

============== ============ ========================== ============================== ==================
name           splits       file(s)                    stored images                  default output
============== ============ ========================== ============================== ==================
mnist          train, test  IDX, gzip                  60,000 / 10,000, 28 x 28 grey  28 x 28, d = 784
fashion-mnist  train, test  IDX, gzip                  60,000 / 10,000, 28 x 28 grey  28 x 28, d = 784
cifar10        test         npz (or the official tar)  10,000, 32 x 32 RGB            32 x 32 grey, 1024
celeba         train (+)    zip of aligned JPEGs       10,000, 89 x 109 RGB (subset)  80 x 80 grey, 6400
============== ============ ========================== ============================== ==================

(+) A user's own copy of the full ``img_align_celeba`` (the official zip, or the unpacked folder)
also has the official ``valid`` and ``test`` partitions.

A data set that is missing locally and may be redistributed (MNIST, Fashion-MNIST, CIFAR-10) is
downloaded on first use into :func:`download_dir` (hash-checked, with a progress bar), unless the
environment variable ``LINDIFF_OFFLINE`` is set (to 1, true, yes or on): CI sets it, so it never
touches the network. ``python -m lindiff.data fetch`` downloads all three ahead of time.

Every file is checked against its published SHA-256 (MD5 for the official CelebA zip, the only
checksum published for it) before its bytes are used; a failed check raises ``ValueError`` naming
the file, and a missing file raises ``FileNotFoundError`` saying where it was looked for and how to
obtain it.

Preprocessing, in this order (all of it explicit arguments of :func:`load_dataset`):

1. **crop** a centred box out of the stored image;
2. **grey**: colour images become ITU-R 601 luma, 0.299 R + 0.587 G + 0.114 B (unless ``colour``);
3. **resolution**: area resampling to the output size: each output pixel is the mean of the input
   image (taken as piecewise constant) over the output pixel's footprint (:func:`area_resampling_matrix`);
4. **scale**: ``"pm1"`` maps 0..255 to [-1, 1] (x / 127.5 - 1), ``"unit"`` to [0, 1] (x / 255).

The result is a float64 (N, d) array, one image per row, flattened in C order of ``image_shape``
((h, w) for grey, (h, w, 3) for colour), so ``X[i].reshape(image_shape)`` is image i.
"""

from __future__ import annotations

from .covariance import dataset_participation_ratio, dataset_spectrum
from .learning_curves import gaussian_surrogate, learning_curve
from .preprocessing import LUMA, SCALES, area_resampling_matrix, load_dataset, preprocess
from .readers import CELEBA_DEFAULT_N, CELEBA_OFFICIAL_SIZE
from .sources import CELEBA_PARTITIONS, DATASETS, download_dir, downloads_allowed, fetch, missing

__all__ = [
    "load_dataset",
    "preprocess",
    "area_resampling_matrix",
    "dataset_spectrum",
    "dataset_participation_ratio",
    "gaussian_surrogate",
    "learning_curve",
    "fetch",
    "missing",
    "download_dir",
    "downloads_allowed",
    "DATASETS",
    "SCALES",
    "LUMA",
    "CELEBA_DEFAULT_N",
    "CELEBA_OFFICIAL_SIZE",
    "CELEBA_PARTITIONS",
]
