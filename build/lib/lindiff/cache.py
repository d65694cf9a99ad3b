"""On-disk cache of computed arrays, and memoised file checksums.

Expensive results (a covariance eigendecomposition at d = 6400 takes about a minute) are stored
under the cache folder, by default ``~/.cache/lindiff``, overridden by the environment variable
``LINDIFF_CACHE_DIR``. An entry is an ``.npz`` file named by the SHA-256 of its key; the key is a
JSON-able dict that must say everything the result depends on (data checksums, preprocessing,
parameters and the source code that computed it). The rules:

- **survives nothing but a match**: on read, the key stored inside the entry must equal the key
  asked for, and the SHA-256 of the stored arrays must equal the digest stored beside them;
  anything else (a different key, a truncated or corrupt file, a missing array) counts as a miss:
  the entry is deleted, recomputed and written again;
- **atomic writes**: an entry is written to a temporary file in the same folder, flushed to disk
  and moved into place with :func:`os.replace`, so a reader never sees a half-written entry and an
  interrupted write leaves no entry behind.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

_FORMAT = 1  # layout of an entry; part of every key
_KEY_FIELD = "__key__"
_DIGEST_FIELD = "__digest__"
_CHUNK = 1 << 22
_FILE_DIGESTS: dict[tuple, str] = {}


def cache_dir() -> Path:
    """The cache folder: ``$LINDIFF_CACHE_DIR`` if set, else ``~/.cache/lindiff``."""
    env = os.environ.get("LINDIFF_CACHE_DIR", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "lindiff"


def file_digest(path, algorithm: str = "sha256") -> str:
    """``"<algorithm>:<hex digest>"`` of a file's bytes, memoised for the session.

    The memo is keyed by (resolved path, size, modification time in ns, algorithm), so a file that
    is rewritten is hashed again; an unchanged file is hashed once per Python process.
    """
    if algorithm not in ("sha256", "md5"):
        raise ValueError(f"algorithm must be 'sha256' or 'md5', got {algorithm!r}")
    path = Path(path).resolve()
    st = path.stat()
    memo_key = (str(path), st.st_size, st.st_mtime_ns, algorithm)
    if memo_key not in _FILE_DIGESTS:
        h = hashlib.new(algorithm)
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(_CHUNK), b""):
                h.update(block)
        _FILE_DIGESTS[memo_key] = f"{algorithm}:{h.hexdigest()}"
    return _FILE_DIGESTS[memo_key]


def source_digest(*modules) -> str:
    """SHA-256 of the source files of ``modules``: put it in a key so that a code change misses."""
    h = hashlib.sha256()
    for module in modules:
        h.update(Path(module.__file__).read_bytes())
    return h.hexdigest()


def arrays_digest(arrays: dict) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of a dict of arrays (in name order)."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _canonical(key: dict) -> str:
    try:
        return json.dumps({"format": _FORMAT, **key}, sort_keys=True, separators=(",", ":"))
    except TypeError as exc:
        raise ValueError(f"a cache key must be JSON-serialisable (str, int, float, bool, None, lists): {exc}") from None


def entry_path(kind: str, key: dict) -> Path:
    """Where the entry for ``key`` lives: ``cache_dir()/kind/<sha256 of the key>.npz``."""
    if not kind or not kind.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"kind must be a plain name such as 'spectrum', got {kind!r}")
    name = hashlib.sha256(_canonical(key).encode()).hexdigest()[:40]
    return cache_dir() / kind / f"{name}.npz"


def _read(path: Path, canonical: str):
    """The arrays stored at ``path`` if the entry is intact and its key matches, else None."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            stored = {name: npz[name] for name in npz.files}
    except Exception:  # unreadable, truncated or not an npz file: a miss
        return None
    key = stored.pop(_KEY_FIELD, None)
    digest = stored.pop(_DIGEST_FIELD, None)
    if key is None or digest is None or str(key) != canonical or str(digest) != arrays_digest(stored):
        return None
    return stored


def _write(path: Path, canonical: str, arrays: dict) -> None:
    """Write an entry atomically: temporary file in the same folder, fsync, then os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays, **{_KEY_FIELD: np.array(canonical), _DIGEST_FIELD: np.array(arrays_digest(arrays))})
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cached_arrays(kind: str, key: dict, compute) -> dict:
    """Return ``compute()`` (a dict of arrays), from the cache when an intact matching entry exists.

    Parameters
    ----------
    kind : str
        Sub-folder of the cache, e.g. ``"spectrum"``.
    key : dict
        JSON-able description of everything the result depends on.
    compute : callable
        ``compute() -> dict[str, array_like]``, called on a miss; its result is stored.

    Returns
    -------
    dict of ndarray
        Fresh arrays (not views of the file). A corrupt or mismatching entry is deleted and
        recomputed. If the cache folder cannot be written, the result is returned with a warning.
    """
    canonical = _canonical(key)
    path = entry_path(kind, key)
    if path.exists():
        stored = _read(path, canonical)
        if stored is not None:
            return stored
        path.unlink(missing_ok=True)
    arrays = {name: np.asarray(value) for name, value in compute().items()}
    if any(name.startswith("__") for name in arrays):
        raise ValueError("array names starting with '__' are reserved for the cache's own fields")
    try:
        _write(path, canonical, arrays)
    except OSError as exc:
        warnings.warn(f"could not write the cache entry {path} ({exc}); set LINDIFF_CACHE_DIR to a "
                      "writable folder to keep results between runs", RuntimeWarning, stacklevel=2)
    return arrays
