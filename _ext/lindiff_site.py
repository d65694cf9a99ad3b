"""Sphinx adjustments for the lindiff book website (loaded through ``sphinx.local_extensions`` in
``_config.yml``).

- Which chapters are executed: all of them by default; none with ``LINDIFF_BOOK_EXECUTE=off`` (the
  stored-output build, ``scripts/build-book.sh --stored``); and a chapter whose data set or package
  is missing here (``lindiff.book.chapters``) is shown from its stored outputs, with one line in the
  build log and a notice at the top of its page saying what is missing and how to get it.
- Without the npm assets (no Node.js: ``_site_assets/`` was not made), MathJax and the widget
  JavaScript come from public CDNs instead, and the log says so.
- Without torch, the API page documents the trainer with torch mocked; a module the source view
  cannot read (a mocked one, such as torch then) is neither listed nor linked under ``_modules/``.
- The whole book as one PDF (``LINDIFF_BOOK_PDF``, made by ``scripts/build-book.sh --stored``):
  copied beside the site as ``lindiff.pdf`` and linked from every page's download menu.
- The version (``lindiff.__version__``) and a link to the change log in every page's footer.
- The prose's inline expressions (``{eval}`f"{glued.NAME:FORMAT}"```, :mod:`lindiff.book.quoted`)
  rendered from the values the notebook glued, formatted as ``{glue:text}`NAME:FORMAT``` would be:
  the same text JupyterLab shows from the kernel.
- MathJax on every page, no duplicate inline scripts (both for ``tests/browser/test_site.py``), and
  bibliography labels "Author et al., year", like the citations in the text.
- Accessibility (the axe-core audit of ``tests/browser/test_site.py``): two theme components overridden
  (``_ext/templates/``: the search button and the light/dark switch, whose ARIA names
  hid their visible text), and three fixes to the page body: the code-cell toggles of myst-nb are
  named by their visible text, the bibliography is no ARIA list with non-item children, and a link
  inside a dropdown's title (a control inside a control) becomes plain text; and one colour fix
  (``_ext/static/lindiff-a11y.css``).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from collections import Counter
from pathlib import Path
from string import ascii_lowercase

from docutils import nodes
from sphinx.util import logging

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle


class AuthorYearLabels(BaseLabelStyle):
    """Labels "Ho et al., 2020", "Merger and Goldt, 2025"; equal labels get a, b, ... after the year."""

    def format_labels(self, sorted_entries):
        labels = [self._label(entry) for entry in sorted_entries]
        total, seen = Counter(labels), Counter()
        for label in labels:
            if total[label] > 1:
                seen[label] += 1
                yield label + ascii_lowercase[seen[label] - 1]
            else:
                yield label

    @staticmethod
    def _label(entry):
        names = [Text.from_latex(" ".join(p.last_names)).render_as("text") for p in entry.persons.get("author", [])]
        if len(names) > 2:
            who = f"{names[0]} et al."
        else:
            who = " and ".join(names) or entry.key
        return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearStyle(UnsrtStyle):
    """pybtex's unsrt entries, sorted by author and year, with :class:`AuthorYearLabels`."""

    default_label_style = AuthorYearLabels
    default_sorting_style = "author_year_title"


register_plugin("pybtex.style.formatting", "lindiff_authoryear", AuthorYearStyle)


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    """Write each ``<script>`` once.

    Sphinx 7.4 keeps an inline script that an extension adds after the builder has started twice
    (once with filename ``None``, once with ``''``). sphinx-thebe's ``const THEBE_JS_URL = ...``
    then raises "Identifier has already been declared" on every page.
    """
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen, unique = set(), []
    for js in scripts:
        key = (js.filename or "", js.priority, tuple(sorted(js.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


logger = logging.getLogger(__name__)
_STORED: dict = {}  # docname -> lines saying what the chapter needs and this machine lacks
_CDN_MATHJAX = "https://cdn.jsdelivr.net/npm/mathjax@3.2.2/es5/tex-chtml.js"


def _choose_execution(app, config):
    """Execute every chapter, none (``LINDIFF_BOOK_EXECUTE=off``), or all whose needs are met."""
    mode = os.environ.get("LINDIFF_BOOK_EXECUTE", "auto").strip().lower()
    if mode not in {"auto", "off"}:
        raise ValueError(f"LINDIFF_BOOK_EXECUTE must be 'auto' or 'off', got {mode!r}")
    if mode == "off":
        config.nb_execution_mode = "off"
        logger.info("lindiff: stored-output build: no chapter is executed (LINDIFF_BOOK_EXECUTE=off)")
        return
    from lindiff.book import chapters

    for path in sorted(Path(app.srcdir, "book").glob("*.ipynb")):
        lines = chapters.missing_needs(path)
        if not lines:
            continue
        if chapters.require_all():
            raise RuntimeError(
                f"chapter {path.stem} cannot be executed and LINDIFF_REQUIRE_ALL is set: " + " | ".join(lines)
            )
        docname = f"book/{path.stem}"
        _STORED[docname] = lines
        config.nb_execution_excludepatterns = [*config.nb_execution_excludepatterns, f"{docname}.ipynb"]
        for line in lines:
            logger.info(f"lindiff: chapter {path.stem} is shown from its stored outputs: {line}")


def _assets_or_cdn(app, config):
    """Serve MathJax and the widget JavaScript from _site_assets/ if npm made it, else from CDNs."""
    if Path(app.srcdir, "_site_assets", "mathjax", "tex-chtml.js").is_file():
        return
    from myst_nb.core.config import NbParserConfig

    config.html_static_path = [p for p in config.html_static_path if p != "_site_assets"]
    config.mathjax_path = _CDN_MATHJAX
    config.nb_ipywidgets_js = NbParserConfig().ipywidgets_js
    logger.info(
        "lindiff: _site_assets/ is missing (no Node.js/npm?): MathJax and the widget "
        "JavaScript will load from public CDNs when the pages are read"
    )


def _mock_torch(app, config):
    """Document the trainer without torch installed (the stored-output build installs none)."""
    if importlib.util.find_spec("torch") is None:
        config.autodoc_mock_imports = [*config.autodoc_mock_imports, "torch"]


def _drop_unreadable_source_modules(app):
    """Keep only modules whose source viewcode read, so ``_modules/index.html`` links no missing page.

    ``sphinx.ext.viewcode`` (Sphinx 7.4) records a module it could not analyse as ``False`` and
    writes no page for it, yet still lists it on ``_modules/index.html``: with torch mocked, a link
    to ``_modules/torch.html`` that does not exist. A mocked module is dropped even if recorded.
    Runs on ``html-collect-pages`` before viewcode's own handler; yields no page itself.
    """
    modules = getattr(app.builder.env, "_viewcode_modules", None)
    if not modules:
        return []
    mocked = tuple(app.config.autodoc_mock_imports or ())
    for name in list(modules):
        if not modules[name] or any(name == m or name.startswith(m + ".") for m in mocked):
            del modules[name]
    return []


PDF_NAME = "lindiff.pdf"


def _book_pdf() -> Path | None:
    """The PDF of the whole book named by ``LINDIFF_BOOK_PDF``, or None when none is to be published."""
    value = os.environ.get("LINDIFF_BOOK_PDF", "").strip()
    if not value:
        return None
    path = Path(value)
    if not path.is_file():
        raise FileNotFoundError(
            f"LINDIFF_BOOK_PDF names {path}, which does not exist; scripts/build-book.sh --stored prints it first"
        )
    return path


def _link_book_pdf(app, pagename, templatename, context, doctree):
    """Every page of the html site links the book's PDF: in the download menu, else as a button."""
    if app.builder.name != "html" or _book_pdf() is None:
        return
    button = {
        "type": "link",
        "url": context["pathto"](PDF_NAME, 1),
        "text": "whole book (.pdf)",
        "tooltip": "Download the whole book as a PDF",
        "icon": "fas fa-book",
        "label": "download-book-pdf-button",
    }
    buttons = context.setdefault("header_buttons", [])
    group = next((b for b in buttons if b.get("label") == "download-buttons"), None)
    if group is not None:
        group["buttons"].append(button)
    else:
        buttons.append({**button, "text": ""})


def _copy_book_pdf(app, exception):
    """Put the PDF beside the pages (``_build/html/lindiff.pdf``)."""
    pdf = _book_pdf()
    if exception is None and pdf is not None and app.builder.name == "html":
        shutil.copyfile(pdf, Path(app.outdir, PDF_NAME))


CHANGELOG_URL = "https://github.com/lindiff-book/lindiff/blob/main/CHANGELOG.md"


def _version_in_footer(app, config):
    """Every page's footer says which version of the book (and of lindiff) it shows."""
    import lindiff

    config.version = config.release = lindiff.__version__
    options = dict(config.html_theme_options or {})
    options["extra_footer"] = (options.get("extra_footer") or "") + (
        f'<p class="lindiff-version">lindiff {lindiff.__version__} (<a href="{CHANGELOG_URL}">what changed</a>)</p>'
    )
    config.html_theme_options = options


def _stored_notice(app, doctree):
    """At the top of a chapter shown from stored outputs: what is missing here and how to get it."""
    lines = _STORED.get(app.env.docname)
    if not lines:
        return
    note = nodes.admonition(classes=["warning", "lindiff-stored-outputs"])
    note += nodes.title(text="Shown from stored outputs")
    note += nodes.paragraph(
        text="This build could not execute this chapter, so its figures and numbers "
        "are the stored outputs that CI verified. Missing here:"
    )
    items = nodes.bullet_list()
    for line in lines:
        para = nodes.paragraph()
        for i, part in enumerate(line.split("`")):  # `command` -> literal text
            para += nodes.literal(text=part) if i % 2 else nodes.Text(part)
        items += nodes.list_item("", para)
    note += items
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None:
        doctree.insert(0, note)
    else:
        section.insert(1 if section.children and isinstance(section[0], nodes.title) else 0, note)


_TEMPLATES = str(Path(__file__).resolve().parent / "templates")
_STATIC = str(Path(__file__).resolve().parent / "static")  # lindiff-a11y.css (no .js: see _config.yml)
_BODY_FIXES = [
    # myst-nb's hide-input toggle: the visible "Show code cell source" is its name, not a label
    # that differs from it (axe: label-content-name-mismatch)
    (re.compile(r'<summary aria-label="Toggle hidden content">'), "<summary>"),
    # docutils' bibliography: role="list" whose children are no list items (axe:
    # aria-required-children, critical), and the deprecated role doc-biblioentry on each entry
    (re.compile(r'<div role="list" class="citation-list">'), '<div class="citation-list">'),
    (re.compile(r'(<div class="citation" id="[^"]*") role="doc-biblioentry"'), r"\1"),
]
_DROPDOWN_TITLE = re.compile(r'(<summary class="sd-summary-title[^"]*">)(.*?)(</summary>)', re.DOTALL)
_LINK = re.compile(r"<a\b[^>]*>(.*?)</a>", re.DOTALL)


def _add_templates(app, config):
    """Our overrides of theme components come before the theme's own templates; our CSS is served."""
    if _TEMPLATES not in config.templates_path:
        config.templates_path = [_TEMPLATES, *config.templates_path]
    if _STATIC not in config.html_static_path:
        config.html_static_path = [*config.html_static_path, _STATIC]


def _accessible_body(app, pagename, templatename, context, doctree):
    """Apply :data:`_BODY_FIXES`, and unlink links inside dropdown titles (axe: nested-interactive)."""
    body = context.get("body")
    if not isinstance(body, str):
        return
    for pattern, repl in _BODY_FIXES:
        body = pattern.sub(repl, body)
    body = _DROPDOWN_TITLE.sub(lambda m: m.group(1) + _LINK.sub(r"<span>\1</span>", m.group(2)) + m.group(3), body)
    context["body"] = body


def _glued_expression_role():
    """The ``eval`` role, for the one form of expression the chapters use (:mod:`lindiff.book.quoted`).

    myst-nb's own ``eval`` role needs a kernel during the build; this one reads the glued value, so
    the stored-output build and the executed build render the same text. Any other expression is an
    error in the build log (a warning; the book builds with warnings as errors).
    """
    from myst_nb.core.variables import create_warning
    from myst_nb.ext.glue.roles import PasteTextRole

    from lindiff.book.quoted import expression_parts

    class GluedExpressionRole(PasteTextRole):
        def run(self):
            try:
                name, fmt = expression_parts(self.text)
            except ValueError as exc:
                return [], [create_warning(str(exc), self.document, self.line, subtype="eval")]
            self.text = f"{name}:{fmt}" if fmt else name
            return super().run()

    return GluedExpressionRole()


def _glued_expressions(app):
    app.add_role("eval", _glued_expression_role(), override=True)


def setup(app):
    app.connect("builder-inited", _glued_expressions)
    app.connect("config-inited", _add_templates)
    app.connect("html-page-context", _accessible_body)
    app.add_css_file("lindiff-a11y.css")
    app.connect("config-inited", _choose_execution)
    app.connect("config-inited", _assets_or_cdn)
    app.connect("config-inited", _mock_torch)
    app.connect("config-inited", _version_in_footer)
    app.connect("doctree-read", _stored_notice)
    app.connect("html-collect-pages", _drop_unreadable_source_modules, priority=100)
    app.connect("html-page-context", _link_book_pdf, priority=600)  # after the theme's buttons (501)
    app.connect("build-finished", _copy_book_pdf)
    # Chapter titles may hold math ($N$), and the navigation sidebar shows them on every page:
    # load MathJax on every page, not only on pages that have equations themselves.
    app.set_html_assets_policy("always")
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
