"""Re-execute chapters and write their outputs back, without volatile metadata.

Usage: .venv/bin/python scripts/refresh_notebooks.py [book/NAME.ipynb ...]   (default: every chapter)

Each notebook runs top to bottom in a fresh kernel with book/ as working directory, with progress
bars silenced. Execution timings and widget state are dropped and execution counts renumbered, so a
refresh of unchanged code gives an unchanged file. Cells tagged ``celeba-faces`` (real CelebA faces, shown
only to a reader running the chapter on their own copy) lose their outputs: CelebA's terms forbid
redistributing its images. The wall time of each chapter is printed.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
# Cells that show real CelebA faces carry this tag; their outputs are never written to the repository.
PRIVATE_TAG = "celeba-faces"


def coalesce_streams(outputs: list) -> list:
    """Merge consecutive stream outputs of the same stream (stdout, stderr) into one.

    How a cell's prints are split into outputs depends on timing (a slow cold-cache run splits
    them); merged, the stored outputs are the same however fast the cell ran.
    """
    merged = []
    for out in outputs:
        prev = merged[-1] if merged else None
        if (out.get("output_type") == "stream" and prev is not None and prev.get("output_type") == "stream"
                and prev.get("name") == out.get("name")):
            prev["text"] = "".join(prev["text"]) + "".join(out["text"])
        else:
            merged.append(out)
    return merged


def strip_private(nb) -> None:
    """Empty the outputs of every code cell tagged ``celeba-faces`` (:data:`PRIVATE_TAG`)."""
    for cell in nb.cells:
        if cell.cell_type == "code" and PRIVATE_TAG in cell.metadata.get("tags", []):
            cell.outputs = []


def strip_volatile(nb) -> None:
    """Drop execution timings, widget state and kernel versions; renumber execution counts; merge
    consecutive prints into one output; empty the outputs of cells that show CelebA faces."""
    strip_private(nb)
    nb.metadata.pop("widgets", None)
    nb.metadata.pop("execution", None)
    lang = nb.metadata.get("language_info")
    if lang:
        nb.metadata["language_info"] = {"name": lang.get("name", "python")}
    count = 0
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("ExecuteTime", None)
        if cell.cell_type == "code":
            count += 1
            cell.execution_count = count
            cell.outputs = coalesce_streams(cell.get("outputs", []))
            for out in cell.get("outputs", []):
                if "execution_count" in out:
                    out["execution_count"] = count
                # widget views carry random model ids; keep their text fallback only
                data = out.get("data", {})
                data.pop("application/vnd.jupyter.widget-view+json", None)


def refresh(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    # the same environment as scripts/env.sh, so stored outputs match a CI re-run digit for digit
    for name, value in {"LINDIFF_PROGRESS": "0", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                        "MKL_NUM_THREADS": "1",
                        "LINDIFF_DATA_DIR": str(ROOT.parent / "shared" / "data")}.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    start = time.perf_counter()
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    elapsed = time.perf_counter() - start
    strip_volatile(nb)
    nbformat.write(nb, path)
    return elapsed


def main(argv: list[str]) -> int:
    paths = [Path(p).resolve() for p in argv] or sorted((ROOT / "book").glob("*.ipynb"))
    for path in paths:
        print(f"{path.relative_to(ROOT)}: ", end="", flush=True)
        print(f"{refresh(path):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
