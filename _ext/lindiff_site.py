"""Sphinx adjustments for the lindiff book website (loaded through ``sphinx.local_extensions`` in
``_config.yml``). The first two keep the pages correct for ``scripts/check_site.mjs``; the third
labels the bibliography "Author et al., year", like the citations in the text.
"""
from __future__ import annotations

from collections import Counter
from string import ascii_lowercase

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
        names = [Text.from_latex(" ".join(p.last_names)).render_as("text")
                 for p in entry.persons.get("author", [])]
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


def setup(app):
    # Chapter titles may hold math ($N$), and the navigation sidebar shows them on every page:
    # load MathJax on every page, not only on pages that have equations themselves.
    app.set_html_assets_policy("always")
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
