"""The on-disk cache: hits only on an intact entry with the same key, atomic writes, file digests."""

import hashlib
import os
import sys
import warnings

import numpy as np
import pytest

from lindiff.data import cache


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("LINDIFF_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


class Counter:
    """compute() for cached_arrays that counts its calls."""

    def __init__(self, value=1.0):
        self.calls = 0
        self.value = value

    def __call__(self):
        self.calls += 1
        return {"x": np.arange(5.0) * self.value, "m": np.eye(3) * self.value}


def test_cache_dir_from_environment(cache_in_tmp, monkeypatch):
    assert cache.cache_dir() == cache_in_tmp
    monkeypatch.delenv("LINDIFF_CACHE_DIR")
    assert cache.cache_dir() == cache.Path.home() / ".cache" / "lindiff"


def test_hit_after_miss_returns_identical_arrays():
    compute = Counter()
    first = cache.cached_arrays("demo", {"a": 1}, compute)
    second = cache.cached_arrays("demo", {"a": 1}, compute)
    assert compute.calls == 1
    for name in ("x", "m"):
        assert np.array_equal(first[name], second[name])
        assert second[name].dtype == np.float64


def test_different_key_is_a_miss():
    compute = Counter()
    cache.cached_arrays("demo", {"a": 1}, compute)
    cache.cached_arrays("demo", {"a": 2}, compute)
    cache.cached_arrays("demo", {"a": 1, "b": None}, compute)
    assert compute.calls == 3


def test_entry_under_the_wrong_key_is_not_used():
    """An entry whose stored key differs (e.g. a file copied over) is recomputed, never trusted."""
    cache.cached_arrays("demo", {"a": 1}, Counter(1.0))
    src, dst = cache.entry_path("demo", {"a": 1}), cache.entry_path("demo", {"a": 2})
    dst.write_bytes(src.read_bytes())
    compute = Counter(2.0)
    out = cache.cached_arrays("demo", {"a": 2}, compute)
    assert compute.calls == 1 and out["x"][1] == 2.0


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "empty"])
def test_corrupt_entry_is_recomputed_and_rewritten(damage):
    key = {"a": 1}
    cache.cached_arrays("demo", key, Counter())
    path = cache.entry_path("demo", key)
    raw = path.read_bytes()
    if damage == "flip":
        # flip a byte inside the stored arrays (the zip's data region, well before the directory)
        data = bytearray(raw)
        idx = raw.index(np.arange(5.0).tobytes()) + 9
        data[idx] ^= 0x01
        path.write_bytes(bytes(data))
    elif damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        path.write_bytes(b"not an npz file")
    else:
        path.write_bytes(b"")
    compute = Counter()
    out = cache.cached_arrays("demo", key, compute)
    assert compute.calls == 1
    assert np.array_equal(out["x"], np.arange(5.0))
    # the rewritten entry is intact: the next call hits
    again = Counter()
    cache.cached_arrays("demo", key, again)
    assert again.calls == 0


def test_digest_mismatch_detected_even_if_zip_is_valid(cache_in_tmp):
    """An npz with the right key but arrays that do not match the stored digest is a miss."""
    key = {"a": 1}
    cache.cached_arrays("demo", key, Counter())
    path = cache.entry_path("demo", key)
    with np.load(path) as npz:
        stored = {k: npz[k] for k in npz.files}
    stored["x"] = stored["x"] + 1.0  # valid file, wrong content
    np.savez(path, **stored)
    compute = Counter()
    cache.cached_arrays("demo", key, compute)
    assert compute.calls == 1


def test_failed_compute_leaves_no_entry():
    def boom():
        raise RuntimeError("compute failed")

    with pytest.raises(RuntimeError):
        cache.cached_arrays("demo", {"a": 1}, boom)
    assert not cache.entry_path("demo", {"a": 1}).exists()


def test_interrupted_write_leaves_nothing(monkeypatch):
    """A write that fails half-way leaves neither an entry nor a temporary file."""
    real_savez = np.savez

    def savez_then_fail(f, **arrays):
        real_savez(f, **arrays)
        raise OSError("disk full")

    monkeypatch.setattr(cache.np, "savez", savez_then_fail)
    with pytest.warns(RuntimeWarning, match="could not write"):
        out = cache.cached_arrays("demo", {"a": 1}, Counter())
    assert np.array_equal(out["x"], np.arange(5.0))
    folder = cache.entry_path("demo", {"a": 1}).parent
    assert list(folder.iterdir()) == []


def test_writes_go_through_a_temporary_file_and_os_replace(monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append((str(src), str(dst)))
        assert os.path.getsize(src) > 0 and not os.path.exists(dst)
        real_replace(src, dst)

    monkeypatch.setattr(cache.os, "replace", spy)
    cache.cached_arrays("demo", {"a": 1}, Counter())
    path = cache.entry_path("demo", {"a": 1})
    assert len(seen) == 1 and seen[0][1] == str(path) and seen[0][0].endswith(".tmp")
    assert os.path.dirname(seen[0][0]) == str(path.parent)


def test_unwritable_cache_warns_and_still_returns(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("LINDIFF_CACHE_DIR", str(blocker))
    with pytest.warns(RuntimeWarning, match="LINDIFF_CACHE_DIR"):
        out = cache.cached_arrays("demo", {"a": 1}, Counter())
    assert np.array_equal(out["x"], np.arange(5.0))


def test_bad_keys_and_names():
    with pytest.raises(ValueError, match="JSON"):
        cache.cached_arrays("demo", {"a": object()}, Counter())
    with pytest.raises(ValueError, match="kind"):
        cache.cached_arrays("../escape", {"a": 1}, Counter())
    with pytest.raises(ValueError, match="reserved"):
        cache.cached_arrays("demo", {"a": 1}, lambda: {"__key__": np.zeros(1)})


def test_arrays_digest_sees_dtype_shape_and_values():
    a = {"x": np.arange(6.0)}
    assert cache.arrays_digest(a) == cache.arrays_digest({"x": np.arange(6.0)})
    assert cache.arrays_digest(a) != cache.arrays_digest({"x": np.arange(6.0).reshape(2, 3)})
    assert cache.arrays_digest(a) != cache.arrays_digest({"x": np.arange(6)})
    assert cache.arrays_digest(a) != cache.arrays_digest({"y": np.arange(6.0)})


def test_file_digest_matches_hashlib_and_is_memoised(tmp_path, monkeypatch):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc" * 1000)
    assert cache.file_digest(path) == "sha256:" + hashlib.sha256(b"abc" * 1000).hexdigest()
    assert cache.file_digest(path, "md5") == "md5:" + hashlib.md5(b"abc" * 1000).hexdigest()
    opened = []
    real_open = open

    def spy_open(p, *args, **kwargs):
        opened.append(str(p))
        return real_open(p, *args, **kwargs)

    monkeypatch.setattr("builtins.open", spy_open)
    cache.file_digest(path)
    assert opened == []  # memoised: same path, size and mtime
    path.write_bytes(b"abcd" * 1000)  # new size and mtime: hashed again
    assert cache.file_digest(path) == "sha256:" + hashlib.sha256(b"abcd" * 1000).hexdigest()
    assert opened == [str(path.resolve())]
    with pytest.raises(ValueError, match="algorithm"):
        cache.file_digest(path, "sha1")


# ----------------------------------------------------------------- shared and read-only caches (issue 12)
def _corrupt_entry(key):
    cache.cached_arrays("demo", key, Counter())
    path = cache.entry_path("demo", key)
    path.write_bytes(b"corrupt")
    return path


def _deny(monkeypatch, name, owner, inside):
    """Make ``owner.name`` raise PermissionError for paths inside ``inside``: what a non-root user meets."""
    real = getattr(owner, name)

    def denied(*args, **kwargs):
        target = args[0] if args else kwargs.get("dir")  # a path, a Path's self, or mkstemp's dir=
        if str(inside) in str(target):
            raise PermissionError(13, "Permission denied", str(target))
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, denied)


def test_corrupt_entry_in_a_read_only_cache_is_recomputed_with_one_warning(cache_in_tmp, monkeypatch):
    """The folder may be read but not changed: the corrupt entry can be neither deleted nor replaced."""
    path = _corrupt_entry({"a": 1})
    _deny(monkeypatch, "unlink", cache.Path, cache_in_tmp)
    _deny(monkeypatch, "mkstemp", cache.tempfile, cache_in_tmp)
    compute = Counter(3.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = cache.cached_arrays("demo", {"a": 1}, compute)
    assert compute.calls == 1 and np.array_equal(out["x"], 3.0 * np.arange(5.0))
    assert [str(w.message).split(" (")[0] for w in caught] == [f"could not use the cache entry {path}"]
    assert path.read_bytes() == b"corrupt"


@pytest.mark.skipif(
    sys.version_info < (3, 11), reason="Python 3.10's pathlib binds os.stat at import: the monkeypatch cannot reach it"
)
def test_unsearchable_cache_folder_computes_with_one_warning(cache_in_tmp, monkeypatch):
    """A folder without search permission: even asking whether the entry exists fails."""
    cache.cached_arrays("demo", {"a": 1}, Counter())
    _deny(monkeypatch, "stat", cache.os, cache_in_tmp)  # Path.exists and Path.stat go through os.stat
    compute = Counter(2.0)
    with pytest.warns(RuntimeWarning, match="could not use the cache entry") as caught:
        out = cache.cached_arrays("demo", {"a": 1}, compute)
    assert len(caught) == 1 and compute.calls == 1 and out["x"][1] == 2.0


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() == 0,
    reason="permission bits are not enforced for root; the monkeypatched tests above cover it",
)
def test_real_read_only_and_unreadable_cache_folders(cache_in_tmp):
    path = _corrupt_entry({"a": 1})
    folder = path.parent
    try:
        folder.chmod(0o555)  # read-only
        with pytest.warns(RuntimeWarning, match="could not use the cache entry"):
            assert cache.cached_arrays("demo", {"a": 1}, Counter(2.0))["x"][1] == 2.0
        folder.chmod(0o000)  # not even searchable
        with pytest.warns(RuntimeWarning, match="could not use the cache entry"):
            assert cache.cached_arrays("demo", {"a": 1}, Counter(2.0))["x"][1] == 2.0
    finally:
        folder.chmod(0o755)


def test_entries_are_readable_by_the_group_and_others():
    cache.cached_arrays("demo", {"a": 1}, Counter())
    mode = cache.entry_path("demo", {"a": 1}).stat().st_mode & 0o777
    assert mode & 0o044 == 0o044 and mode & 0o022 == 0


_KILLED_WRITER = """
import os, signal, sys
import numpy as np
from lindiff.data import cache
cache.os.replace = lambda *args: os.kill(os.getpid(), signal.SIGKILL)  # killed after writing, before the move
cache.cached_arrays("demo", {"a": 1}, lambda: {"x": np.arange(5.0)})
"""


@pytest.mark.skipif(os.name != "posix", reason="needs SIGKILL and signal-0 probing of process ids")
def test_temporary_files_of_killed_writers_are_cleaned_on_the_next_write(cache_in_tmp):
    import subprocess
    import sys
    import time

    proc = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITER], env={**os.environ, "LINDIFF_CACHE_DIR": str(cache_in_tmp)}
    )
    assert proc.returncode == -9
    path = cache.entry_path("demo", {"a": 1})
    (killed,) = path.parent.glob("*.tmp")  # left behind by the killed process
    host = cache.socket.gethostname()
    live = path.parent / f"{path.stem}.{os.getpid()}@{host}.live.tmp"  # a writer still at work: kept
    live.write_bytes(b"partial")
    old = path.parent / f"{path.stem}.{os.getpid()}@{host}.old.tmp"  # untouched for two minutes: stale
    old.write_bytes(b"partial")
    os.utime(old, (time.time() - 120, time.time() - 120))
    foreign = path.parent / f"{path.stem}.1@another-host.remote.tmp"  # another host's, recent: kept
    foreign.write_bytes(b"partial")
    other_entry = path.parent / f"{'0' * 40}.1@{host}.x.tmp"  # another entry's: not this write's business
    other_entry.write_bytes(b"partial")
    os.utime(other_entry, (time.time() - 120, time.time() - 120))
    cache.cached_arrays("demo", {"a": 1}, Counter())
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(
        [path.name, live.name, foreign.name, other_entry.name]
    )
    assert not killed.exists()


def test_file_digest_sees_a_rewrite_with_the_same_size_and_modification_time(tmp_path):
    import time

    path = tmp_path / "f.bin"
    path.write_bytes(b"a" * 100)
    first = cache.file_digest(path)
    st = path.stat()
    time.sleep(0.05)  # past the file system's timestamp granularity
    path.write_bytes(b"b" * 100)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # size and mtime as before
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    assert cache.file_digest(path) == "sha256:" + hashlib.sha256(b"b" * 100).hexdigest() != first


# ------------------------------------------------- one digest for every cache (issue 24)
_CACHED_IN_COPY = """
import sys
import numpy as np
from lindiff.data import cache
calls = []
def compute():
    calls.append(1)
    return {"x": np.arange(3.0)}
cache.cached_arrays("demo", {"a": 1}, compute)
print("miss" if calls else "hit")
"""


def _run_in_copy(root, cache_folder):
    import subprocess

    env = {**os.environ, "LINDIFF_CACHE_DIR": str(cache_folder), "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", _CACHED_IN_COPY], env=env, capture_output=True, text=True, cwd=root)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_an_edit_to_any_function_of_the_package_misses_every_entry(tmp_path):
    """Every key holds the digest of the whole package's source, not a hand-kept list of modules:
    editing a function that no key ever named (``gaussian_kl``) misses; editing ``lindiff/book``,
    which only draws, does not."""
    import shutil
    from pathlib import Path

    import lindiff

    root = tmp_path / "copy"
    shutil.copytree(Path(lindiff.__file__).parent, root / "lindiff", ignore=shutil.ignore_patterns("__pycache__"))
    folder = tmp_path / "cache"
    assert _run_in_copy(root, folder) == "miss"
    assert _run_in_copy(root, folder) == "hit"
    kl = root / "lindiff" / "kl.py"
    source = kl.read_text()
    assert "def gaussian_kl(" in source
    kl.write_text(source.replace("def gaussian_kl(", "def gaussian_kl(  # edited\n", 1))
    assert _run_in_copy(root, folder) == "miss"
    assert _run_in_copy(root, folder) == "hit"
    style = root / "lindiff" / "book" / "style.py"
    style.write_text(style.read_text() + "\n# a drawing change\n")
    assert _run_in_copy(root, folder) == "hit"
    (root / "lindiff" / "new_module.py").write_text("x = 1\n")  # a new module counts too
    assert _run_in_copy(root, folder) == "miss"


def test_package_digest_is_in_every_key(monkeypatch):
    before = cache.entry_path("demo", {"a": 1})
    monkeypatch.setattr(cache, "package_digest", lambda: "another source")
    assert cache.entry_path("demo", {"a": 1}) != before
    with pytest.raises(ValueError, match="own key fields"):
        cache.entry_path("demo", {"package": "mine"})


@pytest.mark.parametrize("bad", [np.array([{"a": 1}], dtype=object), np.array(["text"]), None])
def test_non_numeric_arrays_are_refused_not_stored(bad):
    with pytest.raises(ValueError, match="numeric arrays only"):
        cache.cached_arrays("demo", {"a": 1}, lambda: {"x": bad})
    assert not cache.entry_path("demo", {"a": 1}).exists()
