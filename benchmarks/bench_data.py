"""Benchmark: loading real images and the covariance spectra behind the chapter "How structured are images?".

Times, with time.perf_counter, in a fresh temporary cache folder (so every spectrum is computed cold):

1. all 70,000 MNIST digits (train + test): file checksums, gunzip + parse, preprocessing to float64;
2. the 10,000 CelebA faces: checksum, JPEG decoding, crop + grey + area resampling to 80 x 80;
3. the covariance (``empirical_stats``) and its eigendecomposition (``psd_eigh``) at d = 784 (MNIST,
   N = 60,000) and d = 6400 (CelebA, N = 10,000);
4. ``dataset_spectrum`` for both: cold (load + covariance + eigendecomposition + atomic cache write)
   and warm (cache read + SHA-256 verification), in one process;
5. with ``--chapter``: the chapter notebook executed twice in fresh kernels (in memory, the file is not
   written), first with an empty cache (cold), then with the cache it filled (warm).

Needs ``LINDIFF_DATA_DIR`` (the real data sets). Run:

    LINDIFF_DATA_DIR=../shared/data .venv/bin/python benchmarks/bench_data.py [--chapter]

This is not a test: timings depend on the machine, its load and the BLAS thread count, and are printed,
not asserted. ``OPENBLAS_NUM_THREADS`` is reported because on a loaded 2-core machine a multi-threaded
BLAS can be several times slower than a single thread.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def timed(label: str, results: dict):
    start = time.perf_counter()
    yield
    results[label] = time.perf_counter() - start
    print(f"{label:58s} {results[label]:8.2f} s", flush=True)


def run_chapter(path: Path) -> float:
    """Execute a notebook in a fresh kernel without writing it; return the wall time."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=1800, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapter", action="store_true", help="also time the chapter, cold and warm")
    args = parser.parse_args()
    if not os.environ.get("LINDIFF_DATA_DIR"):
        raise SystemExit("set LINDIFF_DATA_DIR to the folder with mnist/, fashion-mnist/, cifar10/, celeba/")
    os.environ.setdefault("LINDIFF_PROGRESS", "0")
    with tempfile.TemporaryDirectory(prefix="lindiff-bench-") as cache_root:
        os.environ["LINDIFF_CACHE_DIR"] = cache_root
        benchmark(cache_root, args.chapter)


def benchmark(cache_root: str, chapter: bool) -> None:

    import numpy as np

    from lindiff import data
    from lindiff.data import cache, readers
    from lindiff._checks import psd_eigh
    from lindiff.stats import empirical_stats

    print(f"{os.cpu_count()} logical cores; load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
          + f"; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; numpy {np.__version__}")
    print(f"cache folder (temporary, deleted at the end): {cache_root}\n")
    r: dict = {}

    with timed("MNIST: sha256 of the 2 image files (first time in process)", r):
        raws = [readers.raw_split("mnist", split, None, None) for split in ("train", "test")]
    with timed("MNIST: gunzip + parse 70,000 images", r):
        pixels = [raw.read() for raw in raws]
    with timed("MNIST: preprocess 70,000 images to float64 (N, 784)", r):
        X = np.concatenate([data.preprocess(p)[0] for p in pixels])
    print(f"{'':58s} X: {X.shape}, {X.nbytes / 2**20:.0f} MiB")
    with timed("MNIST: load_dataset train + test again (checksums memoised)", r):
        for split in ("train", "test"):
            data.load_dataset("mnist", split)

    with timed("CelebA: sha256 of the zip", r):
        raw = readers.raw_split("celeba", None, None, None)
    with timed("CelebA: decode 10,000 JPEGs (89 x 109 RGB)", r):
        faces = readers._read_celeba(raw.source, raw.path, raw.members)
    with timed("CelebA: square crop + grey + area resampling to 80 x 80", r):
        F = data.preprocess(faces, crop="square", resolution=80)[0]
    print(f"{'':58s} X: {F.shape}, {F.nbytes / 2**20:.0f} MiB")

    for label, M in [("d = 784 (MNIST train, N = 60,000)", X[:60000]), ("d = 6400 (CelebA, N = 10,000)", F)]:
        with timed(f"covariance, {label}", r):
            _, cov = empirical_stats(M)
        with timed(f"eigendecomposition, {label}", r):
            psd_eigh(cov)
    del X, F, faces, cov

    for name in ("mnist", "celeba"):
        with timed(f"dataset_spectrum('{name}'), cold (compute + write)", r):
            data.dataset_spectrum(name)
        readers._DECODED.clear()
        with timed(f"dataset_spectrum('{name}'), warm (read + verify)", r):
            data.dataset_spectrum(name)
    size = sum(p.stat().st_size for p in Path(cache.cache_dir()).rglob("*.npz"))
    print(f"{'':58s} cache size {size / 2**20:.0f} MiB")

    if chapter:
        os.environ["LINDIFF_CACHE_DIR"] = str(Path(cache_root) / "chapter")  # empty: cold
        with timed("chapter 05, cold cache", r):
            run_chapter(ROOT / "book" / "05_real_images.ipynb")
        with timed("chapter 05, warm cache", r):
            run_chapter(ROOT / "book" / "05_real_images.ipynb")


if __name__ == "__main__":
    main()
