"""The numbers the prose quotes read the same on the website and in JupyterLab (issue 23).

The chapters quote numbers with inline expressions over ``glued`` (:mod:`lindiff.book.quoted`): the
website renders them from the glued value (``_ext/lindiff_site.py``), JupyterLab from the result the
kernel gave, stored in the markdown cell's metadata (``scripts/refresh_notebooks.py``). These tests read
the stored chapters: no old ``{glue:text}`` role is left, every expression has the book's one form, its
number is glued in a code cell *above* the markdown cell (JupyterLab's "Run all" evaluates the
expression when it reaches that cell), and the stored result is the text the website shows.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from lindiff.book.quoted import expression_parts, glue, glued

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))
INLINE = re.compile(r"\{eval\}`([^`]+)`")


def _glued_cells(nb: dict) -> dict:
    """``{name: [(index of a code cell that glued it, its stored text/plain), ...]}``."""
    where = {}
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            meta = out.get("metadata", {}).get("scrapbook")
            if meta:
                text = out["data"][meta.get("mime_prefix", "") + "text/plain"]
                where.setdefault(meta["name"], []).append((i, "".join(text)))
    return where


def test_the_chapters_quote_glued_numbers():
    n = sum(len(INLINE.findall(json.dumps(json.loads(p.read_text())))) for p in CHAPTERS)
    assert n >= 200


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_quoted_number_reads_the_same_on_the_site_and_in_lab(path):
    from myst_nb.core.variables import format_plain_text  # what {glue:text} and our eval role show

    nb = json.loads(path.read_text(encoding="utf-8"))
    glued_at = _glued_cells(nb)
    # a name glued twice: the site shows the last value, Lab the one current where it is quoted
    problems = [
        f"{name!r} is glued {len(at)} times (cells {[i for i, _ in at]})"
        for name, at in glued_at.items()
        if len(at) > 1
    ]
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"])
        if re.search(r"\{glue[:}]", source):
            problems.append(f"cell {i}: a {{glue}} role, which JupyterLab shows as its name")
        stored = {e["expression"]: e["result"] for e in cell["metadata"].get("user_expressions", [])}
        for expression in dict.fromkeys(INLINE.findall(source)):
            try:
                name, fmt = expression_parts(expression)
            except ValueError as exc:
                problems.append(f"cell {i}: {exc}")
                continue
            if name not in glued_at:
                problems.append(f"cell {i}: {name!r} is never glued")
                continue
            j, text = glued_at[name][0]
            if j > i:
                problems.append(f"cell {i}: {name!r} is glued below it (cell {j}); Lab's Run all fails")
            result = stored.get(expression)
            if result is None or result.get("status") != "ok":
                problems.append(f"cell {i}: no stored result for {expression} (refresh the chapter)")
                continue
            in_lab = ast.literal_eval(result["data"]["text/plain"])
            on_site = format_plain_text(text, fmt or "s")
            if in_lab != on_site:
                problems.append(f"cell {i}: {expression} shows {in_lab!r} in Lab, {on_site!r} on the site")
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_expression_parts_reads_the_books_form():
    assert expression_parts('f"{glued.kl_best:.2f}"') == ("kl_best", ".2f")
    assert expression_parts('f"{glued.n_unseen}"') == ("n_unseen", "")
    for bad in ("glued.kl_best", 'f"{kl_best:.2f}"', 'f"{glued.kl_best:.2f}" + "x"', "1 + 1"):
        with pytest.raises(ValueError, match="expression"):
            expression_parts(bad)


def test_glue_keeps_the_value_for_lab_and_refuses_what_the_site_cannot_format():
    np = pytest.importorskip("numpy")
    pytest.importorskip("myst_nb")
    assert glue("test_value", 0.25) is None  # nothing for a cell to echo
    assert glued.test_value == 0.25
    with pytest.raises(TypeError, match="'x'.*float64"):
        glue("x", np.float64(0.5))
    with pytest.raises(ValueError, match="name"):
        glue("not a name", 1.0)
