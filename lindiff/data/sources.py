"""Where the data sets come from: the registry of files and their checksums, locating, verifying, downloading.

Each (data set, split) has a list of sources in order of preference, files relative to the data
folder with their published checksums and, where the file may be redistributed, a download address.
:func:`~lindiff.data.missing` says in one line whether a data set is here;
:func:`~lindiff.data.fetch` downloads one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..progress import progress_enabled, tqdm
from . import cache

DATASETS = ("mnist", "fashion-mnist", "cifar10", "celeba")

# Official CelebA partition of img_align_celeba (list_eval_partition.txt): image numbers, inclusive.
CELEBA_PARTITIONS = {"train": (1, 162770), "valid": (162771, 182637), "test": (182638, 202599)}
_CELEBA_HELP = (
    "CelebA may not be redistributed, so lindiff cannot download it. Obtain it yourself for "
    "non-commercial research under the CUHK MMLab agreement: https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html "
    "-> 'Align&Cropped Images' -> img_align_celeba.zip. Put the zip at {dir}/celeba/img_align_celeba.zip "
    "or unpack it to the folder {dir}/celeba/img_align_celeba/ (JPEG files 000001.jpg ...)."
)


@dataclass(frozen=True)
class Source:
    """One file (or folder) a data set split can be read from, relative to the data folder.

    ``digests`` lists the accepted checksums (``"sha256:<hex>"`` or ``"md5:<hex>"``); empty for a
    user's folder of images, which is checked by content instead. ``url``: where :func:`fetch`
    downloads it (``None``: it may not be redistributed).
    """

    relpath: str
    digests: tuple = ()
    url: str | None = None


def _idx(folder, name, shared, official, base):
    return (Source(f"{folder}/{name}", (f"sha256:{shared}", f"sha256:{official}"), base + name),)


_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"  # the PyTorch mirror of LeCun's files
_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"

# For each (data set, split): the sources in order of preference. The first digest of an IDX file is
# that of the copy in shared/data (PROVENANCE.md; re-gzipped, same decompressed bytes), the second
# that of the official download.
_SOURCES = {
    ("mnist", "train"): _idx(
        "mnist",
        "train-images-idx3-ubyte.gz",
        "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        _MNIST_URL,
    ),
    ("mnist", "test"): _idx(
        "mnist",
        "t10k-images-idx3-ubyte.gz",
        "167310007f03058885c7e95e6c0b19c20de5c7fd3031f4cbdadc9014a523d80b",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        _MNIST_URL,
    ),
    ("fashion-mnist", "train"): _idx(
        "fashion-mnist",
        "train-images-idx3-ubyte.gz",
        "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        _FASHION_URL,
    ),
    ("fashion-mnist", "test"): _idx(
        "fashion-mnist",
        "t10k-images-idx3-ubyte.gz",
        "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        _FASHION_URL,
    ),
    ("cifar10", "test"): (
        Source(
            "cifar10/cifar10_test.npz", ("sha256:188ce03d5c81c4c31f14f44cd426c5bc28d19b26b5a143cf4e227ec0b878535a",)
        ),
        Source(
            "cifar10/cifar-10-python.tar.gz",
            ("sha256:6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",),
            "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        ),
    ),
}
_CELEBA_SOURCES = (
    Source(
        "celeba/celeba_align_89x109_000001-010000.zip",
        ("sha256:b2e4bcd0714a5b1f545817414a8ed39797249a91cacfc891a6504318d3fc328c",),
    ),
    Source("celeba/img_align_celeba.zip", ("md5:00d2c5bc6d35e252742224ab0c1e8fcb",)),
    Source("celeba/img_align_celeba"),
)
for _split in CELEBA_PARTITIONS:
    _SOURCES[("celeba", _split)] = _CELEBA_SOURCES

# Per data set: default split, whether it has colour, default output resolution (None: the stored
# size) and default crop.
DEFAULTS = {
    "mnist": ("train", False, None, "none"),
    "fashion-mnist": ("train", False, None, "none"),
    "cifar10": ("test", True, None, "none"),
    "celeba": ("train", True, 80, "square"),
}


# ---------------------------------------------------------------------------------- locating files
def download_dir() -> Path:
    """Folder :func:`fetch` downloads into: ``<lindiff.data.cache.cache_dir()>/data``."""
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


def check_name_split(name, split) -> str:
    """The split asked for, or the data set's default one; raises for an unknown data set or split."""
    if name not in DEFAULTS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    split = DEFAULTS[name][0] if split is None else split
    if (name, split) not in _SOURCES:
        have = sorted(s for (n, s) in _SOURCES if n == name)
        extra = " (only the CIFAR-10 test set is provided: pass split='test')" if name == "cifar10" else ""
        raise ValueError(f"{name} has no split {split!r}; choose one of {have}{extra}")
    return split


def _verify(path: Path, source: Source) -> str:
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
        f"{', '.join(source.digests)}. "
        + ("It was deleted; " if ours else "Replace it: ")
        + (
            f"run lindiff.data.fetch({source.relpath.split('/')[0]!r}) to download it again."
            if source.url
            else "obtain a fresh copy (see PROVENANCE.md of the data folder)."
        )
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


def locate(name: str, split: str, data_dir, download: bool = True):
    """(source, path, digest) of the first available source of a split, checked.

    A split found in no folder is downloaded first (:func:`fetch`) when it may be, ``download`` is
    true and downloads are allowed (:func:`downloads_allowed`). ``digest`` is None for a user's folder
    (checked by content later). Raises FileNotFoundError saying where it looked and how to get the data.
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
        how = (
            f"Set LINDIFF_DATA_DIR to a folder holding {_SOURCES[(name, split)][0].relpath}, or "
            f"download it (needs internet) with lindiff.data.fetch({name!r}) or "
            f"`python -m lindiff.data fetch {name}`."
        )
    raise FileNotFoundError(f"no {name} {split} data found; looked for: {looked}.{failure} {how}")


def missing(name: str, data_dir=None, download: bool = True) -> str | None:
    """None if data set ``name`` can be loaded here (all its splits), else one short line why not.

    Looks in the data folders and, if ``download`` and where allowed, downloads it first. The line
    says which data set, where it was looked for and how to get it, e.g. for a notice on a page.
    """
    check_name_split(name, None)
    splits = ["train"] if name == "celeba" else sorted(s for (n, s) in _SOURCES if n == name)
    try:
        for split in splits:
            locate(name, split, data_dir, download)
    except ValueError as exc:  # a file that fails its checksum
        return f"{name}: {exc}"
    except FileNotFoundError as exc:
        dirs = _search_dirs(data_dir)
        where = " or ".join(str(d / name) for d in dirs)  # each data set has the folder of its name
        if name == "celeba":
            how = (
                f"it cannot be downloaded (its licence forbids redistribution): obtain "
                f"img_align_celeba.zip from the CelebA site under its terms and put it in {dirs[0] / name}"
            )
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

    if name not in DEFAULTS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    if name == "celeba":
        raise ValueError(_CELEBA_HELP.format(dir=_search_dirs(None)[0]))
    if not downloads_allowed():
        raise RuntimeError(
            f"downloads are switched off (LINDIFF_OFFLINE is set): {name} was not fetched; "
            "unset LINDIFF_OFFLINE, or put the files in LINDIFF_DATA_DIR"
        )
    root = Path(path).expanduser() if path is not None else download_dir()
    bar = progress_enabled() and tqdm is not None
    out = []
    for (n, _), sources in _SOURCES.items():
        for source in sources:
            if n != name or source.url is None:
                continue
            target = root / source.relpath
            pooch.retrieve(
                source.url,
                known_hash=source.digests[-1],
                fname=target.name,
                path=target.parent,
                downloader=pooch.HTTPDownloader(progressbar=bar, timeout=60),
            )
            out.append(target)
    return out
