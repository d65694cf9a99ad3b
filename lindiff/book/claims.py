"""Read the numbers a chapter glued (myst-nb ``glue``) out of its executed notebook.

The closing chapter builds its table of the talk's claims from these values, so the table always
shows what the chapters computed, never numbers typed by hand.
"""

from __future__ import annotations

import ast
import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import nbformat

_PREFIX = "application/papermill.record/"


def glued_values(notebook) -> dict:
    """All values glued in an executed notebook, by name.

    Parameters
    ----------
    notebook : str or Path
        Path of an ``.ipynb`` file whose code cells have been executed.

    Returns
    -------
    dict
        ``{name: value}``; numbers, strings, lists and tuples are parsed back from their
        ``text/plain`` representation with :func:`ast.literal_eval`; anything else (e.g. a numpy
        scalar repr such as ``np.float64(0.5)``) is parsed as its inner literal when possible and
        otherwise kept as the string.
    """
    nb = _read_notebook(notebook)
    values = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            meta = out.get("metadata", {}).get("scrapbook")
            if not meta:
                continue
            prefix = meta.get("mime_prefix", "")
            text = out.get("data", {}).get(prefix + "text/plain")
            if text is None:
                continue
            values[meta["name"]] = _parse(text)
    return values


def _read_notebook(notebook):
    """The notebook at ``notebook`` as an ``nbformat`` v4 node (clear errors for a bad path or file)."""
    path = Path(notebook)
    if not path.is_file():
        raise FileNotFoundError(f"notebook {path} not found; pass the path of an executed chapter")
    try:
        return nbformat.read(path, as_version=4)
    except ValueError as exc:  # nbformat's NotJSONError and version errors are ValueErrors
        raise ValueError(f"{path} is not a valid notebook ({exc})") from None


def _parse(text: str):
    """Literal value of a repr, unwrapping numpy scalar reprs like ``np.float64(1.5)``."""
    for candidate in (text, text[text.find("(") + 1 : -1] if text.endswith(")") and "(" in text else None):
        if candidate is None:
            continue
        try:
            return ast.literal_eval(candidate)
        except (ValueError, SyntaxError):
            continue
    return text


def glued_value(notebook, name: str):
    """One glued value; raises ``KeyError`` naming the notebook and the keys it has."""
    values = glued_values(notebook)
    if name not in values:
        raise KeyError(f"{Path(notebook).name} glues no value {name!r}; it has {sorted(values)}")
    return values[name]


@dataclass(frozen=True)
class Claim:
    """One claim of the talk and how a chapter's glued numbers test it.

    Attributes
    ----------
    claim : str
        The claim, in the talk's words; formulas as inline TeX between dollar signs.
    chapter : str
        File stem of the chapter that measures it, e.g. ``"04_kl_divergence"``.
    measured : str
        ``str.format`` template over the chapter's glued names, e.g. ``"$N = {n_kl0}$"`` (TeX braces
        doubled: ``"$\\mathrm{{Id}}$"``).
    holds : callable
        ``holds(values) -> bool`` on the chapter's glued values.
    comment : str
        What the comparison shows, in one sentence (inline TeX allowed).
    """

    claim: str
    chapter: str
    measured: str
    holds: Callable[[dict], bool]
    comment: str = ""


def evaluate_claims(claims, book_dir) -> list[dict]:
    """Fill each claim with the numbers its chapter glued and whether it holds.

    Returns
    -------
    list of dict
        One dict per claim with keys ``claim, chapter, measured, holds, comment``.
    """
    book_dir = Path(book_dir)
    cache: dict[str, dict] = {}
    rows = []
    for c in claims:
        if c.chapter not in cache:
            cache[c.chapter] = glued_values(book_dir / f"{c.chapter}.ipynb")
        values = cache[c.chapter]
        try:
            measured = c.measured.format(**values)
        except KeyError as exc:
            raise KeyError(f"{c.chapter}.ipynb glues no value {exc}; it has {sorted(values)}") from None
        rows.append(
            {
                "claim": c.claim,
                "chapter": c.chapter,
                "measured": measured,
                "holds": bool(c.holds(values)),
                "comment": c.comment,
            }
        )
    return rows


_INLINE_TEX = re.compile(r"\$([^$]+)\$")


def inline_math_html(text: str) -> str:
    """HTML-escape ``text`` and turn each ``$...$`` into an inline-math span that MathJax typesets.

    The span is the one Sphinx writes for inline math, ``<span class="math notranslate
    nohighlight">\\(...\\)</span>``, so the site's MathJax and its browser check treat the table's
    formulas like every other formula of the book.

    Raises
    ------
    ValueError
        If ``text`` has an odd number of dollar signs (an unclosed formula).
    """
    if text.count("$") % 2:
        raise ValueError(f"unbalanced $ in {text!r}: write each formula as $...$")
    return _INLINE_TEX.sub(
        lambda m: f'<span class="math notranslate nohighlight">\\({m.group(1)}\\)</span>',
        html.escape(text, quote=False),
    )


def claims_table_html(rows, titles: dict) -> str:
    """An HTML table of evaluated claims with links to the chapters (``titles``: stem -> title).

    Claims, numbers and comments may contain inline TeX (``$...$``, see :func:`inline_math_html`).
    """
    head = "<tr><th>claim of the talk</th><th>the book measures</th><th>holds?</th><th>where</th></tr>"
    body = []
    for r in rows:
        verdict = "yes" if r["holds"] else "no"
        where = f'<a href="{html.escape(r["chapter"])}.html">{html.escape(titles.get(r["chapter"], r["chapter"]))}</a>'
        body.append(
            f"<tr><td>{inline_math_html(r['claim'])}</td>"
            f"<td>{inline_math_html(r['measured'])}<br><small>{inline_math_html(r['comment'])}</small></td>"
            f"<td><b>{verdict}</b></td><td>{where}</td></tr>"
        )
    style = (
        "<style>.lindiff-claims td, .lindiff-claims th {vertical-align: top; padding: 4px 8px; "
        "border-top: 1px solid #ccc}</style>\n"
    )
    return (
        style
        + '<table class="lindiff-claims">\n<thead>'
        + head
        + "</thead>\n<tbody>\n"
        + "\n".join(body)
        + "\n</tbody>\n</table>"
    )


def chapter_title(notebook) -> str:
    """The first level-1 heading of a notebook's markdown cells, with TeX dollar signs removed."""
    for cell in _read_notebook(notebook).cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    # plain text: the title goes into HTML that no math renderer sees
                    return line[2:].replace("$", "").strip()
    return Path(notebook).stem
