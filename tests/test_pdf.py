"""The PDF of the whole book (scripts/build-book.sh --stored, which scripts/publish.sh and CI run).

Read back as text: every chapter is in it, its equations are typeset (symbols, not TeX source), its
figures are embedded, and the closing table is there. Skipped when no PDF has been built here, unless
LINDIFF_REQUIRE_ALL is set (CI builds it before the tests).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import nbformat
import pytest

from lindiff.book import chapters

ROOT = Path(__file__).resolve().parents[1]
PDF = ROOT / "_build" / "html" / "lindiff.pdf"


@pytest.fixture(scope="module")
def pdf_text():
    if not PDF.is_file():
        reason = f"no PDF at {PDF}: bash scripts/publish.sh (or scripts/build-book.sh --stored) prints it"
        if chapters.require_all():
            pytest.fail(reason + " (LINDIFF_REQUIRE_ALL is set)", pytrace=False)
        pytest.skip(reason)
    pypdf = pytest.importorskip("pypdf")
    reader = pypdf.PdfReader(PDF)
    pages = [page.extract_text() or "" for page in reader.pages]
    # NFKC: the typeset ligatures "ﬁ", "ﬀ" back to letters.
    return reader, " ".join(unicodedata.normalize("NFKC", " ".join(pages)).split())


def _chapter_titles():
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        first = nbformat.read(path, as_version=4).cells[0].source
        heading = next(line for line in first.splitlines() if line.startswith("# "))
        yield path.stem, heading[2:]


def _plain(title: str) -> str:
    """A heading as the PDF shows it: math ($N$) typeset to its letters, markup dropped."""
    return " ".join(re.sub(r"[`*$\\]", "", title).split())


def test_every_chapter_is_in_the_pdf(pdf_text):
    _, text = pdf_text
    for stem, title in _chapter_titles():
        assert _plain(title) in text, f"chapter {stem} ({title!r}) not found in {PDF.name}"


def test_equations_are_typeset_not_tex_source(pdf_text):
    _, text = pdf_text
    # The chapters, up to the API reference (whose docstrings quote TeX in code, on purpose).
    text = text[: text.rindex("API reference")]
    for tex in (r"\frac", r"\mathrm", r"\Sigma", r"\mathcal", "$$", r"\(", r"\[", r"\begin{"):
        assert tex not in text, f"raw TeX {tex!r} in the PDF: MathJax did not typeset it"
    # Symbols of the book's central formulas, as typeset glyphs.
    for symbol in ("Σ", "β", "√", "∑", "λ"):
        assert symbol in text, f"no typeset {symbol!r} in the PDF"


def test_figures_are_embedded(pdf_text):
    reader, _ = pdf_text
    figures = 0
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            tags = cell.metadata.get("tags", [])
            if cell.cell_type != "code" or {"remove-cell", "remove-output"} & set(tags):
                continue
            for out in cell.get("outputs", []):
                if "scrapbook" not in out.get("metadata", {}) and any(
                    k.startswith("image/") for k in out.get("data", {})
                ):
                    figures += 1
    embedded = sum(len(page.images) for page in reader.pages)
    assert figures > 20 and embedded >= figures, (embedded, figures)


def test_closing_table_is_in_the_pdf(pdf_text):
    _, text = pdf_text
    assert "What we reproduced" in text
    assert text.count("holds") >= 10
