"""Sphinx adjustments for the lindiff book website (loaded through ``sphinx.local_extensions`` in
``_config.yml``). Both keep the pages correct for ``scripts/check_site.mjs``.
"""
from __future__ import annotations


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
