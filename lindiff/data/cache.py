"""On-disk cache of computed arrays, and memoised file checksums.

Expensive results (a covariance eigendecomposition at d = 6400 takes about a minute) are stored
under the cache folder, by default ``~/.cache/lindiff``, overridden by the environment variable
``LINDIFF_CACHE_DIR``. An entry is an ``.npz`` file named by the SHA-256 of its key. The key is
the caller's JSON-able dict, which must name the data actually used (the checksum of the files read,
or :func:`arrays_digest` of the arrays passed in, not the recipe that made them) and the parameters,
and to which :func:`cached_arrays` always adds :func:`package_digest`, one digest of the source of
the whole package (every ``.py`` file under ``lindiff/`` outside ``lindiff/book``, which only
draws): a change to any function a result may pass through misses, with no hand-kept list of
modules to go stale. The rules:

- **survives nothing but a match**: on read, the key stored inside the entry must equal the key
  asked for, and the SHA-256 of the stored arrays must equal the digest stored beside them;
  anything else (a different key, a truncated or corrupt file, a missing array) counts as a miss:
  the entry is deleted, recomputed and written again;
- **atomic writes**: an entry is written to a temporary file in the same folder, flushed to disk
  and moved into place with :func:`os.replace`, so a reader never sees a half-written entry and an
  interrupted write leaves no entry behind. A process killed while writing leaves its temporary
  file (``<entry>.<pid>@<host>.<random>.tmp``); the next write of the same entry deletes it once it
  is a minute old or its writer, on this host, is gone;
- **shared and read-only caches**: entries are readable by the group and others (mode 0644), so
  users can share a cache folder; where the cache cannot be read, cleaned or written (a read-only
  or foreign folder), the result is computed without caching and one ``RuntimeWarning`` says so.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

_FORMAT = 1  # layout of an entry; part of every key
_KEY_FIELD = "__key__"
_DIGEST_FIELD = "__digest__"
_CHUNK = 1 << 22
_FILE_DIGESTS: dict[tuple, str] = {}
_STALE_SECONDS = 60.0  # a temporary file untouched this long is left over from a killed writer
_ENTRY_MODE = 0o644  # readable by every user sharing the cache folder


def cache_dir() -> Path:
    """The cache folder: ``$LINDIFF_CACHE_DIR`` if set, else ``~/.cache/lindiff``."""
    env = os.environ.get("LINDIFF_CACHE_DIR", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "lindiff"


def file_digest(path, algorithm: str = "sha256") -> str:
    """``"<algorithm>:<hex digest>"`` of a file's bytes, memoised for the session.

    The memo is keyed by (resolved path, size, modification and status-change times in ns, inode,
    algorithm), so a file that is rewritten is hashed again, even with the same size and a
    modification time set back (writing changes the status-change time, which cannot be set back,
    and a replaced file has a new inode); an unchanged file is hashed once per Python process.
    """
    if algorithm not in ("sha256", "md5"):
        raise ValueError(f"algorithm must be 'sha256' or 'md5', got {algorithm!r}")
    path = Path(path).resolve()
    st = path.stat()
    memo_key = (str(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, algorithm)
    if memo_key not in _FILE_DIGESTS:
        h = hashlib.new(algorithm)
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(_CHUNK), b""):
                h.update(block)
        _FILE_DIGESTS[memo_key] = f"{algorithm}:{h.hexdigest()}"
    return _FILE_DIGESTS[memo_key]


def package_digest() -> str:
    """SHA-256 of the source of the package: every ``.py`` file under ``lindiff/`` outside
    ``lindiff/book``, with its path relative to ``lindiff/``, in path order.

    :func:`cached_arrays` puts it in every key, so an edit anywhere in the mathematics or the data
    layer misses every entry (``lindiff/book`` only draws and renders, and never feeds a cached
    result).
    """
    root = Path(__file__).resolve().parent.parent  # the lindiff package folder
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith("book/") or "__pycache__" in rel:
            continue
        h.update(f"{rel}|{path.stat().st_size}|".encode())
        h.update(path.read_bytes())
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
    if not isinstance(key, dict):
        raise ValueError(f"a cache key must be a dict, got {type(key).__name__}")
    if "format" in key or "package" in key:
        raise ValueError("'format' and 'package' are the cache's own key fields; name yours otherwise")
    try:
        full = {**key, "format": _FORMAT, "package": package_digest()}
        return json.dumps(full, sort_keys=True, separators=(",", ":"))
    except TypeError as exc:
        raise ValueError(f"a cache key must be JSON-serialisable (str, int, float, bool, None, lists): {exc}") from None


def entry_path(kind: str, key: dict) -> Path:
    """Where the entry for ``key`` lives: ``cache_dir()/kind/<sha256 of the key>.npz`` (the key with
    the package's digest added, :func:`package_digest`)."""
    if not kind or not kind.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"kind must be a plain name such as 'spectrum', got {kind!r}")
    name = hashlib.sha256(_canonical(key).encode()).hexdigest()[:40]
    return cache_dir() / kind / f"{name}.npz"


def _read(path: Path, canonical: str):
    """The arrays stored at ``path`` if the entry is intact and its key matches, else None.

    Raises PermissionError if the cache folder cannot be searched.
    """
    if not path.exists():
        return None
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


def _writer_gone(pid: int, host: str) -> bool:
    """Whether process ``pid`` of ``host`` is known to have ended (only a process of this host can be
    checked, and only on POSIX, where signal 0 probes without killing)."""
    if host != socket.gethostname() or os.name != "posix":
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by another user
        return False
    return False


def _remove_stale_temporaries(path: Path) -> None:
    """Delete temporary files of the entry at ``path`` left by killed writers (see the module docstring)."""
    now = time.time()
    for tmp in path.parent.glob(f"{path.stem}.*.tmp"):
        writer = tmp.name[len(path.stem) + 1 :].rsplit(".", 2)[0]  # "<pid>@<host>"
        pid, _, host = writer.partition("@")
        try:
            stale = now - tmp.stat().st_mtime > _STALE_SECONDS or (pid.isdigit() and _writer_gone(int(pid), host))
            if stale:
                tmp.unlink()
        except OSError:  # gone meanwhile (its writer finished), or not ours to delete
            pass


def _write(path: Path, canonical: str, arrays: dict) -> None:
    """Write an entry atomically: temporary file in the same folder, fsync, then os.replace."""
    digest = arrays_digest(arrays)  # before the temporary file exists: a slow hash never makes it look stale
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    prefix = f"{path.stem}.{os.getpid()}@{socket.gethostname()}."
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays, **{_KEY_FIELD: np.array(canonical), _DIGEST_FIELD: np.array(digest)})
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _ENTRY_MODE)  # mkstemp creates it readable by its owner only
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
        JSON-able description of the data actually used (file checksums, :func:`arrays_digest` of
        input arrays) and the parameters; the package's source (:func:`package_digest`) is added
        here, so the key need not name any code of ``lindiff``.
    compute : callable
        ``compute() -> dict[str, array_like]``, called on a miss; its result is stored.

    Returns
    -------
    dict of ndarray
        Fresh arrays (not views of the file). A corrupt or mismatching entry is deleted and
        recomputed. If the cache folder cannot be read, cleaned or written, the result is computed
        and returned without caching, with one warning.
    """
    canonical = _canonical(key)
    path = entry_path(kind, key)
    try:
        stored = _read(path, canonical)
        if stored is not None:
            return stored
        path.unlink(missing_ok=True)  # a corrupt or mismatching entry
    except OSError as exc:  # a folder we may not search, or a read-only one we may not clean
        arrays = _computed(compute)
        _warn_uncached(path, exc, "use")
        return arrays
    arrays = _computed(compute)
    try:
        _write(path, canonical, arrays)
    except OSError as exc:
        _warn_uncached(path, exc, "write")
    return arrays


def _computed(compute) -> dict:
    result = compute()
    if not isinstance(result, dict):
        raise ValueError(f"compute() must return a dict of arrays, got {type(result).__name__}")
    arrays = {name: np.asarray(value) for name, value in result.items()}
    if any(not isinstance(name, str) or name.startswith("__") for name in arrays):
        raise ValueError("array names must be strings not starting with '__' (reserved for the cache's own fields)")
    for name, a in arrays.items():
        if a.dtype.kind not in "biufc":
            raise ValueError(
                f"compute() returned {name!r} of dtype {a.dtype}; the cache stores numeric arrays only "
                "(an object or string array cannot be checked on reading: convert it to numbers)"
            )
    return arrays


def _warn_uncached(path: Path, exc: OSError, what: str) -> None:
    warnings.warn(
        f"could not {what} the cache entry {path} ({exc}); the result was computed without the "
        "cache. Set LINDIFF_CACHE_DIR to a folder you can write to keep results between runs",
        RuntimeWarning,
        stacklevel=3,
    )
