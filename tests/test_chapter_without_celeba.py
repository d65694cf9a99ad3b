"""Chapter 5 where only MNIST is here (a reader on Colab has no CelebA, which cannot be downloaded).

The chapter runs to its end: every part whose data set is here runs, and each part that needs a
missing data set says so in one line (``lindiff.book.chapters.present``, with the reason of
``lindiff.data.missing``), with no traceback. Runs offline (``LINDIFF_OFFLINE``), so Fashion-MNIST
and CIFAR-10 are missing too. Needs the real MNIST files (``LINDIFF_DATA_DIR``), else it is skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from lindiff import data

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "book" / "05_real_images.ipynb"


def _shared_mnist() -> Path | None:
    folder = os.environ.get("LINDIFF_DATA_DIR", "").strip()
    if not folder or data.missing("mnist", data_dir=folder, download=False) is not None:
        return None
    return Path(folder).expanduser().resolve() / "mnist"


@pytest.mark.skipif(_shared_mnist() is None, reason="needs the MNIST files in LINDIFF_DATA_DIR")
def test_chapter_5_runs_to_its_end_with_mnist_alone(tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    only_mnist = tmp_path / "data"
    only_mnist.mkdir()
    (only_mnist / "mnist").symlink_to(_shared_mnist(), target_is_directory=True)
    for name, value in {
        "LINDIFF_DATA_DIR": str(only_mnist),
        "LINDIFF_OFFLINE": "1",
        "LINDIFF_PROGRESS": "0",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }.items():
        monkeypatch.setenv(name, value)
    # the kernel imports this checkout's lindiff
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(CHAPTER, as_version=4)
    nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(CHAPTER.parent)}}
    ).execute()  # raises CellExecutionError on any error

    printed = [
        line
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "stream"
        for line in out.text.splitlines()
    ]
    notes = [line for line in printed if line.startswith("Left out of ")]
    # the first data cell: each data set not here, one line, saying where to get it (Fashion-MNIST
    # and CIFAR-10 may sit in the download folder of LINDIFF_CACHE_DIR; CelebA never can)
    absent = [name for name in ("fashion-mnist", "cifar10", "celeba") if data.missing(name) is not None]
    assert "celeba" in absent
    for name in absent:
        first = [line for line in notes if line.startswith(f"Left out of the sections below: {name} not found in ")]
        assert len(first) == 1, (name, notes)
    assert any("licence" in line for line in notes if ": celeba " in line)
    # the N-sweeps and samples: CelebA, one line
    sweeps = [line for line in notes if line.startswith("Left out of the N-sweeps and samples below: celeba ")]
    assert len(sweeps) == 1, notes
    assert len(notes) == len(absent) + 1, notes
    assert not any(out.output_type == "error" for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs)
    # the MNIST parts ran: their tables were printed
    i = printed.index("d_eff at the default preprocessing")  # print_table: title, header, rows
    assert printed[i + 2].split()[:3] == ["MNIST", "784", "30.7"]
    j = printed.index("test loss summed over t = 1..T: closed form and Monte Carlo")
    assert printed[j + 2].split()[:3] == ["MNIST", "1000", "0.01"]
    # nothing shows CelebA: the cells of its faces printed and drew nothing
    for cell in nb.cells:
        if "celeba-faces" in cell.metadata.get("tags", []):
            assert cell.outputs == [], cell.source[:80]
