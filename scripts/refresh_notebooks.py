"""Re-execute chapters and write their outputs back, without volatile metadata.

Usage: .venv/bin/python scripts/refresh_notebooks.py [book/NAME.ipynb ...]   (default: every chapter)

Each notebook runs top to bottom in a fresh kernel with book/ as working directory, with progress
bars silenced. Execution timings and widget state are dropped and execution counts renumbered, so a
refresh of unchanged code gives an unchanged file. Cells tagged ``celeba-faces`` (real CelebA faces, shown
only to a reader running the chapter on their own copy) lose their outputs: CelebA's terms forbid
redistributing its images. The wall time of each chapter is printed.

Markdown cells with inline expressions (``{eval}``, :mod:`lindiff.book.quoted`) are evaluated where
JupyterLab's "Run all" evaluates them: in the kernel, after every code cell above them has run. Their
results are stored in the cell's metadata (``user_expressions``), which jupyterlab-myst shows when the
notebook is opened. An expression that fails there (a number quoted before the cell that glues it) stops
the refresh with the cell and the error.
"""

from __future__ import annotations

import os
import re
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
        if (
            out.get("output_type") == "stream"
            and prev is not None
            and prev.get("output_type") == "stream"
            and prev.get("name") == out.get("name")
        ):
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


INLINE_EXPRESSION = re.compile(r"\{eval\}`([^`]+)`")


class LabOrderClient(NotebookClient):
    """Runs a notebook as JupyterLab's "Run all" does, inline expressions of markdown cells included."""

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if cell.cell_type == "markdown":
            await self._evaluate_inline_expressions(cell, cell_index)
            return cell
        return await super().async_execute_cell(cell, cell_index, execution_count, store_history)

    async def _evaluate_inline_expressions(self, cell, cell_index) -> None:
        expressions = list(dict.fromkeys(INLINE_EXPRESSION.findall(cell.source)))
        cell.metadata.pop("user_expressions", None)
        if not expressions:
            return
        msg_id = self.kc.execute(
            "",
            silent=True,
            store_history=False,
            user_expressions={str(i): e for i, e in enumerate(expressions)},
        )
        reply = await self.async_wait_for_reply(msg_id, cell)
        results = reply["content"]["user_expressions"]
        failed = [(e, results[str(i)]) for i, e in enumerate(expressions) if results[str(i)]["status"] != "ok"]
        if failed:
            lines = "\n".join(f"  {e}: {r.get('ename')}: {r.get('evalue')}" for e, r in failed)
            raise RuntimeError(
                f"markdown cell {cell_index}: inline expressions fail where Lab evaluates them:\n{lines}"
            )
        cell.metadata["user_expressions"] = [
            {"expression": e, "result": results[str(i)]} for i, e in enumerate(expressions)
        ]


def refresh(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    # the same environment as scripts/env.sh, so stored outputs match a CI re-run digit for digit
    for name, value in {
        "LINDIFF_PROGRESS": "0",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "LINDIFF_DATA_DIR": str(ROOT.parent / "shared" / "data"),
    }.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    start = time.perf_counter()
    LabOrderClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
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
