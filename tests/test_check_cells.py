"""Chapters read like a book: check cells are short and say what they check (issue 24).

A check cell is a code cell the reader sees (not removed, input not hidden) that asserts. Each one
starts with a comment naming the labelled equation it checks (``# checks eq-<label>: ...``, a label
the book defines; the closing chapter's check of its claims table names none), prints its numbers
and asserts; ``glue`` calls live in removed cells; and the median check
cell is at most 8 lines long. Chapters import ``lindiff`` one way: ``import lindiff as ld`` for the
mathematics, ``from lindiff.book import ...`` for the page's helpers.
"""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))
HIDDEN = {"remove-cell", "remove_cell", "remove-input", "remove_input", "hide-input", "hide_input"}
LABEL = re.compile(r"\$\$\s*\((eq-[\w-]+)\)|^\((eq-[\w-]+)\)=", re.M)
FIRST_LINE = re.compile(r"^#.*\beq-[\w-]+")
IMPORT = re.compile(r"^\s*(?:from\s+(lindiff[\w.]*)\s+import|import\s+(lindiff[\w.]*))", re.M)


def _cells():
    for path in CHAPTERS:
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            yield path, cell, "".join(cell["source"])


def _check_cells():
    return [
        (path, src)
        for path, cell, src in _cells()
        if cell["cell_type"] == "code"
        and not HIDDEN & set(cell["metadata"].get("tags", []))
        and re.search(r"^\s*assert\b", src, re.M)
    ]


def _labels() -> set[str]:
    found = set()
    for _, cell, src in _cells():
        if cell["cell_type"] == "markdown":
            found |= {a or b for a, b in LABEL.findall(src)}
    return found


def test_every_check_cell_names_an_equation_first_and_glues_nothing():
    labels = _labels()
    problems = []
    for path, src in _check_cells():
        if path == CHAPTERS[-1]:  # the closing chapter checks its table of claims, not an equation
            continue
        first = src.strip().splitlines()[0]
        where = f"{path.stem}: {first[:70]!r}"
        if not FIRST_LINE.match(first):
            problems.append(f"{where}: the first line is no comment naming an equation ('# checks eq-<label>: ...')")
        else:
            missing = set(re.findall(r"\beq-[\w-]+", first)) - labels
            if missing:
                problems.append(f"{where}: no equation labelled {sorted(missing)} in the book")
        if re.search(r"\bglue\(", src):
            problems.append(f"{where}: glues (move glue calls to a removed cell)")
    assert not problems, "\n".join(problems)


def test_check_cells_are_short():
    lengths = [len(src.strip().splitlines()) for _, src in _check_cells()]
    assert len(lengths) >= 30
    assert statistics.median(lengths) <= 8, sorted(lengths)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapters_import_lindiff_one_way(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    bad = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        for line in "".join(cell["source"]).splitlines():
            m = IMPORT.match(line)
            if m and line.strip() != "import lindiff as ld" and not re.match(r"\s*from lindiff\.book\b", line):
                bad.append(line.strip())
    assert not bad, f"{path.name} imports lindiff another way: {bad}"
