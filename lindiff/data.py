"""Real image data sets: find, check, read and preprocess them; their cached covariance spectra.

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

import gzip
import hashlib
import io
import os
import pickle
import struct
import sys
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import _checks, cache
from . import stats as _stats
from ._checks import check_positive_int, psd_eigh
from .progress import progress, progress_enabled, tqdm
from .stats import empirical_stats

DATASETS = ("mnist", "fashion-mnist", "cifar10", "celeba")
SCALES = ("pm1", "unit")
LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601, as PIL's convert("L")

# The official aligned faces are 178 x 218; as they are decoded they are reduced 2x by box averaging
# to the 89 x 109 of the subset in shared/data, and a split's default is its first 10,000 faces
# (000001-010000 of the train partition: the subset's faces), so both copies give the same data.
CELEBA_OFFICIAL_SIZE = (178, 218)  # (width, height)
CELEBA_DEFAULT_N = 10_000

# Official CelebA partition of img_align_celeba (list_eval_partition.txt): image numbers, inclusive.
CELEBA_PARTITIONS = {"train": (1, 162770), "valid": (162771, 182637), "test": (182638, 202599)}
_CELEBA_HELP = (
    "CelebA may not be redistributed, so lindiff cannot download it. Obtain it yourself for "
    "non-commercial research under the CUHK MMLab agreement: https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html "
    "-> 'Align&Cropped Images' -> img_align_celeba.zip. Put the zip at {dir}/celeba/img_align_celeba.zip "
    "or unpack it to the folder {dir}/celeba/img_align_celeba/ (JPEG files 000001.jpg ...)."
)


@dataclass(frozen=True)
class _Source:
    """One file (or folder) a data set split can be read from, relative to the data folder.

    ``digests`` lists the accepted checksums (``"sha256:<hex>"`` or ``"md5:<hex>"``); empty for a
    user's folder of images, which is checked by content instead. ``url``: where :func:`fetch`
    downloads it (``None``: it may not be redistributed).
    """

    relpath: str
    digests: tuple = ()
    url: str | None = None


def _idx(folder, name, shared, official, base):
    return (_Source(f"{folder}/{name}", (f"sha256:{shared}", f"sha256:{official}"), base + name),)


_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"  # the PyTorch mirror of LeCun's files
_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"

# For each (data set, split): the sources in order of preference. The first digest of an IDX file is
# that of the copy in shared/data (PROVENANCE.md; re-gzipped, same decompressed bytes), the second
# that of the official download.
_SOURCES = {
    ("mnist", "train"): _idx("mnist", "train-images-idx3-ubyte.gz",
                             "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971",
                             "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", _MNIST_URL),
    ("mnist", "test"): _idx("mnist", "t10k-images-idx3-ubyte.gz",
                            "167310007f03058885c7e95e6c0b19c20de5c7fd3031f4cbdadc9014a523d80b",
                            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", _MNIST_URL),
    ("fashion-mnist", "train"): _idx("fashion-mnist", "train-images-idx3-ubyte.gz",
                                     "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
                                     "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", _FASHION_URL),
    ("fashion-mnist", "test"): _idx("fashion-mnist", "t10k-images-idx3-ubyte.gz",
                                    "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
                                    "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", _FASHION_URL),
    ("cifar10", "test"): (
        _Source("cifar10/cifar10_test.npz",
                ("sha256:188ce03d5c81c4c31f14f44cd426c5bc28d19b26b5a143cf4e227ec0b878535a",)),
        _Source("cifar10/cifar-10-python.tar.gz",
                ("sha256:6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",),
                "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"),
    ),
}
_CELEBA_SOURCES = (
    _Source("celeba/celeba_align_89x109_000001-010000.zip",
            ("sha256:b2e4bcd0714a5b1f545817414a8ed39797249a91cacfc891a6504318d3fc328c",)),
    _Source("celeba/img_align_celeba.zip", ("md5:00d2c5bc6d35e252742224ab0c1e8fcb",)),
    _Source("celeba/img_align_celeba"),
)
for _split in CELEBA_PARTITIONS:
    _SOURCES[("celeba", _split)] = _CELEBA_SOURCES

# Per data set: default split, whether it has colour, default output resolution (None: the stored
# size) and default crop.
_DEFAULTS = {
    "mnist": ("train", False, None, "none"),
    "fashion-mnist": ("train", False, None, "none"),
    "cifar10": ("test", True, None, "none"),
    "celeba": ("train", True, 80, "square"),
}


# ---------------------------------------------------------------------------------- locating files
def download_dir() -> Path:
    """Folder :func:`fetch` downloads into: ``<lindiff.cache.cache_dir()>/data``."""
    return cache.cache_dir() / "data"


def downloads_allowed() -> bool:
    """False when the environment variable ``LINDIFF_OFFLINE`` is 1, true, yes or on."""
    return os.environ.get("LINDIFF_OFFLINE", "").strip().lower() not in {"1", "true", "yes", "on"}


def _search_dirs(data_dir) -> list[Path]:
    dirs = []
    if data_dir is not None:
        dirs.append(Path(data_dir).expanduser())
    elif os.environ.get("LINDIFF_DATA_DIR", "").strip():
        dirs.append(Path(os.environ["LINDIFF_DATA_DIR"].strip()).expanduser())
    dirs.append(download_dir())
    return dirs


def _check_name_split(name, split) -> str:
    if name not in _DEFAULTS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    split = _DEFAULTS[name][0] if split is None else split
    if (name, split) not in _SOURCES:
        have = sorted(s for (n, s) in _SOURCES if n == name)
        extra = (" (only the CIFAR-10 test set is provided: pass split='test')" if name == "cifar10" else "")
        raise ValueError(f"{name} has no split {split!r}; choose one of {have}{extra}")
    return split


def _verify(path: Path, source: _Source) -> str:
    """Check ``path`` against the source's accepted checksums; return its digest string."""
    found = []
    for algorithm in dict.fromkeys(d.split(":")[0] for d in source.digests):
        digest = cache.file_digest(path, algorithm)
        if digest in source.digests:
            return digest
        found.append(digest)
    ours = download_dir().resolve() in path.resolve().parents
    if ours:  # a corrupt download of ours is never left behind
        path.unlink(missing_ok=True)
    raise ValueError(
        f"{path} is corrupt or incomplete: its checksum is {', '.join(found)}, expected one of "
        f"{', '.join(source.digests)}. " + ("It was deleted; " if ours else "Replace it: ")
        + (f"run lindiff.data.fetch({source.relpath.split('/')[0]!r}) to download it again."
           if source.url else "obtain a fresh copy (see PROVENANCE.md of the data folder).")
    )


def _find(name: str, split: str, dirs):
    """(source, path, digest) of the first source of a split present in ``dirs``, checked; or None."""
    for source in _SOURCES[(name, split)]:
        for d in dirs:
            path = d / source.relpath
            if source.digests and path.is_file():
                return source, path, _verify(path, source)
            if not source.digests and path.is_dir():
                return source, path, None
    return None


def _locate(name: str, split: str, data_dir, download: bool = True):
    """(source, path, digest) of the first available source of a split, checked.

    A split found in no folder is downloaded first (:func:`fetch`) when it may be, ``download`` is
    true and downloads are allowed (:func:`downloads_allowed`). ``digest`` is None for a user's folder (checked by content
    later). Raises FileNotFoundError saying where it looked and how to get the data.
    """
    dirs = _search_dirs(data_dir)
    found = _find(name, split, dirs)
    if found is not None:
        return found
    failure = ""
    if download and downloads_allowed() and any(s.url for s in _SOURCES[(name, split)]):
        try:
            fetch(name)
        except OSError as exc:  # offline, a firewall, a server error (requests' errors are OSErrors)
            failure = f" Downloading it failed ({type(exc).__name__}: no connection?)."
        except Exception as exc:  # e.g. a download that fails its checksum
            failure = f" Downloading it failed ({type(exc).__name__}: {str(exc)[:200]})."
        else:
            found = _find(name, split, dirs)
            if found is not None:
                return found
    looked = "; ".join(str(d / s.relpath) for s in _SOURCES[(name, split)] for d in dirs)
    if name == "celeba":
        how = _CELEBA_HELP.format(dir=dirs[0])
    else:
        how = (f"Set LINDIFF_DATA_DIR to a folder holding {_SOURCES[(name, split)][0].relpath}, or "
               f"download it (needs internet) with lindiff.data.fetch({name!r}) or "
               f"`python -m lindiff.data fetch {name}`.")
    raise FileNotFoundError(f"no {name} {split} data found; looked for: {looked}.{failure} {how}")


def missing(name: str, data_dir=None, download: bool = True) -> str | None:
    """None if data set ``name`` can be loaded here (all its splits), else one short line why not.

    Looks in the data folders and, if ``download`` and where allowed, downloads it first. The line
    says which data set, where it was looked for and how to get it, e.g. for a notice on a page.
    """
    _check_name_split(name, None)
    splits = ["train"] if name == "celeba" else sorted(s for (n, s) in _SOURCES if n == name)
    try:
        for split in splits:
            _locate(name, split, data_dir, download)
    except ValueError as exc:  # a file that fails its checksum
        return f"{name}: {exc}"
    except FileNotFoundError as exc:
        dirs = _search_dirs(data_dir)
        where = " or ".join(str(d / name) for d in dirs)  # each data set has the folder of its name
        if name == "celeba":
            how = (f"it cannot be downloaded (its licence forbids redistribution): obtain "
                   f"img_align_celeba.zip from the CelebA site under its terms and put it in {dirs[0] / name}")
        elif not download:
            how = f"get it with `python -m lindiff.data fetch {name}`"
        elif not downloads_allowed():
            how = f"downloads are off (LINDIFF_OFFLINE): get it with `python -m lindiff.data fetch {name}` online"
        else:
            reason = "the download failed" if "Downloading it failed" in str(exc) else "it could not be fetched"
            how = f"{reason} (offline?): get it with `python -m lindiff.data fetch {name}` online"
        return f"{name} not found in {where}; {how}"
    return None


def fetch(name: str, path=None) -> list[Path]:
    """Download the files of a data set into ``path`` (default :func:`download_dir`), hash-checked.

    Uses :func:`pooch.retrieve` with the published SHA-256 of each official file (the last digest
    of its source): pooch downloads to a temporary file and moves it into place only once the hash
    matches, otherwise it raises ``ValueError``, so no partial or corrupt file is ever left as valid.
    MNIST and Fashion-MNIST: the image files of both splits; CIFAR-10: the official
    ``cifar-10-python.tar.gz`` (163 MB), whose test batch :func:`load_dataset` reads. CelebA cannot
    be fetched (its licence forbids redistribution): the error says how to obtain it.

    Returns
    -------
    list of Path
        The downloaded (or already present and valid) files.
    """
    import pooch

    if name not in _DEFAULTS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    if name == "celeba":
        raise ValueError(_CELEBA_HELP.format(dir=_search_dirs(None)[0]))
    if not downloads_allowed():
        raise RuntimeError(f"downloads are switched off (LINDIFF_OFFLINE is set): {name} was not fetched; "
                           "unset LINDIFF_OFFLINE, or put the files in LINDIFF_DATA_DIR")
    root = Path(path).expanduser() if path is not None else download_dir()
    bar = progress_enabled() and tqdm is not None
    out = []
    for (n, _), sources in _SOURCES.items():
        for source in sources:
            if n != name or source.url is None:
                continue
            target = root / source.relpath
            pooch.retrieve(source.url, known_hash=source.digests[-1], fname=target.name, path=target.parent,
                           downloader=pooch.HTTPDownloader(progressbar=bar, timeout=60))
            out.append(target)
    return out


# ---------------------------------------------------------------------------------- reading files
def _read_idx_images(path: Path, n: int | None) -> np.ndarray:
    """The first n images (all if None) of a gzipped IDX image file, uint8 (n, rows, cols)."""
    try:
        with gzip.open(path, "rb") as f:
            header = f.read(16)
            if len(header) < 16:
                raise ValueError(f"{path} is truncated: no IDX header")
            magic, count, rows, cols = struct.unpack(">IIII", header)
            if magic != 2051:
                raise ValueError(f"{path} is not an IDX image file (magic {magic}, expected 2051)")
            n = count if n is None else n
            if n > count:
                raise ValueError(f"asked for n = {n} images but {path} holds {count}")
            raw = f.read(n * rows * cols)
    except (OSError, EOFError) as exc:  # not gzip, or a cut-off gzip stream
        raise ValueError(f"{path} is not a readable gzip file ({exc}); replace it with a fresh copy") from None
    if len(raw) != n * rows * cols:
        raise ValueError(f"{path} is truncated: {len(raw)} image bytes, expected {n * rows * cols}")
    return np.frombuffer(raw, dtype=np.uint8).reshape(n, rows, cols)


def _class_interleaved(images: np.ndarray, labels: np.ndarray, filenames: np.ndarray) -> np.ndarray:
    """Sort by (label, file name), then interleave the classes: image k of class 0, of class 1, ..."""
    order = np.lexsort((filenames, labels))
    images, labels = images[order], labels[order]
    rank = np.empty(labels.size, dtype=np.int64)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rank[idx] = np.arange(idx.size)
    return images[np.lexsort((labels, rank))]


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles only numpy arrays and builtins: enough for CIFAR-10's batch files, nothing else."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")
        return super().find_class(module, name)


def _read_cifar(path: Path) -> np.ndarray:
    """CIFAR-10 test images, uint8 (10000, 32, 32, 3), classes interleaved (see load_dataset)."""
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                x, y, names = z["x_test"], z["y_test"], z["filenames"]
        else:
            with tarfile.open(path, "r:gz") as tar:
                member = tar.extractfile("cifar-10-batches-py/test_batch")
                batch = _ArrayUnpickler(io.BytesIO(member.read()), encoding="bytes").load()
            x = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            y = np.asarray(batch[b"labels"], dtype=np.uint8)
            names = np.array([s.decode() for s in batch[b"filenames"]])
    except (KeyError, ValueError, EOFError, OSError, TypeError, pickle.UnpicklingError) as exc:
        raise ValueError(f"{path} does not hold the CIFAR-10 test set in the expected layout ({exc})") from None
    if x.ndim != 4 or x.shape[1:] != (32, 32, 3) or x.dtype != np.uint8 or len(y) != len(x):
        raise ValueError(f"{path} does not hold CIFAR-10 images: got x of shape {x.shape}")
    return _class_interleaved(x, y, names)


def _celeba_members(source: _Source, path: Path, split: str):
    """Sorted (number, member name) of the JPEGs of a CelebA source inside the split's range.

    The numbers must run without a gap from the first of the partition: a missing image (a JPEG
    deleted from a folder) raises ValueError naming it, rather than shifting every later image.
    """
    if path.is_dir():
        names = [p.name for p in path.iterdir() if p.suffix.lower() == ".jpg"]
    else:
        try:
            with zipfile.ZipFile(path) as z:
                names = [m for m in z.namelist() if m.lower().endswith(".jpg")]
        except zipfile.BadZipFile as exc:
            raise ValueError(f"{path} is not a readable zip file ({exc}); replace it with a fresh copy") from None
    lo, hi = CELEBA_PARTITIONS[split]
    members = sorted((int(Path(m).stem), m) for m in names if Path(m).stem.isdigit())
    members = [(k, m) for k, m in members if lo <= k <= hi]
    if not members:
        raise ValueError(
            f"{path} holds no CelebA images of the {split!r} partition (image numbers {lo}..{hi}). "
            "The 10,000-face subset holds images 000001-010000, all in the official train partition: "
            "use split='train' and hold out some of its images, or provide the full img_align_celeba."
        )
    for expected, (k, m) in enumerate(members, start=lo):
        if k != expected:
            raise ValueError(f"{path} lacks CelebA image {expected:06d}.jpg (the next one found is {m}); "
                             "restore the missing file, or use a complete copy of img_align_celeba")
    return members


def _celeba_bytes(source: _Source, path: Path, members):
    """Iterator over the raw JPEG bytes of ``members``."""
    if path.is_dir():
        for _, m in members:
            yield (path / m).read_bytes()
    else:
        with zipfile.ZipFile(path) as z:
            for _, m in members:
                try:
                    raw = z.read(m)
                except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:  # corrupt or cut-off data
                    raise ValueError(f"{path}: {m} cannot be extracted ({exc}); replace the zip with a fresh copy") from None
                yield raw


def _folder_digest(source: _Source, path: Path, members) -> str:
    """For a user's folder (no published checksum): SHA-256 of the selected files' names and bytes."""
    h = hashlib.sha256()
    for (_, m), raw in zip(members, _celeba_bytes(source, path, members)):
        h.update(f"{m}|{len(raw)}|".encode())
        h.update(raw)
    return f"sha256:{h.hexdigest()}"


def _read_celeba(source: _Source, path: Path, members) -> np.ndarray:
    """Decode the JPEGs of ``members`` to uint8 (n, H, W, 3); all must have the same size.

    Official 178 x 218 faces are reduced 2x as they are decoded (PIL's ``Image.reduce(2)``: the mean
    of each 2 x 2 block), to the 89 x 109 of the subset, so a full copy never holds full-size images.
    """
    from PIL import Image

    out = None
    for i, raw in enumerate(progress(_celeba_bytes(source, path, members), total=len(members),
                                     desc="decoding CelebA")):
        try:
            face = Image.open(io.BytesIO(raw)).convert("RGB")
            if face.size == CELEBA_OFFICIAL_SIZE:  # the official faces: 2x2 box means -> 89 x 109
                face = face.reduce(2)
            img = np.asarray(face)
        except OSError as exc:
            raise ValueError(f"{path}: {members[i][1]} is not a readable JPEG ({exc})") from None
        if out is None:
            out = np.empty((len(members),) + img.shape, dtype=np.uint8)
        if img.shape != out.shape[1:]:
            raise ValueError(f"{path}: image {members[i][1]} is {img.shape[1]} x {img.shape[0]}, "
                             f"the others {out.shape[2]} x {out.shape[1]}; all images must share one size")
        out[i] = img
    return out


_DECODED: dict = {}  # (source digest, split) -> the first images of that split, decoded


def _decoded_celeba(raw) -> np.ndarray:
    """CelebA images of ``raw``, decoding each JPEG once per session.

    Decoding is the slow step (about 0.3 ms per image), and a chapter loads the same faces at
    several resolutions: the decoded uint8 images of the longest prefix read so far are kept (one
    entry per source and split) and sliced for shorter ones. The entry is keyed by the source's
    checksum, so a changed file is decoded afresh.
    """
    memo_key = (raw.digest, raw.split)
    have = _DECODED.get(memo_key)
    if have is None or len(have) < len(raw.members):
        have = _DECODED[memo_key] = _read_celeba(raw.source, raw.path, raw.members)
    return have[: len(raw.members)]


@dataclass(frozen=True)
class _Raw:
    """A located, checked split: enough to key a cache entry and to read the uint8 images.

    ``n`` is the number of images asked for (None: all of the split); ``digest`` the checksum of
    the file (or, for a user's folder, of the selected images) that keys cache entries.
    """

    name: str
    split: str
    n: int | None
    source: _Source
    path: Path
    digest: str
    members: tuple = ()

    def read(self) -> np.ndarray:
        if self.name in ("mnist", "fashion-mnist"):
            return _read_idx_images(self.path, self.n)
        if self.name == "celeba":
            return _decoded_celeba(self)
        images = _read_cifar(self.path)
        if self.n is not None and self.n > len(images):
            raise ValueError(f"asked for n = {self.n} images but {self.path} holds {len(images)}")
        return images[: self.n]


def _raw(name, split, n, data_dir) -> _Raw:
    """Locate and check the files of a split (n: the first n images; None: all)."""
    split = _check_name_split(name, split)
    if n is not None:
        n = check_positive_int(n, "n")
    source, path, digest = _locate(name, split, data_dir)
    if name != "celeba":
        return _Raw(name, split, n, source, path, digest)
    members = _celeba_members(source, path, split)
    if n is None:  # never decode a whole 162,770-face split by default
        n = min(CELEBA_DEFAULT_N, len(members))
    if n > len(members):
        raise ValueError(f"asked for n = {n} images but {path} holds {len(members)} {split} images")
    members = tuple(members[:n])
    if digest is None:
        digest = _folder_digest(source, path, members)
    return _Raw(name, split, n, source, path, digest, members)


# ---------------------------------------------------------------------------------- preprocessing
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
        raise ValueError(f"crop must be 'none', 'square', a fraction in (0, 1] or (height, width) "
                         f"in pixels, got {crop!r}") from None
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
        block = images[start:start + chunk, top:top + ch, left:left + cw].astype(np.float64)
        if rgb and not colour:
            block = block @ LUMA
        if Rh is not None:
            block = np.moveaxis(np.tensordot(Rh, block, axes=([1], [1])), 0, 1)
        if Rw is not None:
            block = np.moveaxis(np.tensordot(Rw, block, axes=([1], [2])), 0, 2)
        X[start:start + chunk] = (block * step + lo).reshape(block.shape[0], -1)
    return X, shape


def _settings(name, resolution, crop, colour, scale) -> dict:
    """The preprocessing arguments with the data set's defaults filled in (JSON-able, for keys)."""
    _, has_colour, default_res, default_crop = _DEFAULTS[name]
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


def _load(raw: _Raw, settings: dict):
    """Read and preprocess a located split."""
    crop = tuple(settings["crop"]) if isinstance(settings["crop"], list) else settings["crop"]
    resolution = settings["resolution"] and tuple(settings["resolution"])
    return preprocess(raw.read(), crop=crop, resolution=resolution, colour=settings["colour"],
                      scale=settings["scale"])


def load_dataset(name: str, split: str | None = None, *, n: int | None = None, resolution=None, crop=None,
                 colour: bool = False, scale: str = "pm1", data_dir=None):
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
    raw = _raw(name, split, n, data_dir)
    return _load(raw, _settings(name, resolution, crop, colour, scale))


def _covariance_inputs(name, split, n, resolution, crop, colour, scale, data_dir):
    """The raw files and preprocessing settings of a covariance computation (n >= 2 images)."""
    if n is not None and n < 2:
        raise ValueError(f"a covariance needs at least n = 2 images, got n = {n}")
    return _raw(name, split, n, data_dir), _settings(name, resolution, crop, colour, scale)


def _key(raw: _Raw, settings: dict, **extra) -> dict:
    """Cache key: data checksum, split, n, preprocessing and the source of the modules computing it."""
    return {"data": raw.digest, "name": raw.name, "split": raw.split, "n": raw.n, **settings,
            "code": cache.source_digest(cache, _checks, _stats, sys.modules[__name__]), **extra}


def dataset_spectrum(name: str, split: str | None = None, *, n: int | None = None, resolution=None, crop=None,
                     colour: bool = False, scale: str = "pm1", data_dir=None):
    """Mean and covariance eigendecomposition of a preprocessed data set, cached on disk.

    Sigma_0 = (1/N) sum_i (x_i - mu_0)(x_i - mu_0)^T (ddof = 0, the book's convention), with the
    arguments of :func:`load_dataset`. The result is stored in the cache (:mod:`lindiff.cache`)
    under a key made of the data files' checksum, the split, n, every preprocessing setting and the
    code that computed it; any other call recomputes.

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
        X, _ = _load(raw, settings)
        mean, cov = empirical_stats(X, ddof=0)
        del X
        evals, evecs = psd_eigh(cov, f"covariance of {name}")
        return {"mean": mean, "eigenvalues": evals, "eigenvectors": evecs}

    out = cache.cached_arrays("spectrum", _key(raw, settings), compute)
    return out["mean"], out["eigenvalues"], out["eigenvectors"]


def dataset_participation_ratio(name: str, split: str | None = None, *, n: int | None = None, resolution=None,
                                crop=None, colour: bool = False, scale: str = "pm1", data_dir=None,
                                centre: bool = True, standardise: bool = False) -> float:
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
        X, _ = _load(raw, settings)
        if centre:
            X -= X.mean(axis=0)
        if standardise:
            sd = X.std(axis=0)
            X = X[:, sd > 0] / sd[sd > 0]
        M = X.T @ X / X.shape[0]
        return {"d_eff": np.trace(M) ** 2 / np.sum(M * M)}

    key = _key(raw, settings, centre=bool(centre), standardise=bool(standardise))
    return float(cache.cached_arrays("participation", key, compute)["d_eff"])


def main(argv=None) -> int:
    """``python -m lindiff.data fetch [NAME ...]``: download MNIST, Fashion-MNIST and CIFAR-10 (or
    the named ones) ahead of time; ``python -m lindiff.data status``: which data sets are here."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m lindiff.data", description=main.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    get = sub.add_parser("fetch", help="download data sets into the download folder")
    get.add_argument("names", nargs="*", metavar="NAME",
                     help="mnist, fashion-mnist, cifar10 (default: all three; CelebA cannot be downloaded)")
    sub.add_parser("status", help="say for each data set whether it is here, without downloading")
    args = parser.parse_args(argv)
    if args.command == "status":
        for name in DATASETS:
            why = missing(name, download=False)
            print(f"{name}: {'present' if why is None else 'missing. ' + why}")
        return 0
    for name in args.names or [n for n in DATASETS if n != "celeba"]:
        try:
            paths = fetch(name)
        except Exception as exc:  # unknown name, CelebA, offline: one line, not a traceback
            print(f"{name}: not fetched: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        for path in paths:
            print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
