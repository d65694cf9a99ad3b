"""Measurement: how far chapter 5's CelebA numbers move between the two copies of CelebA.

This project uses a half-resolution copy of the first 10,000 aligned faces (89 x 109, re-encoded
JPEG); readers use the official ``img_align_celeba.zip`` (178 x 218 JPEG), which ``lindiff.data``
reduces 2x by 2 x 2 block means as it decodes it. The originals are not available here, so this
script makes a stand-in for them from the half-resolution faces: each is upsampled 2x (PIL bicubic)
and JPEG-encoded again (quality 95), then read through the official-layout path. The difference
between the numbers of the two paths (d_eff and the top eigenvalues of the 80 x 80 grey covariance,
the quantities chapter 5 checks) measures how sensitive they are to one resampling and JPEG round
trip, which is what separates the two real copies.

    LINDIFF_DATA_DIR=../shared/data .venv/bin/python benchmarks/celeba_layouts.py [--n 10000]

Not a test: it prints, it asserts nothing. It writes the stand-in faces to a temporary folder.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.sparse.linalg import eigsh

from lindiff import data
from lindiff.data import readers
from lindiff.stats import empirical_stats


def numbers(X):
    """d_eff = (Tr S)^2 / Tr S^2 and the five largest eigenvalues of the ddof = 0 covariance S."""
    _, S = empirical_stats(X, ddof=0)
    top = np.sort(eigsh(S, k=5, which="LA", return_eigenvectors=False))[::-1]
    return np.trace(S) ** 2 / np.sum(S * S), top


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    n = parser.parse_args().n
    X_half, _ = data.load_dataset("celeba", n=n)
    raw = readers.raw_split("celeba", None, n, None)
    faces = raw.read()  # (n, 109, 89, 3) uint8
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "celeba" / "img_align_celeba"  # the official zip, unpacked
        folder.mkdir(parents=True)
        for k, face in enumerate(faces, start=1):
            big = Image.fromarray(face).resize(data.CELEBA_OFFICIAL_SIZE, Image.BICUBIC)
            big.save(folder / f"{k:06d}.jpg", format="JPEG", quality=95)
        X_full, _ = data.load_dataset("celeba", n=n, data_dir=tmp)
    d_half, top_half = numbers(X_half)
    d_full, top_full = numbers(X_full)
    print(f"n = {n} faces, 80 x 80 grey, [-1, 1]")
    print(f"mean |pixel difference|: {np.abs(X_half - X_full).mean():.4f}")
    print(f"d_eff: half-resolution copy {d_half:.3f}, official-layout stand-in {d_full:.3f}, "
          f"relative difference {abs(d_full / d_half - 1):.2%}")
    for i, (a, b) in enumerate(zip(top_half, top_full), start=1):
        print(f"eigenvalue {i}: {a:8.2f} vs {b:8.2f} ({abs(b / a - 1):.2%})")


if __name__ == "__main__":
    main()
