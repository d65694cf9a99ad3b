"""The browser checks must fail on the defects they exist to catch: each test feeds them a tiny page
(or, for Lab, a page with the markup jupyterlab-myst writes) with one known defect and requires the
check to report it, and a clean page to pass. A broken notebook in a real JupyterLab is
tests/browser/test_lab.py::test_broken_notebook (it shares that file's Lab server).

Runs by default (about 15 s; needs playwright and Chromium, skipped without them).
"""

from __future__ import annotations

import json
import struct
import zlib

import pytest
from browser_checks import AXE_PATH, ROOT, SiteChecker, axe_problems, browser_path, load_allowlist, skip_or_fail
from lab_checks import myst_problems


def png(width: int = 2, height: int = 2) -> bytes:
    """A grey PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


PNG = png()
MATHJAX = ROOT / "_site_assets" / "mathjax"


def html(body: str, head: str = "") -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>A page</title>'
        f"{head}</head><body><main><h1>A page</h1>{body}</main></body></html>"
    )


def slider(script: bool) -> str:
    """A kernel-free frame slider as lindiff/book/explore.py writes it; without its script it is frozen."""
    js = """<script>(function() {
      var root = document.getElementById("s1");
      root.querySelector(".ld-range").addEventListener("input", function() {
        root.querySelector(".ld-frame").src = "b.png?" + this.value;
        root.querySelector(".ld-value").textContent = "k = " + this.value;
      });
    })();</script>"""
    return html(
        '<div class="lindiff-frame-slider" id="s1" role="group" aria-label="k explorer">'
        '<label for="s1-range">k = <span class="ld-value">0</span></label>'
        '<input type="range" id="s1-range" class="ld-range" min="0" max="2" step="1" value="0">'
        '<img class="ld-frame" src="a.png" alt="frame">' + (js if script else "") + "</div>"
    )


NOTEBOOK_WITH_A_FIGURE = {
    "cells": [
        {
            "cell_type": "code",
            "metadata": {},
            "source": "plot()",
            "outputs": [{"output_type": "display_data", "metadata": {}, "data": {"image/png": "AAAA"}}],
        }
    ],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}

# page -> (its HTML, what the check must say about it); None: the page must pass
PAGES = {
    "clean.html": (
        html('<p id="here">Plain text, <a href="#here">a link</a>, <img src="a.png" alt="a dot">.</p>'),
        None,
    ),
    "slider_ok.html": (slider(script=True), None),
    "broken_link.html": (html('<p><a href="missing.html">a link</a></p>'), "broken link: /missing.html"),
    "broken_fragment.html": (html('<p><a href="clean.html#nowhere">a link</a></p>'), "(no such id)"),
    "raw_tex.html": (html(r"<p>The loss $L(t)$ falls as \frac{1}{t}.</p>"), "raw TeX visible"),
    "untypeset_math.html": (
        html(r'<p><span class="math notranslate nohighlight">\(x^2\)</span></p>'),
        "math elements but no local MathJax script",
    ),
    "image_without_alt.html": (html('<p><img src="a.png"></p>'), "accessibility (axe image-alt, critical)"),
    "missing_image.html": (html('<p><img src="nope.png" alt="a dot"></p>'), "image did not load"),
    "missing_script.html": (html('<script src="_static/nope.js"></script>'), "broken resource: /_static/nope.js"),
    "js_error.html": (html("<script>window.notAFunction();</script>"), "JavaScript error"),
    "console_error.html": (html('<script>console.error("boom");</script>'), "console error: boom"),
    "external_resource.html": (
        html('<img src="https://cdn.example.org/a.png" alt="a dot">'),
        "blocked request to another host: https://cdn.example.org/a.png",
    ),
    "frozen_slider.html": (slider(script=False), "did not change the frame"),
    "widgets_not_rendered.html": (
        html('<script type="application/vnd.jupyter.widget-view+json">{"model_id": "x"}</script>'),
        "widgets not rendered: 0 of 1 views",
    ),
    "book/missing_figure.html": (html('<div class="cell_output"><p>no figure</p></div>'), "1 figures in the notebook"),
    "10_what_we_reproduced.html": (html("<p>no table</p>"), "the table of claims is missing"),
    "claims_as_text.html": (
        html(
            '<table class="lindiff-claims"><thead><tr><th>claim</th></tr></thead>'
            "<tbody><tr><td>N_0 = 5</td></tr></tbody></table>"
        ),
        "table of claims: formula text outside math: N_0 = 5",
    ),
    "redirect.html": (
        '<html><head><meta http-equiv="refresh" content="0; url=gone.html"></head></html>',
        "redirect to a missing page: /gone.html",
    ),
}
if MATHJAX.is_dir():
    head = '<script src="_static/mathjax/tex-chtml.js"></script>'
    PAGES["math_ok.html"] = (html(r'<p><span class="math notranslate nohighlight">\(x^2\)</span></p>', head), None)
    PAGES["mathjax_error.html"] = (
        html(r'<p><span class="math notranslate nohighlight">\(x^1^2\)</span></p>', head),
        "MathJax error",
    )


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory, playwright):
    site = tmp_path_factory.mktemp("site")
    for rel, (text, _) in PAGES.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text, encoding="utf-8")
    for name in ("a.png", "b.png"):
        (site / name).write_bytes(PNG)
    (site / "_sources" / "book").mkdir(parents=True)
    (site / "_sources" / "book" / "missing_figure.ipynb").write_text(json.dumps(NOTEBOOK_WITH_A_FIGURE))
    if MATHJAX.is_dir():
        (site / "_static").mkdir()
        (site / "_static" / "mathjax").symlink_to(MATHJAX, target_is_directory=True)
    axe = AXE_PATH if AXE_PATH.is_file() else None
    with SiteChecker(playwright, site, allowlist=None, axe_path=axe, widget_timeout_ms=2_000) as checker:
        yield checker


@pytest.mark.parametrize("page", list(PAGES))
def test_site_check_reports_the_defect(broken_site, page):
    expected = PAGES[page][1]
    if expected and expected.startswith("accessibility") and broken_site.axe_path is None:
        skip_or_fail(f"{AXE_PATH} missing: npm ci --ignore-scripts")
    problems, _ = broken_site.check(page)
    if expected is None:
        assert problems == [], f"a clean page {page} fails the check: {problems}"
    else:
        assert any(expected in p for p in problems), f"{page}: expected {expected!r} among {problems}"


def test_axe_allowlist(tmp_path):
    """An allowlisted finding passes and marks its entry used; any other finding, or the same rule on
    another element or page, fails; minor and moderate findings never fail."""
    allow = tmp_path / "allow.json"
    entry = {"rule": "color-contrast", "target": r"^\.theme-switch", "pages": r"^book/", "reason": "the theme"}
    allow.write_text(json.dumps({"allow": [entry, {"rule": "region", "target": "x"}]}))
    entries = load_allowlist(allow)
    violations = [
        {
            "id": "color-contrast",
            "help": "contrast",
            "nodes": [{"target": ".theme-switch button", "impact": "serious"}],
        },
        {"id": "color-contrast", "help": "contrast", "nodes": [{"target": "p.low", "impact": "serious"}]},
        {"id": "landmark-one-main", "help": "main", "nodes": [{"target": "html", "impact": "moderate"}]},
    ]
    problems, allowed = axe_problems(violations, entries, "book/intro.html")
    assert allowed == 1 and problems == ["accessibility (axe color-contrast, serious): p.low: contrast"]
    assert [a["used"] for a in entries] == [1, 0]
    problems, allowed = axe_problems(violations[:1], entries, "genindex.html")
    assert allowed == 0 and len(problems) == 1


def test_project_axe_allowlist_reads():
    """scripts/axe-allowlist.json: every entry has a rule, a valid target expression and a reason."""
    for a in load_allowlist():
        assert a["rule"] and a.get("reason"), a


# ---------------------------------------------------------------- Lab: what jupyterlab-myst shows
def cell(inner: str) -> str:
    return f'<div class="jp-Cell jp-MarkdownCell"><div class="jp-RenderedMarkdown"><div class="myst">{inner}</div></div></div>'


LAB_DEFECTS = {
    "raw_role": (cell("<p>as shown in {cite:p}`merger2025`</p>"), "raw MyST role in rendered markdown"),
    "python_role": (
        cell("<p>the weights weights &lt;lindiff.LinearDiffusion.weights&gt;</p>"),
        "Python role shown raw",
    ),
    "empty_dropdown": (
        cell('<details><summary>The code</summary><div class="details-body"> </div></details>'),
        "empty dropdown in Lab: The code",
    ),
    "unresolved": (
        cell('<p>by <span title="Cross Reference Not Found">eq-loss</span></p>'),
        "cross-reference Lab cannot resolve: eq-loss",
    ),
    "link_without_ipynb": (cell('<p><a href="/files/05_real_images#top">chapter 5</a></p>'), "without .ipynb"),
}
GLUE_DEFECTS = {
    "glue_name": cell("<p>beta is <span>sqrt_beta_1:.4f</span></p>"),
    "eval_without_result": cell("<p>beta is <code>glued.sqrt_beta_1</code></p>"),
    "glue_raw": cell("<p>beta is {glue:text}`sqrt_beta_1:.4f`</p>"),
}
LAB_CLEAN = cell(
    "<p>Plain text with <code>ld.kl</code>, <span>0.0200</span>, a figure "
    '<span title="Cross Reference Not Found">fig-loss</span> and a citation '
    '<span title="Citation Not Found">merger2025</span>; a <a href="/files/05_real_images.ipynb">chapter</a>.</p>'
    '<details><summary>The code</summary><div class="details-body">x = 1</div></details>'
)


@pytest.fixture(scope="module")
def lab_page(playwright):
    browser = playwright.chromium.launch(executable_path=browser_path(), args=["--no-sandbox", "--disable-gpu"])
    yield browser.new_page()
    browser.close()


def test_lab_markdown_clean(lab_page):
    lab_page.set_content(html(LAB_CLEAN))
    found = myst_problems(lab_page, n_markdown=1)
    assert found["problems"] == [] and found["glue"] == []
    assert len(found["notes"]) == 2  # the figure reference and the citation: counted, not failed


@pytest.mark.parametrize("defect", list(LAB_DEFECTS))
def test_lab_markdown_defect(lab_page, defect):
    markup, expected = LAB_DEFECTS[defect]
    lab_page.set_content(html(LAB_CLEAN + markup))
    found = myst_problems(lab_page, n_markdown=2)
    assert any(expected in p for p in found["problems"]), found


@pytest.mark.parametrize("defect", list(GLUE_DEFECTS))
def test_lab_glue_shown_by_name(lab_page, defect):
    lab_page.set_content(html(LAB_CLEAN + GLUE_DEFECTS[defect]))
    found = myst_problems(lab_page, n_markdown=2)
    assert any("sqrt_beta_1" in g for g in found["glue"]), found


def test_lab_markdown_not_rendered(lab_page):
    lab_page.set_content(html(LAB_CLEAN))
    found = myst_problems(lab_page, n_markdown=2)
    assert found["problems"] == ["1 of 2 markdown cells rendered by jupyterlab-myst (.myst)"]
