"""_ext/lindiff_site.py: which chapters the build executes, and the notice on a chapter shown stored."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from docutils import nodes

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("lindiff_site", ROOT / "_ext" / "lindiff_site.py")
site = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(site)


@pytest.fixture
def book(tmp_path, monkeypatch):
    """A source folder with two chapters: one needs nothing, one needs CelebA (absent)."""
    (tmp_path / "book").mkdir()
    for name, needs in [("01_plain", None), ("05_faces", {"datasets": ["celeba"]})]:
        nb = nbformat.v4.new_notebook()
        if needs:
            nb.metadata["lindiff"] = {"needs": needs}
        nbformat.write(nb, tmp_path / "book" / f"{name}.ipynb")
    monkeypatch.setenv("LINDIFF_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("LINDIFF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LINDIFF_OFFLINE", "1")
    monkeypatch.delenv("LINDIFF_REQUIRE_ALL", raising=False)
    monkeypatch.delenv("LINDIFF_BOOK_EXECUTE", raising=False)
    monkeypatch.setattr(site, "_STORED", {})
    app = SimpleNamespace(srcdir=str(tmp_path), env=SimpleNamespace(docname="book/05_faces"))
    config = SimpleNamespace(nb_execution_mode="force", nb_execution_excludepatterns=[])
    return app, config


def test_a_chapter_missing_its_data_is_not_executed_and_says_so(book):
    app, config = book
    site._choose_execution(app, config)
    assert config.nb_execution_mode == "force"
    assert config.nb_execution_excludepatterns == ["book/05_faces.ipynb"]
    section = nodes.section("", nodes.title(text="Faces"), nodes.paragraph(text="body"))
    doctree = nodes.document(None, None)
    doctree += section
    site._stored_notice(app, doctree)
    note = section[1]
    assert isinstance(note, nodes.admonition) and note[0].astext() == "Shown from stored outputs"
    (item,) = note.findall(nodes.list_item)
    assert item.astext().startswith("data set celeba not found in ")
    assert "img_align_celeba.zip" in item.astext()  # how to get it
    app.env.docname = "book/01_plain"
    other = nodes.document(None, None)
    site._stored_notice(app, other)
    assert len(other) == 0


def test_stored_build_executes_nothing_and_require_all_refuses_a_skip(book, monkeypatch):
    app, config = book
    monkeypatch.setenv("LINDIFF_BOOK_EXECUTE", "off")
    site._choose_execution(app, config)
    assert config.nb_execution_mode == "off" and site._STORED == {}
    monkeypatch.setenv("LINDIFF_BOOK_EXECUTE", "auto")
    monkeypatch.setenv("LINDIFF_REQUIRE_ALL", "1")
    with pytest.raises(RuntimeError, match="05_faces cannot be executed and LINDIFF_REQUIRE_ALL is set"):
        site._choose_execution(app, config)
    monkeypatch.setenv("LINDIFF_BOOK_EXECUTE", "sometimes")
    with pytest.raises(ValueError, match="LINDIFF_BOOK_EXECUTE must be 'auto' or 'off'"):
        site._choose_execution(app, config)


def test_source_view_lists_only_modules_whose_source_it_read():
    """A mocked or unreadable module (viewcode records ``False``) gets no entry and no link."""
    entry = ("code", {}, {}, "lindiff.train")
    modules = {"lindiff.train": entry, "torch": False, "torch.nn": entry, "torchvision": entry, "scipy.linalg": False}
    env = SimpleNamespace(_viewcode_modules=modules)
    app = SimpleNamespace(builder=SimpleNamespace(env=env), config=SimpleNamespace(autodoc_mock_imports=["torch"]))
    assert site._drop_unreadable_source_modules(app) == []
    assert modules == {"lindiff.train": entry, "torchvision": entry}


def test_page_body_fixes_for_the_accessibility_audit():
    """myst-nb's toggles are named by their text, the bibliography is no ARIA list, no link in a dropdown title."""
    body = (
        '<summary aria-label="Toggle hidden content">\n<p>Show code cell source</p></summary>'
        '<div role="list" class="citation-list">\n<div class="citation" id="id6" role="doc-biblioentry">x</div></div>'
        '<summary class="sd-summary-title sd-card-header"><span>The code of equation '
        '<a class="reference internal" href="#equation-eq-x">(14)</a></span></summary>'
        '<p>keep <a href="#y">this link</a></p>'
    )
    context = {"body": body}
    site._accessible_body(None, "book/x", "page.html", context, None)
    out = context["body"]
    assert "<summary>\n<p>Show code cell source</p>" in out and "Toggle hidden content" not in out
    assert '<div class="citation-list">' in out and 'role="list"' not in out and "doc-biblioentry" not in out
    assert '<div class="citation" id="id6">x</div>' in out
    assert "The code of equation <span>(14)</span></span></summary>" in out
    assert '<a href="#y">this link</a>' in out  # links outside dropdown titles stay


def test_theme_overrides_and_css_are_registered():
    config = SimpleNamespace(templates_path=["_templates"], html_static_path=["_site_assets"])
    site._add_templates(None, config)
    assert config.templates_path[0] == site._TEMPLATES and Path(site._TEMPLATES, "theme-switcher.html").is_file()
    assert config.html_static_path[-1] == site._STATIC and Path(site._STATIC, "lindiff-a11y.css").is_file()
    site._add_templates(None, config)  # idempotent
    assert config.templates_path.count(site._TEMPLATES) == 1
    # the overrides drop the aria-label that hid the visible text, and keep the theme's classes
    search = Path(site._TEMPLATES, "search-button-field.html").read_text().split("#}")[-1]
    assert "aria-label" not in search and "search-button__button" in search
    switch = Path(site._TEMPLATES, "theme-switcher.html").read_text().split("#}")[-1]
    assert "aria-label" not in switch and 'class="visually-hidden"' in switch and "theme-switch-button" in switch
