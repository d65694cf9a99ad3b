"""Every figure of every chapter is numbered, captioned, described and cited (issue 25).

A figure is a code cell whose stored outputs hold an ``image/png`` that the book shows: not a cell
tagged ``remove-output``/``remove-cell`` (never shown), not a glued output (``myst_nb.glue``: shown
where the text pastes it) and not a pre-rendered frame slider (HTML, ``lindiff.book.explore``).
Its myst-nb metadata (``scripts/caption_figures.py`` writes it) must give a caption, a name
``fig-...`` unique in the book, and alt text that is a sentence, not a file name; each cell shows
exactly one image (myst-nb would wrap every output of the cell in the same named figure); and the
chapter's prose cites every name with {numref}.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))

HIDDEN = {"remove-output", "remove_output", "remove-cell", "remove_cell"}
FILE_NAME = re.compile(r"^\S+\.(png|jpe?g|svg|gif)$|^\.\./|_images/", re.IGNORECASE)


def _figure_cells(nb: dict):
    for cell in nb["cells"]:
        if cell["cell_type"] != "code" or HIDDEN & set(cell["metadata"].get("tags", [])):
            continue
        images = [
            out
            for out in cell.get("outputs", [])
            if not out.get("metadata", {}).get("scrapbook") and "image/png" in out.get("data", {})
        ]
        if images:
            yield cell, len(images)


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _prose(nb: dict) -> str:
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def test_the_book_has_figures():
    assert sum(1 for p in CHAPTERS for _ in _figure_cells(_load(p))) >= 40


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_figure_is_numbered_captioned_described_and_cited(path):
    nb = _load(path)
    prose = _prose(nb)
    problems = []
    for cell, n_images in _figure_cells(nb):
        where = f"cell {cell.get('id')}"
        meta = cell["metadata"].get("mystnb", {})
        figure, image = meta.get("figure", {}), meta.get("image", {})
        name, caption, alt = figure.get("name", ""), figure.get("caption", ""), image.get("alt", "")
        if n_images != 1:
            problems.append(f"{where}: {n_images} images in one cell (split it: one figure per cell)")
        if not re.fullmatch(r"fig-[a-z0-9]+(-[a-z0-9]+)*", name):
            problems.append(f"{where}: no figure name fig-... in metadata mystnb.figure.name")
            continue
        if len(caption.split()) < 8:
            problems.append(f"{name}: caption missing or shorter than a sentence (mystnb.figure.caption)")
        if len(alt.split()) < 6 or FILE_NAME.search(alt):
            problems.append(f"{name}: alt text missing, too short or a file name (mystnb.image.alt)")
        if re.search(r"[$\\{}]", alt):
            problems.append(f"{name}: alt text holds markup (a screen reader reads it literally)")
        if f"{{numref}}`{name}`" not in prose and not re.search(rf"{{numref}}`[^`<]*<{name}>`", prose):
            problems.append(f"{name}: not cited by {{numref}} in the chapter's text")
    assert not problems, "\n".join(problems)


def test_figure_names_are_unique_in_the_book():
    names = [
        cell["metadata"]["mystnb"]["figure"]["name"]
        for path in CHAPTERS
        for cell, _ in _figure_cells(_load(path))
        if cell["metadata"].get("mystnb", {}).get("figure", {}).get("name")
    ]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})


def test_every_numref_names_a_figure_of_the_book():
    """A {numref} to a name that no figure carries would only fail the nitpicky build, late."""
    names = {c["metadata"].get("mystnb", {}).get("figure", {}).get("name") for p in CHAPTERS for c in _load(p)["cells"]}
    for path in CHAPTERS:
        cited = set(re.findall(r"{numref}`(?:[^`<]*<)?(fig-[^`>]+)>?`", _prose(_load(path))))
        assert cited <= names, f"{path.stem}: {sorted(cited - names)}"
