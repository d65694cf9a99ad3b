"""The built site's checks in a real browser, as plain functions that return lists of problems.

Headless Chromium (Debian's /usr/bin/chromium, or CHROMIUM=/path) driven by playwright's Python
package, which downloads no browser. tests/browser/test_site.py runs these checks over every page
of the built site; tests/browser/test_broken_pages.py feeds them pages with known defects, so that a
check that stops catching its defect fails too. scripts/print_pdf.py shares the launcher and the
static server. Nothing here imports lindiff.

On every page (:meth:`SiteChecker.check`):
  - math is typeset: each Sphinx math element holds MathJax output, no MathJax error, and no raw TeX
    ($...$, \\(...\\), \\[...\\], $$, \\frac, ...) is visible outside code;
  - every image has loaded (naturalWidth > 0), after the widgets below have rendered, and every figure
    of the page's committed notebook (_sources/<page>.ipynb) is on the page;
  - pages with ipywidgets: every saved widget view renders (.jupyter-widgets / .widget-*);
  - every kernel-free explorer (.lindiff-frame-slider from lindiff/book/explore.py): moving its
    input.ld-range swaps img.ld-frame to another loaded frame and updates its label;
  - the closing chapter's table of claims (table.lindiff-claims): formulas typeset, none as plain text;
  - every internal link, image, script and stylesheet points at a file that exists (and, for links
    with #fragment, at an id in that page); no local request fails; a redirect stub's target exists;
  - no request leaves 127.0.0.1: every other request is logged and blocked;
  - no uncaught JavaScript error and no console error;
  - accessibility: axe-core (npm, node_modules/axe-core/axe.min.js, injected after the checks above;
    of the source pages _modules/*, which share one template and hold only highlighted code, into
    the index and the first module only, to keep the check short) finds no critical or serious
    violation, except those listed with their reason in scripts/axe-allowlist.json (rule + CSS
    selector of the element, caused by the theme); an allowlist entry no page needs any more is
    reported as a note (:meth:`SiteChecker.unused_allowlist`), so that the list stays exact.
Chapters are also photographed in the theme's dark mode (<page>--dark.png: figures must stay legible).
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import tempfile
import threading
import time
import urllib.parse
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AXE_PATH = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_ALLOWLIST = ROOT / "scripts" / "axe-allowlist.json"
WIDGET_TIMEOUT_MS = 30_000


def browser_path() -> str:
    """The Chromium to drive: $CHROMIUM (e.g. Google Chrome on GitHub's runners) or Debian's."""
    return os.environ.get("CHROMIUM", "/usr/bin/chromium")


def launch_chromium(playwright, user_data_dir, viewport: dict):
    """Headless Chromium with the flags this machine needs: no background networking, so nothing
    leaves the machine on its own. No browser download: playwright drives the system's Chromium."""
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir),
        executable_path=browser_path(),
        headless=True,
        args=[
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
        viewport=viewport,
    )


def missing_browser() -> str | None:
    """Why the browser checks cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if not Path(browser_path()).exists():
        return f"no browser at {browser_path()}; apt-get install -y chromium (or set CHROMIUM=/path)"
    return None


def skip_or_fail(why: str):
    """Skip the test, saying why; under LINDIFF_REQUIRE_ALL=1 (CI) fail instead: CI may skip no check."""
    import pytest

    if os.environ.get("LINDIFF_REQUIRE_ALL") == "1":
        pytest.fail(f"{why} (LINDIFF_REQUIRE_ALL=1: no check may be skipped)", pytrace=False)
    pytest.skip(why)


# ---------------------------------------------------------------- static server on 127.0.0.1
MIME = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".eot": "application/vnd.ms-fontobject",
    ".otf": "font/otf",
    ".txt": "text/plain; charset=utf-8",
    ".ipynb": "application/json",
    ".md": "text/markdown; charset=utf-8",
    ".inv": "application/octet-stream",
    ".map": "application/json",
}


def file_for(site_dir: Path, url_path: str, aliases: dict | None = None) -> Path | None:
    """The file a site URL path names (a folder: its index.html), or None if there is none."""
    try:
        rel = urllib.parse.unquote(url_path, errors="strict")
    except UnicodeDecodeError:
        return None
    if aliases and rel in aliases:
        return aliases[rel]
    file = Path(os.path.normpath(os.path.join(site_dir, rel.lstrip("/"))))
    if file != site_dir and site_dir not in file.parents:
        return None
    if file.is_dir():
        index = file / "index.html"
        return index if index.is_file() else None
    return file if file.is_file() else None


@contextmanager
def serve(site_dir, aliases: dict | None = None):
    """Serve ``site_dir`` on 127.0.0.1 (a free port) in a thread; yields the origin, http://127.0.0.1:PORT.
    ``aliases`` maps URL paths to files (print_pdf.py serves the single page as /book.html)."""
    site_dir = Path(site_dir).resolve()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802 (the name http.server calls)
            file = file_for(site_dir, urllib.parse.urlsplit(self.path).path, aliases)
            body = file.read_bytes() if file else b"not found"
            self.send_response(200 if file else 404)
            ctype = MIME.get(file.suffix.lower(), "application/octet-stream") if file else "text/plain"
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------- pages
def html_pages(site_dir) -> list[str]:
    """Every HTML page of the site (not _static, _sources, _images), as paths relative to it."""
    site_dir = Path(site_dir)
    pages = []

    def walk(d: Path, rel: str):
        for entry in sorted(d.iterdir(), key=lambda e: e.name):
            sub = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_dir():
                if entry.name not in ("_static", "_sources", "_images"):
                    walk(entry, sub)
            elif entry.name.endswith(".html"):
                pages.append(sub)

    walk(site_dir, "")
    return pages


def audited_pages(pages: list[str]) -> set[str]:
    """The pages axe-core audits: all but the source pages _modules/*, of which the index and the first."""
    first_module = next((p for p in pages if p.startswith("_modules/") and p != "_modules/index.html"), None)
    return {p for p in pages if not p.startswith("_modules/") or p in ("_modules/index.html", first_module)}


_ID = re.compile(r"""\s(?:id|name)=["']([^"']+)["']""")


def notebook_figures(site_dir, rel: str) -> int | None:
    """Figures (image outputs) the page's committed notebook shows, or None for a page with no notebook."""
    source = Path(site_dir) / "_sources" / re.sub(r"\.html$", ".ipynb", rel)
    if not source.is_file():
        return None
    nb = json.loads(source.read_text(encoding="utf-8"))
    hidden = {"remove-output", "remove-cell", "remove_cell", "remove_output"}
    n = 0
    for cell in nb["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] != "code" or hidden & set(tags):
            continue
        for out in cell.get("outputs", []):
            if out.get("metadata", {}).get("scrapbook"):
                continue  # myst-nb glue: shown where the text pastes it
            if any(k.startswith("image/") for k in out.get("data", {})):
                n += 1
    return n


def load_allowlist(path=AXE_ALLOWLIST) -> list[dict]:
    """scripts/axe-allowlist.json's entries, with their regular expressions compiled and a use count."""
    entries = json.loads(Path(path).read_text(encoding="utf-8"))["allow"]
    return [
        {**a, "target_re": re.compile(a["target"]), "pages_re": re.compile(a.get("pages") or ".*"), "used": 0}
        for a in entries
    ]


def axe_problems(violations: list[dict], allow: list[dict], rel: str) -> tuple[list[str], int]:
    """Critical and serious axe-core findings not in the allowlist; also counts the allowlisted ones
    (and marks their entries used)."""
    problems, allowed = [], 0
    for v in violations:
        for n in v["nodes"]:
            if n["impact"] not in ("critical", "serious"):
                continue
            entry = next(
                (
                    a
                    for a in allow
                    if a["rule"] == v["id"] and a["target_re"].search(n["target"]) and a["pages_re"].search(rel)
                ),
                None,
            )
            if entry:
                entry["used"] += 1
                allowed += 1
            else:
                problems.append(f"accessibility (axe {v['id']}, {n['impact']}): {n['target']}: {v['help']}")
    return problems, allowed


# ---------------------------------------------------------------- the page's JavaScript
MATH_JS = r"""() => {
  const elements = [...document.querySelectorAll("span.math, div.math")];
  const untypeset = elements.filter((el) => !el.querySelector("mjx-container")).map((el) => el.textContent.trim().slice(0, 60));
  const errors = [...document.querySelectorAll("mjx-merror")].map((el) => el.getAttribute("data-mjx-error") || el.textContent.slice(0, 60));
  // visible text outside code and MathJax output
  const raw = [];
  const rawTex = /\\\(|\\\)|\\\[|\\\]|\$\$|\$[^\s$][^$\n]{0,200}?\$|\\(?:frac|mathcal|mathrm|mathbb|lambda|Sigma|sigma|alpha|beta|epsilon|mu|nu|sum|prod|left|right|begin|end|bar|hat|tilde|sqrt)\b/;
  const skip = "pre, code, script, style, textarea, mjx-container, .highlight, .lindiff-frame-slider script";
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest(skip) || !parent.checkVisibility()) continue;
    if (rawTex.test(node.textContent)) raw.push(node.textContent.trim().slice(0, 80));
  }
  return { count: elements.length, typeset: document.querySelectorAll("mjx-container").length, untypeset, errors, raw };
}"""

CLAIMS_JS = r"""() => {
  const table = document.querySelector("table.lindiff-claims");
  if (!table) return null;
  const textOutsideMath = (cell) => {
    const copy = cell.cloneNode(true);
    copy.querySelectorAll("mjx-container").forEach((m) => m.remove());
    return copy.textContent;
  };
  const cells = [...table.querySelectorAll("tbody td")];
  return {
    rows: table.querySelectorAll("tbody tr").length,
    typeset: table.querySelectorAll("tbody mjx-container").length,
    raw: cells.map(textOutsideMath).filter((t) => /[_^]/.test(t)).map((t) => t.trim().slice(0, 80)),
  };
}"""

WIDGETS_RENDERED_JS = """(n) => [...document.querySelectorAll(".widget-subarea")]
  .filter((el) => el.querySelector(".jupyter-widgets, [class*='widget-']")).length >= n"""

IMAGES_JS = """async () => {
  const imgs = [...document.images];
  for (const img of imgs) img.loading = "eager";
  await Promise.all(imgs.map((img) => (img.complete ? null
    : new Promise((r) => { img.onload = img.onerror = r; setTimeout(r, 10000); }))));
  return imgs.map((img) => ({ src: img.currentSrc || img.src, ok: img.naturalWidth > 0 }));
}"""

REFS_JS = """() => [
  ...[...document.querySelectorAll("a[href]")].map((a) => ["link", a.href]),
  ...[...document.querySelectorAll("img[src], script[src], iframe[src], source[src]")].map((e) => ["resource", e.src]),
  // rel=canonical names the published address (html.baseurl); a browser never loads it
  ...[...document.querySelectorAll("link[href]:not([rel=canonical])")].map((l) => ["resource", l.href]),
]"""

AXE_JS = """async () => {
  const r = await window.axe.run(document, { resultTypes: ["violations"] });
  return r.violations.map((v) => ({
    id: v.id, help: v.help,
    nodes: v.nodes.map((n) => ({ target: n.target.flat().join(" "), impact: n.impact || v.impact })),
  }));
}"""

_REDIRECT = re.compile(r'<meta http-equiv="refresh" content="\d+;\s*url=([^"]+)"', re.IGNORECASE)


def _first_line(text: str) -> str:
    return (text or "").split("\n")[0]


class SiteChecker:
    """One browser over one served site; :meth:`check` checks a page and returns its problems.

    Use as a context manager: ``with SiteChecker(playwright, site_dir) as site: site.check("index.html")``.
    """

    def __init__(
        self,
        playwright,
        site_dir,
        shot_dir=None,
        allowlist=AXE_ALLOWLIST,
        axe_path=AXE_PATH,
        widget_timeout_ms=WIDGET_TIMEOUT_MS,
    ):
        self.playwright = playwright
        self.site_dir = Path(site_dir).resolve()
        self.shot_dir = Path(shot_dir) if shot_dir else None
        self.allow = load_allowlist(allowlist) if allowlist else []
        self.axe_path = Path(axe_path) if axe_path else None
        self.widget_timeout_ms = widget_timeout_ms
        self.pages = html_pages(self.site_dir)
        self.audited = audited_pages(self.pages)
        self.external: list[tuple[str, str]] = []  # (page, url) of every blocked request
        self.current = ""
        self.axe_seconds = 0.0
        self.checked = 0  # pages checked (by test_site.py)
        self._ids: dict[Path, set] = {}

    def __enter__(self):
        if self.axe_path and not self.axe_path.is_file():
            raise FileNotFoundError(
                f"{self.axe_path}: run `npm ci --ignore-scripts` (axe-core is an npm devDependency)"
            )
        self._serving = serve(self.site_dir)
        self.origin = self._serving.__enter__()
        self._profile = tempfile.mkdtemp(prefix="lindiff-chromium-")
        self.context = launch_chromium(self.playwright, self._profile, {"width": 1280, "height": 900})
        self.context.route("**/*", self._route)
        return self

    def __exit__(self, *exc):
        try:
            self.context.close()
        finally:
            self._serving.__exit__(None, None, None)
            shutil.rmtree(self._profile, ignore_errors=True)

    def _route(self, route):
        url = route.request.url
        if self.is_local(url):
            return route.continue_()
        self.external.append((self.current, url))
        return route.abort("blockedbyclient")

    def is_local(self, url: str) -> bool:
        return url == self.origin or url.startswith(self.origin + "/")

    def page_ids(self, file: Path) -> set:
        if file not in self._ids:
            self._ids[file] = set(_ID.findall(file.read_text(encoding="utf-8", errors="replace")))
        return self._ids[file]

    def unused_allowlist(self) -> list[str]:
        """Allowlist entries that no checked page needed (remove them?)."""
        return [f"{a['rule']} {a['target']}" for a in self.allow if not a["used"]]

    def _shot(self, target, name: str):
        if self.shot_dir:
            target.screenshot(path=str(self.shot_dir / name))

    def check(self, rel: str) -> tuple[list[str], dict]:
        """Check one page (a path relative to the site); returns (problems, facts)."""
        start = time.monotonic()
        self.current = rel
        problems: list[str] = []
        facts: dict = {}
        origin = self.origin
        page = self.context.new_page()
        page.on("pageerror", lambda err: problems.append(f"JavaScript error: {_first_line(err.message)}"))
        page.on(
            "console",
            lambda msg: (
                msg.type == "error"
                and "net::ERR_BLOCKED_BY_CLIENT" not in msg.text
                and problems.append(f"console error: {_first_line(msg.text)[:200]}")
            ),
        )
        page.on(
            "response",
            lambda resp: (
                self.is_local(resp.url)
                and resp.status >= 400
                and problems.append(f"HTTP {resp.status} for {resp.url[len(origin) :]}")
            ),
        )
        page.on(
            "requestfailed",
            lambda req: (
                self.is_local(req.url) and problems.append(f"request failed: {req.url[len(origin) :]} ({req.failure})")
            ),
        )
        slug = re.sub(r"\.html$", "", rel).replace("/", "__")
        page.set_default_timeout(30_000)
        redirect = _REDIRECT.search((self.site_dir / rel).read_text(encoding="utf-8", errors="replace"))
        try:
            if redirect:
                # a redirect stub (index.html -> the root page): its target must exist
                target = urllib.parse.urlsplit(urllib.parse.urljoin(f"{origin}/{rel}", redirect[1])).path
                if not file_for(self.site_dir, target):
                    problems.append(f"redirect to a missing page: {target}")
                facts["redirect"] = target
            else:
                self._check_loaded(page, rel, slug, problems, facts)
        except Exception as err:  # a timeout or a closed page: the check could not finish
            problems.append(f"check aborted: {_first_line(str(err))}")
        page.close()
        problems += [f"blocked request to another host: {url}" for p, url in self.external if p == rel]
        facts["seconds"] = round(time.monotonic() - start, 1)
        return list(dict.fromkeys(problems)), facts

    def _check_loaded(self, page, rel, slug, problems, facts):
        page.goto(f"{self.origin}/{rel}", wait_until="load")

        # ---- math
        has_mathjax = page.evaluate("() => !!document.querySelector('script[src*=\"mathjax/tex-chtml.js\"]')")
        if has_mathjax:
            page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20_000)
            page.evaluate("() => MathJax.startup.promise.then(() => null)")
        math = page.evaluate(MATH_JS)
        facts["math"] = math["count"]
        if math["count"] and not has_mathjax:
            problems.append(f"{math['count']} math elements but no local MathJax script")
        problems += [f"math not typeset: {t}" for t in math["untypeset"]]
        problems += [f"MathJax error: {e}" for e in math["errors"]]
        problems += [f"raw TeX visible: {t}" for t in math["raw"]]

        # ---- the closing chapter's table of claims: formulas typeset, no formula left as plain text
        claims = page.evaluate(CLAIMS_JS)
        if "what_we_reproduced" in rel and not claims:
            problems.append("the table of claims is missing")
        if claims:
            facts["claims"] = {"rows": claims["rows"], "typeset": claims["typeset"]}
            if claims["typeset"] < claims["rows"]:
                problems.append(f"table of claims: {claims['typeset']} typeset formulas in {claims['rows']} rows")
            problems += [f"table of claims: formula text outside math: {t}" for t in claims["raw"]]

        # ---- ipywidgets
        views = page.evaluate(
            "() => document.querySelectorAll('script[type=\"application/vnd.jupyter.widget-view+json\"]').length"
        )
        facts["widgets"] = views
        if views:
            try:
                page.wait_for_function(WIDGETS_RENDERED_JS, arg=views, timeout=self.widget_timeout_ms)
            except Exception:
                rendered = page.evaluate("() => document.querySelectorAll('.widget-subarea .jupyter-widgets').length")
                problems.append(
                    f"widgets not rendered: {rendered} of {views} views after {self.widget_timeout_ms / 1000:g} s"
                )
            for i, box in enumerate(page.query_selector_all(".widget-subarea")):
                box.scroll_into_view_if_needed()
                self._shot(box, f"{slug}--widget-{i + 1}.png")

        # ---- kernel-free frame sliders
        sliders = page.query_selector_all(".lindiff-frame-slider")
        facts["sliders"] = len(sliders)
        for i, root in enumerate(sliders, 1):
            rng = root.query_selector("input.ld-range")
            if not (rng and root.query_selector("img.ld-frame") and root.query_selector(".ld-value")):
                problems.append(f"frame slider {i}: missing input.ld-range, img.ld-frame or .ld-value")
                continue
            before = root.evaluate("""(el) => ({
              src: el.querySelector("img.ld-frame").src, label: el.querySelector(".ld-value").textContent,
              value: Number(el.querySelector("input.ld-range").value),
              max: Number(el.querySelector("input.ld-range").max)})""")
            if before["max"] < 1:
                problems.append(f"frame slider {i}: only one frame")
                continue
            target = 0 if before["value"] == before["max"] else before["max"]
            root.scroll_into_view_if_needed()
            rng.fill(str(target))
            page.wait_for_function("(el) => el.querySelector('img.ld-frame').complete", arg=root, timeout=5_000)
            after = root.evaluate("""(el) => ({
              src: el.querySelector("img.ld-frame").src, label: el.querySelector(".ld-value").textContent,
              width: el.querySelector("img.ld-frame").naturalWidth})""")
            if after["src"] == before["src"]:
                problems.append(f"frame slider {i}: moving the slider to {target} did not change the frame")
            if after["label"] == before["label"]:
                problems.append(f"frame slider {i}: moving the slider did not change its label")
            if not after["width"] > 0:
                problems.append(f"frame slider {i}: frame {target} did not load")
            self._shot(root, f"{slug}--slider-{i}.png")

        # ---- images (including those the widgets and sliders just drew)
        images = page.evaluate(IMAGES_JS)
        facts["images"] = len(images)
        for im in images:
            if not im["ok"]:
                src = im["src"][:40] + "..." if im["src"].startswith("data:") else im["src"]
                problems.append(f"image did not load: {src}")
        # every figure the committed notebook shows must be on the page, too (the book re-executes
        # the notebook: a figure that its kernel failed to draw would otherwise just be absent)
        expected = notebook_figures(self.site_dir, rel)
        if expected is not None:
            shown = page.evaluate("""() => [...document.querySelectorAll(".cell_output img")]
              .filter((img) => !img.closest(".widget-subarea, .lindiff-frame-slider")).length""")
            facts["figures"] = f"{shown}/{expected}"
            if shown < expected:
                problems.append(f"{expected} figures in the notebook's outputs, {shown} on the page")

        # ---- links and resources
        external = 0
        refs = page.evaluate(REFS_JS)
        for kind, href in refs:
            if not re.match(r"https?:", href):
                continue  # data:, mailto:, javascript:
            if not self.is_local(href):
                if kind == "resource":
                    problems.append(f"resource from another host: {href}")
                external += 1
                continue
            url = urllib.parse.urlsplit(href)
            file = file_for(self.site_dir, url.path)
            if not file:
                problems.append(f"broken {kind}: {url.path}")
                continue
            frag = urllib.parse.unquote(url.fragment)
            if frag and file.suffix == ".html" and frag not in self.page_ids(file):
                problems.append(f"broken link: {url.path}#{frag} (no such id)")
        facts["links"] = len(refs)
        facts["external_links"] = external

        # ---- accessibility (axe-core): critical and serious findings, but for the allowlisted ones
        if self.axe_path and rel in self.audited:
            t0 = time.monotonic()
            page.add_script_tag(path=str(self.axe_path))
            found, allowed = axe_problems(page.evaluate(AXE_JS), self.allow, rel)
            problems += found
            facts["axe_allowlisted"] = allowed
            facts["axe_seconds"] = round(time.monotonic() - t0, 1)
            self.axe_seconds += time.monotonic() - t0

        if self.shot_dir:
            page.evaluate("() => window.scrollTo(0, 0)")
            page.screenshot(path=str(self.shot_dir / f"{slug}.png"))
            # ---- dark mode: the first figure of a chapter, as a reader of the dark theme sees it
            first_figure = page.query_selector("figure img")
            if expected:
                page.evaluate(
                    "() => { document.documentElement.dataset.theme = 'dark';"
                    " document.documentElement.dataset.mode = 'dark'; }"
                )
                if first_figure:
                    first_figure.scroll_into_view_if_needed()
                    page.screenshot(path=str(self.shot_dir / f"{slug}--dark.png"))
