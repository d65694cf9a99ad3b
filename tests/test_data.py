"""Data loaders: file checks, readers, preprocessing and the cached spectra.

Most tests run on tiny files they write themselves (IDX, npz, tar.gz, zip of generated JPEGs),
registered in place of the real ones with their own checksums. Tests marked ``real`` check the
real files under ``$LINDIFF_DATA_DIR`` against facts published independently of this code
(the md5 of the decompressed IDX files, the CIFAR-10 channel means); they are skipped without it.
"""

import functools
import gzip
import hashlib
import http.server
import io
import os
import pickle
import struct
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import lindiff as ld
from lindiff import data
from lindiff.book import chapters
from lindiff.data import __main__ as cli
from lindiff.data import cache, covariance, readers, sources

REAL_DIR = os.environ.get("LINDIFF_DATA_DIR", "")
# Skipped without the real files, unless LINDIFF_REQUIRE_ALL is set (CI): then they run, and fail.
real = pytest.mark.skipif(
    not (REAL_DIR and Path(REAL_DIR, "mnist").is_dir()) and not chapters.require_all(),
    reason="LINDIFF_DATA_DIR with the real data sets is not set",
)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Cache in a temporary folder; no real data folder unless a test asks for it."""
    monkeypatch.setenv("LINDIFF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LINDIFF_DATA_DIR", raising=False)
    monkeypatch.setenv("LINDIFF_OFFLINE", "1")  # tests of downloading unset it and serve on 127.0.0.1
    readers._DECODED.clear()
    yield
    readers._DECODED.clear()


# ------------------------------------------------------------------------------- fixture writers
def write_idx(path: Path, images: np.ndarray, magic: int = 2051) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    n, h, w = images.shape
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">IIII", magic, n, h, w) + images.astype(np.uint8).tobytes())
    return path


def register(monkeypatch, name, split, *triples):
    """Replace the registered sources of (name, split) by (relpath, path-or-None, url) triples."""
    entries = tuple(
        sources.Source(rel, (cache.file_digest(p),) if p is not None else (), url) for rel, p, url in triples
    )
    monkeypatch.setitem(sources._SOURCES, (name, split), entries)


def random_images(shape, seed):
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


@pytest.fixture
def mnist_dir(tmp_path, monkeypatch):
    """A data folder with a 7-image 'MNIST' train split of 6 x 5 images and a 3-image test split."""
    root = tmp_path / "data"
    train = random_images((7, 6, 5), seed=1)
    test = random_images((3, 6, 5), seed=2)
    p_train = write_idx(root / "mnist" / "train-images-idx3-ubyte.gz", train)
    p_test = write_idx(root / "mnist" / "t10k-images-idx3-ubyte.gz", test)
    register(monkeypatch, "mnist", "train", ("mnist/train-images-idx3-ubyte.gz", p_train, None))
    register(monkeypatch, "mnist", "test", ("mnist/t10k-images-idx3-ubyte.gz", p_test, None))
    return root, train, test


def smooth_faces(n, h=24, w=20, seed=0):
    """Smooth RGB test images (JPEG-friendly): random low-frequency patterns."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    out = np.empty((n, h, w, 3), dtype=np.uint8)
    for i in range(n):
        a = rng.uniform(0.5, 3.0, (3, 2))
        ph = rng.uniform(0, 2 * np.pi, 3)
        out[i] = np.stack([127 + 100 * np.sin(a[c, 0] * 3 * x + a[c, 1] * 3 * y + ph[c]) for c in range(3)], -1)
    return out


def jpeg_bytes(img):
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def decoded(img_bytes):
    return np.asarray(Image.open(io.BytesIO(img_bytes)).convert("RGB"))


@pytest.fixture
def celeba_zip(tmp_path, monkeypatch):
    """A zip of 12 generated 'train' faces (000001..000012) and 3 'test' faces (182638..182640)."""
    root = tmp_path / "data"
    (root / "celeba").mkdir(parents=True)
    imgs = smooth_faces(15)
    numbers = list(range(1, 13)) + [182638, 182639, 182640]
    blobs = {}
    path = root / "celeba" / "mini.zip"
    with zipfile.ZipFile(path, "w") as z:
        for k, img in zip(numbers[::-1], imgs[::-1]):  # stored out of order on purpose
            blobs[k] = jpeg_bytes(img)
            z.writestr(f"img_align_celeba/{k:06d}.jpg", blobs[k])
    for split in ("train", "test"):
        register(monkeypatch, "celeba", split, ("celeba/mini.zip", path, None))
    return root, numbers, blobs


# ------------------------------------------------------------------------------- area resampling
def brute_area(img, oh, ow):
    """Exact area resampling by supersampling: repeat each pixel oh (ow) times, then block means."""
    h, w = img.shape[:2]
    rows = np.repeat(img, oh, axis=0).reshape((oh, h) + img.shape[1:]).mean(axis=1)
    return np.repeat(rows, ow, axis=1).reshape((oh, ow, w) + img.shape[2:]).mean(axis=2)


@pytest.mark.parametrize("n_in, n_out", [(5, 3), (89, 80), (28, 14), (7, 7), (3, 8), (109, 40)])
def test_area_resampling_matrix_against_supersampling(n_in, n_out):
    R = data.area_resampling_matrix(n_in, n_out)
    x = np.random.default_rng(0).normal(size=(n_in, 1))
    assert np.allclose(R @ x[:, 0], brute_area(x, n_out, 1)[:, 0], atol=1e-12)
    assert np.allclose(R.sum(axis=1), 1.0)
    assert np.allclose(R.sum(axis=0).sum(), n_out)


def test_area_resampling_composes_and_block_averages():
    R89_80, R80_40, R89_40 = (data.area_resampling_matrix(a, b) for a, b in [(89, 80), (80, 40), (89, 40)])
    assert np.allclose(R80_40 @ R89_80, R89_40, atol=1e-13)
    assert np.allclose(data.area_resampling_matrix(6, 3), np.kron(np.eye(3), [[0.5, 0.5]]))
    assert np.array_equal(data.area_resampling_matrix(4, 4), np.eye(4))
    with pytest.raises(ValueError):
        data.area_resampling_matrix(0, 3)


# ------------------------------------------------------------------------------- preprocess
def test_preprocess_scales_and_flattens():
    imgs = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    X, shape = data.preprocess(imgs)
    assert shape == (2, 2) and X.dtype == np.float64
    assert np.allclose(X, [[-1.0, 1.0, 51 / 127.5 - 1, 102 / 127.5 - 1]], atol=1e-15)
    X, _ = data.preprocess(imgs, scale="unit")
    assert np.allclose(X, [[0.0, 1.0, 0.2, 0.4]], atol=1e-15)


def test_preprocess_grey_is_luma_and_matches_pil():
    imgs = random_images((4, 9, 7, 3), seed=3)
    X, shape = data.preprocess(imgs, scale="unit")
    luma = (0.299 * imgs[..., 0] + 0.587 * imgs[..., 1] + 0.114 * imgs[..., 2]) / 255
    assert shape == (9, 7) and np.allclose(X, luma.reshape(4, -1), atol=1e-14)
    pil = np.stack([np.asarray(Image.fromarray(im).convert("L"), dtype=float) for im in imgs]) / 255
    assert np.max(np.abs(X - pil.reshape(4, -1))) <= 1.0 / 255  # PIL rounds to integers


def test_preprocess_colour_keeps_channels_in_hwc_order():
    imgs = random_images((3, 5, 4, 3), seed=4)
    X, shape = data.preprocess(imgs, colour=True, scale="unit")
    assert shape == (5, 4, 3)
    assert np.allclose(X[2].reshape(shape), imgs[2] / 255)


def test_preprocess_crop_then_resample_then_scale():
    imgs = random_images((5, 24, 20, 3), seed=5)
    X, shape = data.preprocess(imgs, crop="square", resolution=(8, 8), scale="pm1")
    assert shape == (8, 8)
    grey = imgs.astype(float) @ [0.299, 0.587, 0.114]
    for i in range(5):
        expect = brute_area(grey[i, 2:22, 0:20], 8, 8) / 127.5 - 1
        assert np.allclose(X[i].reshape(8, 8), expect, atol=1e-12)
    X, shape = data.preprocess(imgs, crop=(10, 6), colour=True)
    assert shape == (10, 6, 3)
    assert np.allclose(X[0].reshape(shape), imgs[0, 7:17, 7:13] / 127.5 - 1)
    X, shape = data.preprocess(imgs, crop=0.5, scale="unit")
    assert shape == (10, 10)  # round(0.5 * min(24, 20)) = 10, top-left (7, 5)
    assert np.allclose(X[1].reshape(shape), grey[1, 7:17, 5:15] / 255)


def test_preprocess_chunking_does_not_change_the_result():
    imgs = random_images((10, 12, 12, 3), seed=6)
    a, _ = data.preprocess(imgs, resolution=5, chunk=3)
    b, _ = data.preprocess(imgs, resolution=5)
    assert np.allclose(a, b, rtol=0, atol=1e-13)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"crop": "centre"}, "crop"),
        ({"crop": 1.5}, "fraction"),
        ({"crop": (30, 4)}, "larger"),
        ({"crop": (3,)}, "crop"),
        ({"resolution": 0}, "resolution"),
        ({"resolution": "big"}, "resolution"),
        ({"scale": "minmax"}, "scale"),
        ({"colour": True}, "RGB"),
    ],
)
def test_preprocess_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.preprocess(random_images((2, 6, 5), seed=0), **kwargs)


@pytest.mark.parametrize(
    "images",
    [np.zeros((2, 4, 4)), np.zeros((2, 4), np.uint8), np.zeros((2, 4, 4, 4), np.uint8), np.zeros((0, 4, 4), np.uint8)],
)
def test_preprocess_rejects_bad_images(images):
    with pytest.raises(ValueError):
        data.preprocess(images)


# ------------------------------------------------------------------------------- IDX and file checks
def test_load_idx_values_order_and_n(mnist_dir):
    root, train, test = mnist_dir
    X, shape = data.load_dataset("mnist", data_dir=root)
    assert shape == (6, 5) and X.shape == (7, 30)
    assert np.allclose(X, train.reshape(7, -1) / 127.5 - 1)
    X, _ = data.load_dataset("mnist", "test", n=2, data_dir=root, scale="unit")
    assert np.allclose(X, test[:2].reshape(2, -1) / 255)
    X, shape = data.load_dataset("mnist", data_dir=root, resolution=3)
    assert shape == (3, 3)
    assert np.allclose(X[4].reshape(3, 3), brute_area(train[4].astype(float), 3, 3) / 127.5 - 1)


def test_data_dir_from_environment(mnist_dir, monkeypatch):
    root, train, _ = mnist_dir
    monkeypatch.setenv("LINDIFF_DATA_DIR", str(root))
    X, _ = data.load_dataset("mnist", n=1)
    assert np.allclose(X[0], train[0].ravel() / 127.5 - 1)


def test_n_larger_than_the_split(mnist_dir):
    with pytest.raises(ValueError, match="holds 7"):
        data.load_dataset("mnist", n=8, data_dir=mnist_dir[0])
    with pytest.raises(ValueError, match="n must be >= 1"):
        data.load_dataset("mnist", n=0, data_dir=mnist_dir[0])


def test_checksum_mismatch_names_the_file(mnist_dir, monkeypatch):
    root, _, _ = mnist_dir
    path = root / "mnist" / "train-images-idx3-ubyte.gz"
    monkeypatch.setitem(
        sources._SOURCES,
        ("mnist", "train"),
        (sources.Source("mnist/train-images-idx3-ubyte.gz", ("sha256:" + "0" * 64,)),),
    )
    with pytest.raises(ValueError, match="corrupt or incomplete") as info:
        data.load_dataset("mnist", data_dir=root)
    assert str(path) in str(info.value) and "sha256:" + "0" * 64 in str(info.value)
    assert path.exists()  # a user's file is reported, never deleted


def test_truncated_and_malformed_idx(tmp_path, monkeypatch):
    root = tmp_path / "data"
    good = write_idx(tmp_path / "good.gz", random_images((4, 3, 3), seed=0))
    cut = root / "mnist" / "cut.gz"
    cut.parent.mkdir(parents=True)
    cut.write_bytes(gzip.compress(gzip.decompress(good.read_bytes())[:30]))
    register(monkeypatch, "mnist", "train", ("mnist/cut.gz", cut, None))
    with pytest.raises(ValueError, match="truncated"):
        data.load_dataset("mnist", data_dir=root)
    labels = write_idx(root / "mnist" / "labels.gz", random_images((4, 3, 3), seed=0), magic=2049)
    register(monkeypatch, "mnist", "train", ("mnist/labels.gz", labels, None))
    with pytest.raises(ValueError, match="magic 2049"):
        data.load_dataset("mnist", data_dir=root)
    notgz = root / "mnist" / "plain.gz"
    notgz.write_bytes(b"definitely not gzip")
    register(monkeypatch, "mnist", "train", ("mnist/plain.gz", notgz, None))
    with pytest.raises(ValueError, match="gzip"):
        data.load_dataset("mnist", data_dir=root)


def test_missing_file_says_where_and_how(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        data.load_dataset("fashion-mnist", data_dir=tmp_path)
    msg = str(info.value)
    assert str(tmp_path / "fashion-mnist" / "train-images-idx3-ubyte.gz") in msg
    assert str(data.download_dir()) in msg
    assert "LINDIFF_DATA_DIR" in msg and "lindiff.data.fetch('fashion-mnist')" in msg


def test_missing_celeba_explains_the_licence(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        data.load_dataset("celeba", data_dir=tmp_path)
    msg = str(info.value)
    assert "redistributed" in msg and "img_align_celeba.zip" in msg and "mmlab" in msg
    with pytest.raises(ValueError, match="redistributed"):
        data.fetch("celeba")


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: data.load_dataset("imagenet"), "unknown data set"),
        (lambda: data.load_dataset("mnist", "valid"), "no split"),
        (lambda: data.load_dataset("cifar10", "train"), "only the CIFAR-10 test set"),
        (lambda: data.dataset_spectrum("mnist", n=1), "at least n = 2"),
        (lambda: data.fetch("svhn"), "unknown data set"),
    ],
)
def test_bad_names_and_splits(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_colour_for_a_grey_data_set(mnist_dir):
    with pytest.raises(ValueError, match="grey"):
        data.load_dataset("mnist", data_dir=mnist_dir[0], colour=True)


# ------------------------------------------------------------------------------- CIFAR-10
def cifar_content(n_per_class=3, seed=0):
    """Images, labels and file names of a small CIFAR-like set, in a shuffled 'official' order."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10, dtype=np.uint8), n_per_class)
    names = np.array([f"img_{rng.integers(1e6):07d}_{i}.png" for i in range(labels.size)])
    x = random_images((labels.size, 32, 32, 3), seed)
    perm = rng.permutation(labels.size)
    return x[perm], labels[perm], names[perm]


def expected_cifar_order(x, y, names):
    """Independent reference: sort by (class, name); then round-robin over the classes."""
    by_class = {c: sorted((names[i], i) for i in np.flatnonzero(y == c)) for c in range(10)}
    order = [
        by_class[c][k][1] for k in range(max(map(len, by_class.values()))) for c in range(10) if k < len(by_class[c])
    ]
    return x[order]


def write_cifar_npz(path, x, y, names):
    order = np.lexsort((names, y))  # the shared file is sorted by class, then file name
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        np.savez(
            f,
            x_test=x[order],
            y_test=y[order],
            filenames=names[order],
            class_names=np.array(["c%d" % i for i in range(10)]),
        )
    return path


def write_cifar_tar(path, x, y, names, payload=None):
    batch = {
        b"batch_label": b"testing batch 1 of 1",
        b"labels": [int(v) for v in y],
        b"data": x.transpose(0, 3, 1, 2).reshape(len(x), -1),
        b"filenames": [s.encode() for s in names],
    }
    raw = payload if payload is not None else pickle.dumps(batch, protocol=3)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/test_batch")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    return path


def test_cifar_npz_and_tar_give_the_same_class_interleaved_images(tmp_path, monkeypatch):
    x, y, names = cifar_content()
    root = tmp_path / "data"
    npz = write_cifar_npz(root / "cifar10" / "c.npz", x, y, names)
    tar = write_cifar_tar(root / "cifar10" / "c.tar.gz", x, y, names)
    expected = expected_cifar_order(x, y, names)
    register(monkeypatch, "cifar10", "test", ("cifar10/c.npz", npz, None))
    a, shape = data.load_dataset("cifar10", data_dir=root, colour=True, scale="unit")
    register(monkeypatch, "cifar10", "test", ("cifar10/c.tar.gz", tar, None))
    b, _ = data.load_dataset("cifar10", data_dir=root, colour=True, scale="unit")
    assert shape == (32, 32, 3)
    assert np.allclose(a, expected.reshape(len(x), -1) / 255) and np.array_equal(a, b)
    first, _ = data.load_dataset("cifar10", data_dir=root, n=10, colour=True, scale="unit")
    assert np.array_equal(first, a[:10])
    with pytest.raises(ValueError, match="holds 30"):
        data.load_dataset("cifar10", data_dir=root, n=31)


def test_cifar_tar_refuses_a_pickle_that_is_not_arrays(tmp_path, monkeypatch):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo should-never-run",))

    x, y, names = cifar_content()
    tar = write_cifar_tar(
        tmp_path / "data" / "cifar10" / "evil.tar.gz", x, y, names, payload=pickle.dumps({b"data": Evil()}, protocol=3)
    )
    register(monkeypatch, "cifar10", "test", ("cifar10/evil.tar.gz", tar, None))
    with pytest.raises(ValueError, match="refusing to unpickle"):
        data.load_dataset("cifar10", data_dir=tmp_path / "data")


# ------------------------------------------------------------------------------- CelebA
def test_celeba_zip_partition_order_crop_and_resolution(celeba_zip):
    root, numbers, blobs = celeba_zip
    X, shape = data.load_dataset("celeba", data_dir=root, resolution=8, scale="unit")
    assert shape == (8, 8) and X.shape == (12, 64)
    for i, k in enumerate(range(1, 13)):  # sorted by image number, whatever the zip order
        grey = decoded(blobs[k]).astype(float) @ [0.299, 0.587, 0.114]
        assert np.allclose(X[i].reshape(8, 8), brute_area(grey[2:22, :], 8, 8) / 255, atol=1e-12)
    T, _ = data.load_dataset("celeba", "test", data_dir=root, colour=True, crop="none", resolution=(24, 20))
    assert T.shape == (3, 24 * 20 * 3)
    assert np.allclose(T[0].reshape(24, 20, 3), decoded(blobs[182638]) / 127.5 - 1)
    X5, _ = data.load_dataset("celeba", data_dir=root, n=5, resolution=8, scale="unit")
    assert np.allclose(X5, X[:5], rtol=0, atol=1e-13)


def test_celeba_default_is_square_crop_80_grey(celeba_zip):
    X, shape = data.load_dataset("celeba", data_dir=celeba_zip[0], n=2)
    assert shape == (80, 80) and X.shape == (2, 6400)
    assert X.min() >= -1 and X.max() <= 1


def test_celeba_folder_equals_zip(celeba_zip, tmp_path, monkeypatch):
    root, numbers, blobs = celeba_zip
    folder = tmp_path / "user" / "celeba" / "img_align_celeba"
    folder.mkdir(parents=True)
    for k, b in blobs.items():
        (folder / f"{k:06d}.jpg").write_bytes(b)
    a, _ = data.load_dataset("celeba", data_dir=root, resolution=10)
    register(monkeypatch, "celeba", "train", ("celeba/img_align_celeba", None, None))
    b, _ = data.load_dataset("celeba", data_dir=tmp_path / "user", resolution=10)
    assert np.array_equal(a, b)
    # the folder has no published checksum: its cache key is the content of the selected images
    d1 = readers.raw_split("celeba", None, 4, tmp_path / "user").digest
    (folder / "000002.jpg").write_bytes(jpeg_bytes(smooth_faces(1, seed=9)[0]))
    assert readers.raw_split("celeba", None, 4, tmp_path / "user").digest != d1


def test_celeba_subset_has_no_test_partition(tmp_path, monkeypatch):
    root = tmp_path / "data"
    (root / "celeba").mkdir(parents=True)
    path = root / "celeba" / "sub.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("faces/000001.jpg", jpeg_bytes(smooth_faces(1)[0]))
    register(monkeypatch, "celeba", "test", ("celeba/sub.zip", path, None))
    with pytest.raises(ValueError, match="official train partition"):
        data.load_dataset("celeba", "test", data_dir=root)


def test_celeba_images_of_different_sizes_and_bad_jpeg(tmp_path, monkeypatch):
    root = tmp_path / "data"
    (root / "celeba").mkdir(parents=True)
    for name, second, match in [
        ("mixed", jpeg_bytes(smooth_faces(1, 20, 20)[0]), "share one size"),
        ("broken", b"not a jpeg", "not a readable JPEG"),
    ]:
        path = root / "celeba" / f"{name}.zip"
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("f/000001.jpg", jpeg_bytes(smooth_faces(1, 24, 20)[0]))
            z.writestr("f/000002.jpg", second)
        register(monkeypatch, "celeba", "train", (f"celeba/{name}.zip", path, None))
        with pytest.raises(ValueError, match=match):
            data.load_dataset("celeba", data_dir=root)
    notzip = root / "celeba" / "notzip.zip"
    notzip.write_bytes(b"PK but not really")
    register(monkeypatch, "celeba", "train", ("celeba/notzip.zip", notzip, None))
    with pytest.raises(ValueError, match="not a readable zip"):
        data.load_dataset("celeba", data_dir=root)


def _official_and_subset(tmp_path, n):
    """The same n generated faces as the official zip (178 x 218) and as the 89 x 109 subset zip.

    The subset's faces are the official ones reduced 2x by 2 x 2 block means, then JPEG-encoded
    again, as the shared 89 x 109 copy was made from the originals.
    """
    root = tmp_path / "both"
    (root / "celeba").mkdir(parents=True)
    faces = smooth_faces(n, h=218, w=178, seed=5)
    official, subset = root / "celeba" / "img_align_celeba.zip", root / "celeba" / "subset.zip"
    with zipfile.ZipFile(official, "w") as zo, zipfile.ZipFile(subset, "w") as zs:
        for k, face in enumerate(faces, start=1):
            zo.writestr(f"img_align_celeba/{k:06d}.jpg", jpeg_bytes(face))
            half = face.reshape(109, 2, 89, 2, 3).mean(axis=(1, 3)).round().astype(np.uint8)
            zs.writestr(f"img_align_celeba_89x109/{k:06d}.jpg", jpeg_bytes(half))
    return root, official, subset, faces


def test_official_celeba_layout_gives_the_subset_faces(tmp_path, monkeypatch):
    """The official 178 x 218 zip, read as it comes, gives the subset's 89 x 109 faces."""
    root, official, subset, faces = _official_and_subset(tmp_path, 12)
    register(monkeypatch, "celeba", "train", ("celeba/img_align_celeba.zip", official, None))
    raw = readers.raw_split("celeba", None, None, root)
    assert raw.read().shape == (12, 109, 89, 3)  # reduced as decoded
    X_off, shape = data.load_dataset("celeba", data_dir=root)  # the book's defaults: 80 x 80 grey
    register(monkeypatch, "celeba", "train", ("celeba/subset.zip", subset, None))
    readers._DECODED.clear()
    X_sub, shape_sub = data.load_dataset("celeba", data_dir=root)
    assert shape == shape_sub == (80, 80)
    # independent reference: the generated faces themselves, box-reduced, square-cropped, resampled
    half = faces.reshape(12, 109, 2, 89, 2, 3).mean(axis=(2, 4))
    grey = half[:, 10:99] @ np.array([0.299, 0.587, 0.114])
    R = data.area_resampling_matrix(89, 80)
    ref = (np.einsum("ij,njk,lk->nil", R, grey, R) / 127.5 - 1).reshape(12, -1)
    assert np.abs(X_off - ref).mean() < 0.01 and np.abs(X_sub - ref).mean() < 0.01
    # the numbers the chapter checks are second-order statistics: d_eff and the top variances
    # (the non-zero eigenvalues of the ddof = 0 covariance are those of the centred Gram matrix / n)
    lam_off, lam_sub = (
        np.linalg.eigvalsh((X - X.mean(0)) @ (X - X.mean(0)).T / len(X))[::-1][:3] for X in (X_off, X_sub)
    )
    np.testing.assert_allclose(lam_off, lam_sub, rtol=0.01)


def test_celeba_default_is_the_first_10000_faces(tmp_path, monkeypatch):
    """No default decodes a whole partition: n defaults to CELEBA_DEFAULT_N faces."""
    root, official, _, _ = _official_and_subset(tmp_path, 6)
    register(monkeypatch, "celeba", "train", ("celeba/img_align_celeba.zip", official, None))
    monkeypatch.setattr(readers, "CELEBA_DEFAULT_N", 4)
    raw = readers.raw_split("celeba", None, None, root)
    assert raw.n == 4 and [k for k, _ in raw.members] == [1, 2, 3, 4]
    assert data.load_dataset("celeba", data_dir=root)[0].shape[0] == 4
    assert data.load_dataset("celeba", data_dir=root, n=6)[0].shape[0] == 6


def test_celeba_decodes_each_image_once(celeba_zip, monkeypatch):
    calls = []
    real = readers._read_celeba
    monkeypatch.setattr(readers, "_read_celeba", lambda *a: calls.append(len(a[2])) or real(*a))
    data.load_dataset("celeba", data_dir=celeba_zip[0], resolution=6)
    data.load_dataset("celeba", data_dir=celeba_zip[0], resolution=4, n=3)
    data.load_dataset("celeba", data_dir=celeba_zip[0], resolution=4, colour=True)
    assert calls == [12]


# ------------------------------------------------------------------------------- fetch
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_dir(tmp_path):
    """A local HTTP server over a folder: (folder, base URL)."""
    served = tmp_path / "served"
    served.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_fetch_downloads_checked_files_that_then_load(http_dir, monkeypatch):
    monkeypatch.delenv("LINDIFF_OFFLINE")
    served, url = http_dir
    imgs = random_images((4, 6, 5), seed=7)
    src = write_idx(served / "train-images-idx3-ubyte.gz", imgs)
    register(monkeypatch, "mnist", "train", ("mnist/train-images-idx3-ubyte.gz", src, url + src.name))
    monkeypatch.delitem(sources._SOURCES, ("mnist", "test"))
    paths = data.fetch("mnist")
    assert paths == [data.download_dir() / "mnist" / "train-images-idx3-ubyte.gz"]
    assert paths[0].read_bytes() == src.read_bytes()
    X, _ = data.load_dataset("mnist")  # found in the download folder, no data_dir needed
    assert np.allclose(X, imgs.reshape(4, -1) / 127.5 - 1)


def test_fetch_of_a_corrupt_download_leaves_no_file(http_dir, monkeypatch, tmp_path):
    monkeypatch.delenv("LINDIFF_OFFLINE")
    served, url = http_dir
    good = write_idx(tmp_path / "good.gz", random_images((4, 6, 5), seed=7))
    register(monkeypatch, "mnist", "train", ("mnist/train-images-idx3-ubyte.gz", good, url + "bad.gz"))
    monkeypatch.delitem(sources._SOURCES, ("mnist", "test"))
    (served / "bad.gz").write_bytes(good.read_bytes()[:-10])  # a partial download
    target = tmp_path / "fetched"
    with pytest.raises(ValueError):
        data.fetch("mnist", path=target)
    assert not target.exists() or not any(p.is_file() for p in target.rglob("*"))


def test_corrupt_file_in_the_download_folder_is_deleted(monkeypatch, tmp_path):
    good = write_idx(tmp_path / "good.gz", random_images((4, 6, 5), seed=7))
    register(monkeypatch, "mnist", "train", ("mnist/train-images-idx3-ubyte.gz", good, "http://example.invalid/x"))
    bad = data.download_dir() / "mnist" / "train-images-idx3-ubyte.gz"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(good.read_bytes()[:-5])
    with pytest.raises(ValueError, match="It was deleted.*fetch\\('mnist'\\)"):
        data.load_dataset("mnist")
    assert not bad.exists()


def _served_mnist(http_dir, monkeypatch):
    served, url = http_dir
    imgs = random_images((4, 6, 5), seed=8)
    src = write_idx(served / "train-images-idx3-ubyte.gz", imgs)
    register(monkeypatch, "mnist", "train", ("mnist/train-images-idx3-ubyte.gz", src, url + src.name))
    monkeypatch.delitem(sources._SOURCES, ("mnist", "test"))
    return imgs


def test_a_missing_data_set_is_downloaded_on_first_use(http_dir, monkeypatch):
    imgs = _served_mnist(http_dir, monkeypatch)
    monkeypatch.delenv("LINDIFF_OFFLINE")
    assert not (data.download_dir() / "mnist").exists()
    assert data.missing("mnist") is None  # found by downloading it
    X, _ = data.load_dataset("mnist")
    assert np.allclose(X, imgs.reshape(4, -1) / 127.5 - 1)
    assert (data.download_dir() / "mnist" / "train-images-idx3-ubyte.gz").is_file()


@pytest.mark.parametrize("value", ["1", "true", "on"])
def test_offline_switch_never_downloads(http_dir, monkeypatch, value):
    _served_mnist(http_dir, monkeypatch)
    monkeypatch.setenv("LINDIFF_OFFLINE", value)
    monkeypatch.setattr("pooch.retrieve", lambda *a, **k: pytest.fail("the network was touched"))
    with pytest.raises(FileNotFoundError, match="no mnist train data found"):
        data.load_dataset("mnist")
    line = data.missing("mnist")
    assert line.startswith("mnist not found in ") and "LINDIFF_OFFLINE" in line
    assert "python -m lindiff.data fetch mnist" in line
    with pytest.raises(RuntimeError, match="LINDIFF_OFFLINE"):
        data.fetch("mnist")
    assert cli.main(["fetch", "mnist"]) == 1


def test_a_failed_download_says_so_and_how_to_get_the_data(monkeypatch, tmp_path):
    good = write_idx(tmp_path / "good.gz", random_images((4, 6, 5), seed=7))
    register(monkeypatch, "mnist", "train", ("mnist/train-images-idx3-ubyte.gz", good, "http://127.0.0.1:9/x.gz"))
    monkeypatch.delenv("LINDIFF_OFFLINE")
    with pytest.raises(FileNotFoundError, match=r"Downloading it failed \(.*LINDIFF_DATA_DIR"):
        data.load_dataset("mnist")


def test_status_command_lists_each_data_set(mnist_dir, monkeypatch, capsys):
    monkeypatch.setenv("LINDIFF_DATA_DIR", str(mnist_dir[0]))
    assert cli.main(["status"]) == 1  # Fashion-MNIST and CIFAR-10 are missing
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "mnist: present"
    assert [line.split(":")[0] for line in out] == list(data.DATASETS)
    assert all(line.split(": ")[1].startswith("missing") for line in out[1:])


@pytest.mark.parametrize(
    "here, status",
    [
        ((), 1),  # before: every data set missing, exit status 0
        (("mnist", "fashion-mnist"), 1),
        (("mnist", "fashion-mnist", "cifar10"), 0),  # CelebA, optional and never downloaded, is not required
        (tuple(data.DATASETS), 0),
    ],
)
def test_status_command_fails_when_a_downloadable_data_set_is_missing(here, status, monkeypatch, capsys):
    monkeypatch.setattr(cli, "missing", lambda name, download: None if name in here else f"{name} not found")
    assert cli.main(["status"]) == status
    err = capsys.readouterr().err
    assert ("python -m lindiff.data fetch" in err) == (status == 1)


# ------------------------------------------------------------------------------- cached spectra
def test_dataset_spectrum_is_the_eigendecomposition_of_the_ddof0_covariance(mnist_dir):
    root, train, _ = mnist_dir
    mean, evals, evecs = data.dataset_spectrum("mnist", data_dir=root, scale="unit")
    X = train.reshape(7, -1) / 255
    cov = np.cov(X, rowvar=False, bias=True)
    assert np.allclose(mean, X.mean(axis=0))
    assert np.all(np.diff(evals) >= 0)  # ascending
    assert np.allclose(evals, np.clip(np.linalg.eigvalsh(cov), 0, None), atol=1e-12)
    assert np.allclose((evecs * evals) @ evecs.T, cov, atol=1e-12)
    assert np.sum(evals > 0) == 6 and np.sum(evals == 0) == 24  # rank N - 1, exact zeros elsewhere
    model = ld.LinearDiffusion(mean, evals, evecs, ld.Schedule.linear(T=50))
    ref = ld.LinearDiffusion.fit(X, ld.Schedule.linear(T=50))
    assert model.train_loss() == pytest.approx(ref.train_loss(), rel=1e-10)


def test_dataset_spectrum_is_cached_and_keyed_by_preprocessing_and_data(mnist_dir, monkeypatch):
    root, train, _ = mnist_dir
    calls = []
    real = covariance.psd_eigh
    monkeypatch.setattr(covariance, "psd_eigh", lambda *a: calls.append(1) or real(*a))
    first = data.dataset_spectrum("mnist", data_dir=root)
    again = data.dataset_spectrum("mnist", data_dir=root)
    assert len(calls) == 1 and all(np.array_equal(a, b) for a, b in zip(first, again))
    data.dataset_spectrum("mnist", data_dir=root, scale="unit")
    data.dataset_spectrum("mnist", data_dir=root, n=5)
    data.dataset_spectrum("mnist", data_dir=root, resolution=3)
    assert len(calls) == 4
    # new data in the file (its checksum changes): recomputed, never served from the old entry
    path = write_idx(root / "mnist" / "train-images-idx3-ubyte.gz", random_images((7, 6, 5), seed=11))
    register(monkeypatch, "mnist", "train", ("mnist/train-images-idx3-ubyte.gz", path, None))
    fresh = data.dataset_spectrum("mnist", data_dir=root)
    assert len(calls) == 5 and not np.allclose(fresh[0], first[0])


def test_dataset_spectrum_recomputes_a_corrupt_entry(mnist_dir, monkeypatch):
    root, _, _ = mnist_dir
    first = data.dataset_spectrum("mnist", data_dir=root)
    entries = list((cache.cache_dir() / "spectrum").glob("*.npz"))
    assert len(entries) == 1
    entries[0].write_bytes(entries[0].read_bytes()[:100])
    again = data.dataset_spectrum("mnist", data_dir=root)
    assert all(np.allclose(a, b) for a, b in zip(first, again))


def test_dataset_participation_ratio_variants(mnist_dir):
    root, train, _ = mnist_dir
    X = train.reshape(7, -1) / 127.5 - 1
    evals = data.dataset_spectrum("mnist", data_dir=root)[1]
    assert data.dataset_participation_ratio("mnist", data_dir=root) == pytest.approx(ld.participation_ratio(evals))
    M = np.einsum("ni,nj->ij", X, X) / 7  # uncentred second moment
    assert data.dataset_participation_ratio("mnist", data_dir=root, centre=False) == pytest.approx(
        np.trace(M) ** 2 / np.sum(M**2)
    )
    keep = X.std(axis=0) > 0
    R = np.corrcoef(X[:, keep], rowvar=False)
    assert data.dataset_participation_ratio("mnist", data_dir=root, standardise=True) == pytest.approx(
        np.trace(R) ** 2 / np.sum(R**2)
    )


# ------------------------------------------------------------------------------- the real files
@real
@pytest.mark.parametrize(
    "name, split, md5",
    [
        ("mnist", "train", "6bbc9ace898e44ae57da46a324031adb"),
        ("mnist", "test", "2646ac647ad5339dbf082846283269ea"),
        ("fashion-mnist", "train", "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
        ("fashion-mnist", "test", "8181f5470baa50b63fa0f6fddb340f0a"),
    ],
)
def test_real_idx_reader_reproduces_the_published_md5(name, split, md5, monkeypatch):
    """Header + every image byte the reader returns hash to the md5 published for the raw file."""
    monkeypatch.setenv("LINDIFF_DATA_DIR", REAL_DIR)
    images = readers.raw_split(name, split, None, None).read()
    header = struct.pack(">IIII", 2051, *images.shape)
    assert hashlib.md5(header + images.tobytes()).hexdigest() == md5


@real
def test_real_cifar_channel_means_and_class_interleaving(monkeypatch):
    monkeypatch.setenv("LINDIFF_DATA_DIR", REAL_DIR)
    X, shape = data.load_dataset("cifar10", colour=True, scale="unit")
    assert shape == (32, 32, 3) and X.shape == (10000, 3072)
    means = X.reshape(-1, 32 * 32, 3).mean(axis=(0, 1))
    assert np.allclose(means, [0.4942, 0.4851, 0.4504], atol=6e-5)  # published test-set means
    with np.load(Path(REAL_DIR) / "cifar10" / "cifar10_test.npz") as z:
        x, y = z["x_test"], z["y_test"]
    first_of_each = [np.flatnonzero(y == c)[0] for c in range(10)]
    assert np.allclose(X[:10], x[first_of_each].reshape(10, -1) / 255)


@real
def test_real_defaults_shapes_and_ranges(monkeypatch):
    monkeypatch.setenv("LINDIFF_DATA_DIR", REAL_DIR)
    for name, shape in [("mnist", (28, 28)), ("fashion-mnist", (28, 28)), ("cifar10", (32, 32)), ("celeba", (80, 80))]:
        X, got = data.load_dataset(name, n=5)
        assert got == shape and X.shape == (5, int(np.prod(shape))) and X.dtype == np.float64
        assert -1.0 <= X.min() < X.max() <= 1.0
    raw = readers.raw_split("celeba", None, None, None)
    assert len(raw.members) == 10000 and raw.members[-1][0] == 10000
    assert readers.raw_split("celeba", None, 1, None).read().shape == (1, 109, 89, 3)
    with pytest.raises(ValueError, match="official train partition"):
        data.load_dataset("celeba", "test")


# ------------------------------------------------------------------------------- damaged CelebA copies (issue 12)
@pytest.mark.parametrize("missing", [3, 1])
def test_celeba_folder_with_a_gap_names_the_missing_file(tmp_path, monkeypatch, missing):
    """A deleted JPEG used to shift every later image silently (image 4 taken as the third)."""
    folder = tmp_path / "user" / "celeba" / "img_align_celeba"
    folder.mkdir(parents=True)
    for k, img in enumerate(smooth_faces(6), start=1):
        if k != missing:
            (folder / f"{k:06d}.jpg").write_bytes(jpeg_bytes(img))
    register(monkeypatch, "celeba", "train", ("celeba/img_align_celeba", None, None))
    with pytest.raises(
        ValueError, match=rf"lacks CelebA image {missing:06d}\.jpg \(the next one found is {missing + 1:06d}\.jpg\)"
    ):
        data.load_dataset("celeba", data_dir=tmp_path / "user", n=2, resolution=8)


def test_celeba_zip_with_corrupt_compressed_data_names_the_member(tmp_path, monkeypatch):
    """A member whose deflate stream is damaged raises zlib.error inside zipfile: reported as a
    ValueError naming the member (the zip's own checksum is registered, so only the reader can notice)."""
    import zlib

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for k, img in enumerate(smooth_faces(3), start=1):
            z.writestr(f"f/{k:06d}.jpg", jpeg_bytes(img))
    raw = bytearray(buf.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as z:
        info = z.getinfo("f/000002.jpg")
    mid = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size // 2
    raw[mid : mid + 16] = b"\xff" * 16
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as z, pytest.raises(zlib.error):
        z.read("f/000002.jpg")  # what zipfile itself raises for this damage
    path = tmp_path / "data" / "celeba" / "damaged.zip"
    path.parent.mkdir(parents=True)
    path.write_bytes(bytes(raw))
    register(monkeypatch, "celeba", "train", ("celeba/damaged.zip", path, None))
    with pytest.raises(ValueError, match=r"damaged\.zip: f/000002\.jpg cannot be extracted"):
        data.load_dataset("celeba", data_dir=tmp_path / "data", resolution=8)
