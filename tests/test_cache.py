"""The on-disk cache: hits only on an intact entry with the same key, atomic writes, file digests."""
import hashlib
import os
import warnings

import numpy as np
import pytest

from lindiff import cache


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


def test_source_digest_changes_with_the_code(tmp_path):
    import importlib.util

    mod_path = tmp_path / "fake_module.py"
    mod_path.write_text("x = 1\n")
    spec = importlib.util.spec_from_file_location("fake_module", mod_path)
    module = importlib.util.module_from_spec(spec)
    first = cache.source_digest(module)
    mod_path.write_text("x = 2\n")
    assert cache.source_digest(module) != first
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache.source_digest(cache) == cache.source_digest(cache)
