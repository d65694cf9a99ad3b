"""File readers: IDX (MNIST, Fashion-MNIST), CIFAR-10 (npz or the official tar), CelebA (zip or folder of JPEGs).

Each reader returns uint8 images, (n, H, W) or (n, H, W, 3); ``raw_split`` locates and checks the
files of a split (:mod:`lindiff.data.sources`) and returns a ``RawSplit`` that reads them.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import struct
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._checks import check_positive_int
from ..progress import progress
from .sources import CELEBA_PARTITIONS, Source, check_name_split, locate

# The official aligned faces are 178 x 218; as they are decoded they are reduced 2x by box averaging
# to the 89 x 109 of the subset in shared/data, and a split's default is its first 10,000 faces
# (000001-010000 of the train partition: the subset's faces), so both copies give the same data.
CELEBA_OFFICIAL_SIZE = (178, 218)  # (width, height)
CELEBA_DEFAULT_N = 10_000


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

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

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


def _celeba_members(source: Source, path: Path, split: str):
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
            raise ValueError(
                f"{path} lacks CelebA image {expected:06d}.jpg (the next one found is {m}); "
                "restore the missing file, or use a complete copy of img_align_celeba"
            )
    return members


def _celeba_bytes(source: Source, path: Path, members):
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
                    raise ValueError(
                        f"{path}: {m} cannot be extracted ({exc}); replace the zip with a fresh copy"
                    ) from None
                yield raw


def _folder_digest(source: Source, path: Path, members) -> str:
    """For a user's folder (no published checksum): SHA-256 of the selected files' names and bytes."""
    h = hashlib.sha256()
    for (_, m), raw in zip(members, _celeba_bytes(source, path, members)):
        h.update(f"{m}|{len(raw)}|".encode())
        h.update(raw)
    return f"sha256:{h.hexdigest()}"


def _read_celeba(source: Source, path: Path, members) -> np.ndarray:
    """Decode the JPEGs of ``members`` to uint8 (n, H, W, 3); all must have the same size.

    Official 178 x 218 faces are reduced 2x as they are decoded (PIL's ``Image.reduce(2)``: the mean
    of each 2 x 2 block), to the 89 x 109 of the subset, so a full copy never holds full-size images.
    """
    from PIL import Image

    out = None
    for i, raw in enumerate(progress(_celeba_bytes(source, path, members), total=len(members), desc="decoding CelebA")):
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
            raise ValueError(
                f"{path}: image {members[i][1]} is {img.shape[1]} x {img.shape[0]}, "
                f"the others {out.shape[2]} x {out.shape[1]}; all images must share one size"
            )
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
class RawSplit:
    """A located, checked split: enough to key a cache entry and to read the uint8 images.

    ``n`` is the number of images asked for (None: all of the split); ``digest`` the checksum of
    the file (or, for a user's folder, of the selected images) that keys cache entries.
    """

    name: str
    split: str
    n: int | None
    source: Source
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


def raw_split(name, split, n, data_dir) -> RawSplit:
    """Locate and check the files of a split (n: the first n images; None: all)."""
    split = check_name_split(name, split)
    if n is not None:
        n = check_positive_int(n, "n")
    source, path, digest = locate(name, split, data_dir)
    if name != "celeba":
        return RawSplit(name, split, n, source, path, digest)
    members = _celeba_members(source, path, split)
    if n is None:  # never decode a whole 162,770-face split by default
        n = min(CELEBA_DEFAULT_N, len(members))
    if n > len(members):
        raise ValueError(f"asked for n = {n} images but {path} holds {len(members)} {split} images")
    members = tuple(members[:n])
    if digest is None:
        digest = _folder_digest(source, path, members)
    return RawSplit(name, split, n, source, path, digest, members)
