"""The chapters' explorers the way a local reader meets them: in JupyterLab, with Lab's default
settings (widget messages over kernel subshells), driven by headless Chromium (playwright's Python
package, the system's Chromium). tests/browser/test_lab.py runs :func:`check_notebook` on chapters 2,
5 and 6 and tests/lab/explorer_keys.ipynb (dropdowns); tests/browser/test_broken_pages.py feeds
:func:`myst_problems` a page with every defect it must report.

:class:`LabServer` starts JupyterLab (the jupyter beside the running Python, i.e. the project's
.venv) on 127.0.0.1 with a random token, in a temporary folder that holds copies of the notebooks
(the chapters in book/ are never written) and its own Jupyter settings, runtime and workspace
folders. Progress bars are left on, as a reader has them. For each notebook (:func:`check_notebook`):
open it, run all cells (Run > Run All Cells) and require no error output; then, for every explorer
(.lindiff-explorer, from lindiff/book/explore.py), change every control: each slider by a drag, an
arrow key and a value typed into its readout box (if it takes one), then TYPED_IN_A_ROW values typed
in a row round the sliders without waiting; each dropdown by a selection and an arrow key; each
toggle button by a click. After each change it waits for the kernel to be idle and the explorer to
have drawn, and requires that the explorer holds exactly one figure, that the figure changed, and that
no traceback or "model not found" appeared anywhere in the notebook at any moment (a
MutationObserver records every one). No MyST role may show as raw markup in a rendered markdown cell
(jupyterlab-myst renders them), nor a glued value as its name (reported apart, as ``glue``). Every
pre-rendered frame slider must answer an arrow key. Then the notebook is saved, its kernel stopped,
and reopened: each explorer must show as a widget or as its one-line note, never "model not found".
Uncaught JavaScript errors fail the check (but for two foreign bugs, :data:`FOREIGN_ERRORS`), and
requests to other hosts are blocked and reported. Every kernel, the server and the browser are
stopped at the end, also on failure or interrupt.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from browser_checks import launch_chromium

ROOT = Path(__file__).resolve().parents[2]
TYPED_IN_A_ROW = 20
RUN_ALL_TIMEOUT_MS = 300_000
DRAW_TIMEOUT_MS = 60_000


def _first_line(text: str) -> str:
    return (text or "").split("\n")[0]


def foreign_error(message: str, stack: str) -> bool:
    """A JavaScript error that is not ours, and no failure."""
    # jupyterlab-myst renders a markdown cell asynchronously (it calls inputArea.renderInput only once
    # its MyST widget has rendered), and Lab's cell toolbar, checking whether the active cell overlaps
    # it (_markdownOverlapsToolbar), reads inputArea.renderedInput.node meanwhile: "Cannot read
    # properties of undefined (reading 'node')" when a markdown cell becomes the active one while it
    # renders (Notebook 7 has the same toolbar)
    if "_markdownOverlapsToolbar" in (stack or ""):
        return True
    # @jupyter-widgets/jupyterlab-manager's `widgets` getter reads the notebook's model after Lab has
    # disposed it, when the reopen step closes a notebook (or stops its kernel) while the saved widget
    # state is still being restored (seen once, in chapter 5, in our CI-like runs)
    if "reading 'widgets'" in (message or "") and "jupyterlab-manager" in (stack or ""):
        return True
    return False


FOREIGN_ERRORS = foreign_error  # the ignore list of two foreign JavaScript errors, as a function


def jupyter_executable() -> Path:
    """The jupyter of the environment running the tests (the project's .venv), or $LINDIFF_JUPYTER."""
    if os.environ.get("LINDIFF_JUPYTER"):
        return Path(os.environ["LINDIFF_JUPYTER"])
    return Path(sys.executable).parent / "jupyter"


def lab_missing() -> str | None:
    """Why JupyterLab cannot start here, or None."""
    jupyter = jupyter_executable()
    if not jupyter.exists():
        return f"no jupyter at {jupyter}; bash scripts/setup.sh"
    try:
        import jupyterlab  # noqa: F401
        import jupyterlab_myst  # noqa: F401
    except ImportError as err:
        return f"JupyterLab is not installed here ({err}); bash scripts/setup.sh"
    return None


class LabServer:
    """JupyterLab on 127.0.0.1 with a random token, over copies of ``notebooks``; a context manager
    that stops every kernel and the server and removes its temporary folder on exit."""

    def __init__(self, notebooks):
        self.notebooks = [Path(nb).resolve() for nb in notebooks]
        self.tmp = Path(tempfile.mkdtemp(prefix="lindiff-lab-"))
        self.dirs = {
            d: self.tmp / d
            for d in ("notebooks", "config", "data", "runtime", "settings", "workspaces", "ipython", "chromium")
        }
        for d in self.dirs.values():
            d.mkdir()
        for nb in self.notebooks:
            shutil.copyfile(nb, self.dirs["notebooks"] / nb.name)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.token = secrets.token_hex(24)
        self.origin = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def __enter__(self):
        env = dict(os.environ)
        env.update(
            JUPYTER_CONFIG_DIR=str(self.dirs["config"]),
            JUPYTER_DATA_DIR=str(self.dirs["data"]),
            JUPYTER_RUNTIME_DIR=str(self.dirs["runtime"]),
            JUPYTERLAB_SETTINGS_DIR=str(self.dirs["settings"]),
            JUPYTERLAB_WORKSPACES_DIR=str(self.dirs["workspaces"]),
            IPYTHONDIR=str(self.dirs["ipython"]),
            LINDIFF_DATA_DIR=os.environ.get("LINDIFF_DATA_DIR", str(ROOT.parent / "shared" / "data")),
            # the project's Lab settings (jupyter/labconfig: widget state saved with the notebook), as
            # setup.sh installs them
            JUPYTER_CONFIG_PATH=os.pathsep.join(
                filter(None, [str(ROOT / "jupyter"), os.environ.get("JUPYTER_CONFIG_PATH")])
            ),
        )
        env.pop("LINDIFF_PROGRESS", None)  # progress bars on, as a reader has them
        # matplotlib's inline backend, as a reader has it (tests/conftest.py sets Agg for the unit tests)
        env.pop("MPLBACKEND", None)
        args = [
            str(jupyter_executable()),
            "lab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.dirs['notebooks']}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        if hasattr(os, "getuid") and os.getuid() == 0:
            args.append("--allow-root")
        self.log_path = self.tmp / "server.log"
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, env=env, stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        try:
            for _ in range(601):
                if self.proc.poll() is not None:
                    raise RuntimeError(f"JupyterLab exited at start:\n{self.log_path.read_text()[-3000:]}")
                try:
                    self.api("GET", "/api/status")
                    break
                except (OSError, urllib.error.URLError):
                    time.sleep(0.1)
            else:
                raise RuntimeError("JupyterLab did not answer within 60 s")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def api(self, method: str, route: str):
        req = urllib.request.Request(
            f"{self.origin}{route}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(req, timeout=30) as res:
            return None if res.status == 204 else json.loads(res.read() or b"null")

    def stop_kernels(self):
        try:
            for k in self.api("GET", "/api/kernels") or []:
                try:
                    self.api("DELETE", f"/api/kernels/{k['id']}")
                except (OSError, urllib.error.URLError):
                    pass
        except (OSError, urllib.error.URLError):
            pass

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.stop_kernels()
            try:
                self.api("POST", "/api/shutdown")
            except (OSError, urllib.error.URLError):
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------- MyST in Lab's rendered markdown
MYST_JS = r"""() => {
  const cells = [...document.querySelectorAll(".jp-MarkdownCell .myst")];
  const text = cells.map((e) => e.textContent).join("\n");
  const all = [...document.querySelectorAll(".jp-MarkdownCell .myst, .jp-MarkdownCell .jp-RenderedMarkdown")]
    .map((e) => e.textContent).join("\n");
  return {
    markdown: cells.length,
    // a role left as raw markup ({cite:p}`...`)
    raw: all.match(/\{[a-z]+(:[a-z]+)?\}`[^`]*`/g) || [],
    // a Python role's title and target ("weights <lindiff.LinearDiffusion.weights>", "~lindiff.x")
    roles: text.match(/\S+ <lindiff\.[\w.]+>|~lindiff\.[\w.]+/g) || [],
    // a glued value shown as its name and format ("sqrt_beta_1:.4f"; jupyterlab-myst reads no glue)
    glue: [...document.querySelectorAll(".jp-MarkdownCell .myst span:not([class])")].map((e) => e.textContent)
      .filter((t) => /^[A-Za-z_]\w*:[,.]?\d*[a-z%]$/.test(t)),
    // a glue role's raw text, or an {eval} of a glued value with no stored result (jupyterlab-myst
    // shows its expression as code)
    glueRaw: [...(all.match(/\{glue[^}]*\}`?[^`\s]*`?/g) || []),
      ...[...document.querySelectorAll(".jp-MarkdownCell .myst code")].map((e) => e.textContent.trim())
        .filter((t) => /^glued\./.test(t))],
    // an empty dropdown (e.g. a literalinclude in it)
    emptyDropdowns: [...document.querySelectorAll(".jp-MarkdownCell details")]
      .filter((d) => !d.querySelector(".details-body, .myst-dropdown-body")?.textContent.trim())
      .map((d) => d.querySelector("summary")?.textContent.trim() || "(no summary)"),
    // an {eq} whose label Lab cannot find (another chapter's) shows as a bare label with a warning sign
    unresolved: [...document.querySelectorAll(".jp-MarkdownCell .myst [title='Cross Reference Not Found']")]
      .map((e) => e.textContent.trim()),
    citations: document.querySelectorAll(".jp-MarkdownCell .myst [title='Citation Not Found']").length,
    // a link to a chapter without .ipynb
    links: [...document.querySelectorAll(".jp-MarkdownCell .myst a[href]")].map((a) => a.getAttribute("href"))
      .filter((h) => /\/files\/\d\d_[a-z_]+(\?|#|$)/.test(h)),
  };
}"""


def myst_problems(page, n_markdown: int | None = None) -> dict:
    """What jupyterlab-myst shows of the notebook's markdown that a reader should not see.

    Returns {"problems": [...], "glue": [...], "notes": [...], "markdown": n}: ``problems`` fail the
    check; ``glue`` lists glued values shown by name (``{glue`` text, a name:format span, an {eval} of
    ``glued.x`` shown as code), a failure of its own; ``notes`` are counted, not failed (citations:
    jupyterlab-myst reads no references.bib; figure references: the site numbers figures from
    myst-nb's cell metadata, which jupyterlab-myst does not read). ``n_markdown``: the notebook's
    markdown cells, all of which must be rendered by jupyterlab-myst (.myst).
    """
    m = page.evaluate(MYST_JS)
    problems, notes = [], []
    problems += [f"raw MyST role in rendered markdown: {r}" for r in list(dict.fromkeys(m["raw"]))[:5]]
    problems += [f"Python role shown raw in Lab: {r}" for r in list(dict.fromkeys(m["roles"]))[:5]]
    glue = [f"glued value shown as its name in Lab: {g}" for g in list(dict.fromkeys(m["glue"] + m["glueRaw"]))]
    unresolved = list(dict.fromkeys(m["unresolved"]))
    figures = [u for u in unresolved if u.startswith("fig-")]
    if figures:
        notes.append(f"{len(figures)} figure references shown as their names in Lab, e.g. {', '.join(figures[:3])}")
    problems += [f"cross-reference Lab cannot resolve: {u}" for u in unresolved if not u.startswith("fig-")][:5]
    if m["citations"]:
        notes.append(f"{m['citations']} citations shown as their keys in Lab")
    problems += [f"empty dropdown in Lab: {d}" for d in m["emptyDropdowns"][:5]]
    problems += [f"link to a chapter without .ipynb (404 in Lab): {h}" for h in m["links"][:5]]
    if n_markdown is not None and m["markdown"] != n_markdown:
        problems.append(f"{m['markdown']} of {n_markdown} markdown cells rendered by jupyterlab-myst (.myst)")
    return {"problems": problems, "glue": glue, "notes": notes, "markdown": m["markdown"]}


# ---------------------------------------------------------------- the browser's side
IMAGE_HASH_JS = """window.__ldImageHash = async (img) => {
  const digest = await crypto.subtle.digest("SHA-256", await (await fetch(img.src)).arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
};"""

ERROR_OBSERVER_JS = """() => {
  window.__ldErrors = [];
  const bad = /Traceback \\(most recent call last\\)|Error displaying widget|model not found|\\w+Error: /;
  const check = (node) => {
    const text = node.nodeType === Node.TEXT_NODE ? node.textContent : node.innerText || "";
    if (bad.test(text)) window.__ldErrors.push(text.trim().slice(0, 300));
  };
  new MutationObserver((records) => {
    for (const r of records) {
      for (const n of r.addedNodes) if (n.nodeType === Node.TEXT_NODE || n.nodeType === Node.ELEMENT_NODE) check(n);
      if (r.type === "characterData") check(r.target);
    }
  }).observe(document.querySelector(".jp-NotebookPanel"), { childList: true, subtree: true, characterData: true });
}"""

# the stored outputs carry execution counts already: wait for the queued cells' [*], then for none
# (a cell with its input folded, jupyter.source_hidden, shows an empty prompt)
PROMPTS = """(() => [...document.querySelectorAll(".jp-NotebookPanel .jp-CodeCell .jp-InputPrompt")]
  .map((p) => p.textContent).filter((t) => t.trim() !== ""))"""
# A [*] may come and go between two polls (a short notebook): a MutationObserver, set up before the
# click on Run All, notes the first one.
RUN_WATCH_JS = f"""() => {{
  window.__ldRunSeen = false;
  const obs = new MutationObserver(() => {{
    if ({PROMPTS}().some((p) => p.includes("*"))) {{ window.__ldRunSeen = true; obs.disconnect(); }}
  }});
  obs.observe(document.querySelector(".jp-NotebookPanel"), {{ childList: true, subtree: true, characterData: true }});
}}"""
RUN_STARTED_JS = f"() => window.__ldRunSeen || {PROMPTS}().some((p) => p.includes('*'))"
# ... or for an error output that stopped the run (the cells after it stay unnumbered)
RUN_DONE_JS = f"""() => {PROMPTS}().every((p) => /\\[\\d+\\]/.test(p)) || (!{PROMPTS}().some((p) => p.includes("*"))
  && document.querySelector(".jp-NotebookPanel .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"))"""

KERNEL_IDLE_JS = """() => document.querySelector(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator")
  ?.getAttribute("data-status") === "idle\""""

LAB_STATE_JS = """() => {
  const cells = [...document.querySelectorAll(".jp-NotebookPanel .jp-Cell")];
  return { active: cells.findIndex((c) => c.classList.contains("jp-mod-active")),
    collapsed: document.querySelectorAll(".jp-NotebookPanel .jp-collapseHeadingButton[data-heading-collapsed='true']").length };
}"""

ANSWERED_JS = """(el, last) => new Promise((resolve) => {
  const t0 = Date.now();
  const poll = async () => {
    const img = el.querySelector('img:not([src="data:,"])');
    let hash = null;
    if (img) hash = await window.__ldImageHash(img);
    if (el.classList.contains("lindiff-drawing") || hash !== last || Date.now() - t0 > 20000) resolve();
    else setTimeout(poll, 100);
  };
  poll();
})"""

NOT_DRAWING_JS = """(el) => new Promise((resolve, reject) => {
  const t0 = Date.now();
  const poll = () => (!el.classList.contains("lindiff-drawing") ? resolve()
    : Date.now() - t0 > 60000 ? reject(new Error("the explorer kept redrawing for 60 s")) : setTimeout(poll, 50));
  poll();
})"""

FIGURE_JS = """async (el) => {
  const imgs = [...el.querySelectorAll("img")].filter((i) => i.getAttribute("src") !== "data:,"); // not explore.py's hidden image
  const text = el.innerText;
  if (imgs.length !== 1) return { n: imgs.length, text };
  return { n: 1, text, hash: await window.__ldImageHash(imgs[0]) };
}"""

STARTS_JS = """(el) => [...el.querySelectorAll(".widget-slider, .widget-dropdown, .widget-toggle-buttons")]
  .map((w) => `${w.querySelector(".widget-label")?.textContent} = ${w.querySelector(".widget-readout")?.textContent
    ?? w.querySelector("select")?.value ?? w.querySelector("button.mod-active")?.textContent}`).join(", ")"""

EXPLORER_NOTE = r"/\[explorer of /"
REOPENED_JS = f"""(n) => document.querySelectorAll(".jp-NotebookPanel .lindiff-explorer").length
  + [...document.querySelectorAll(".jp-NotebookPanel .jp-OutputArea-output")].filter((o) => {EXPLORER_NOTE}.test(o.textContent)).length >= n
  || /model not found|Error displaying widget/.test(document.querySelector(".jp-NotebookPanel")?.innerText || "")"""
REOPENED_STATE_JS = f"""() => ({{
  widgets: document.querySelectorAll(".jp-NotebookPanel .lindiff-explorer").length,
  notes: [...document.querySelectorAll(".jp-NotebookPanel .jp-OutputArea-output")].filter((o) => {EXPLORER_NOTE}.test(o.textContent)).length,
  errors: (document.querySelector(".jp-NotebookPanel")?.innerText.match(/Error displaying widget[^\\n]*|model not found/g) || []),
}})"""


class LabBrowser:
    """Headless Chromium on a :class:`LabServer`: every request to another host blocked and recorded."""

    def __init__(self, playwright, server: LabServer, shot_dir=None):
        self.server = server
        self.shot_dir = Path(shot_dir) if shot_dir else None
        self.context = launch_chromium(playwright, server.dirs["chromium"], {"width": 1280, "height": 1000})
        # a figure's identity: the SHA-256 of its image bytes (data: or blob: URL alike)
        self.context.add_init_script(script=IMAGE_HASH_JS)
        self.blocked: list[str] = []
        self.context.route("**/*", self._route)

    def _route(self, route):
        url = route.request.url
        if url.startswith(self.server.origin + "/") or url.startswith(("data:", "blob:")):
            return route.continue_()
        self.blocked.append(url)
        return route.abort("blockedbyclient")

    def close(self):
        self.context.close()

    def shot(self, target, name: str):
        if self.shot_dir:
            target.screenshot(path=str(self.shot_dir / name))

    def open_page(self, workspace: str, name: str, problems: list):
        """A new tab on the notebook, in a workspace of its own (so that Lab reopens no earlier
        notebook); uncaught JavaScript errors (but the foreign ones) become problems."""
        page = self.context.new_page()
        page.set_default_timeout(30_000)

        def on_error(err):
            stack = err.stack or ""
            if not foreign_error(err.message, stack):
                where = " ".join(stack.split("\n")[1:3]).strip()[:200]
                problems.append(f"JavaScript error: {_first_line(err.message)} ({where})")

        page.on("pageerror", on_error)
        quote = urllib.parse.quote
        page.goto(
            f"{self.server.origin}/lab/workspaces/{quote(workspace, safe='')}/tree/{quote(name)}"
            f"?token={self.server.token}",
            wait_until="load",
        )
        return page


STABLE_IDLE_JS = f"""(ms) => {{
  if (!({KERNEL_IDLE_JS})()) {{ window.__ldIdleSince = null; return false; }}
  window.__ldIdleSince ??= Date.now();
  return Date.now() - window.__ldIdleSince >= ms;
}}"""


def kernel_idle(page, timeout: int, stable_ms: int = 0):
    """Wait until the notebook's kernel reports idle (for ``stable_ms`` without a break: between the
    cells of a Run All the kernel is idle for a moment)."""
    if stable_ms:
        page.evaluate("() => { window.__ldIdleSince = null; }")
        page.wait_for_function(STABLE_IDLE_JS, arg=stable_ms, timeout=timeout, polling=100)
    else:
        page.wait_for_function(KERNEL_IDLE_JS, timeout=timeout, polling=100)


def lab_state(page) -> dict:
    """Which cell is Lab's active one, and how many heading sections are collapsed."""
    return page.evaluate(LAB_STATE_JS)


def keys_kept(page, before: dict, what: str, problems: list):
    """A key meant for a control must not reach Lab's notebook shortcuts (move the active cell, fold a heading)."""
    now = lab_state(page)
    if now["active"] != before["active"]:
        problems.append(f"{what}: Lab moved its active cell ({before['active']} -> {now['active']})")
    if now["collapsed"] != before["collapsed"]:
        problems.append(f"{what}: Lab folded or unfolded a heading section")


def drawn(page, ex):
    """Wait until the kernel is idle and the explorer has drawn (no redraw due), twice in a row 0.3 s apart."""
    stable = 0
    while stable < 2:
        kernel_idle(page, DRAW_TIMEOUT_MS)
        ex.evaluate(NOT_DRAWING_JS)
        page.wait_for_timeout(300)
        busy = ex.evaluate("(el) => el.classList.contains('lindiff-drawing')")
        idle = page.evaluate(KERNEL_IDLE_JS)
        stable = stable + 1 if not busy and idle else 0


def figure_state(ex, what: str, problems: list):
    """The explorer's figure as a hash of its bytes; records a problem unless it holds exactly one figure and no error."""
    state = ex.evaluate(FIGURE_JS)
    if state["n"] != 1:
        problems.append(f"{what}: {state['n']} figures in the explorer, expected 1")
    if re.search(r"Traceback|Error", state["text"]):
        text = re.sub(r"\s+", " ", state["text"])[:200]
        problems.append(f"{what}: error in the explorer: {text}")
    return state.get("hash")


def _still_box(page, locator) -> dict:
    """The element's bounding box once it has stayed in place for 0.1 s (at most 3 s)."""
    box = locator.bounding_box()
    for _ in range(30):
        page.wait_for_timeout(100)
        now = locator.bounding_box()
        if now == box:
            break
        box = now
    return box


def _aria(handle) -> list[float]:
    return [float(handle.get_attribute(a)) for a in ("aria-valuemin", "aria-valuemax", "aria-valuenow")]


def type_into(page, slider, frac: float) -> bool:
    """Type a value at fraction ``frac`` of the slider's range into its readout box and press Enter.
    Returns whether the slider took it (its handle moved)."""
    handle = slider.locator(".noUi-handle")
    if not slider.locator(".widget-readout:visible").count():
        # a selection slider from lindiff.book.explore: its readout is the text box beside it
        box = slider.locator("xpath=..").locator(".lindiff-readout input")
        if not box.count():
            return False
        lo, hi, now = _aria(handle)
        target = round(lo + frac * (hi - lo))
        if target == now:
            return False
        before = box.input_value()
        box.click()
        page.keyboard.press("Control+A")
        # a number that is no option's label, so that the box must snap it to the nearest option and show that
        b = _js_to_number(before)
        typed = "0.0007" if b == 0 else _js_number(b * (3.3 if target > now else 0.31))
        page.keyboard.type(typed)
        page.keyboard.press("Enter")
        t0 = time.monotonic()
        while time.monotonic() - t0 < 10:
            shown = box.input_value()
            if shown not in (typed, before):
                return True  # snapped, and shows the option used
            page.wait_for_timeout(100)
        return False
    lo, hi, now = _aria(handle)
    readout = slider.locator(".widget-readout")
    readout_text = readout.text_content().strip()
    try:
        shown = float(readout_text)
    except ValueError:
        shown = float("nan")
    # a log slider's handle moves in exponents while its readout shows the value
    log = abs(shown - 10**now) < abs(shown - now) and abs(shown - now) > 1e-9
    x = lo + frac * (hi - lo)
    text = _to_precision(10**x, 3) if log else f"{x:.2f}" if "." in readout_text else str(round(x))
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(text)
    page.keyboard.press("Enter")
    if float(handle.get_attribute("aria-valuenow")) != now:
        return True
    readout.evaluate("(el, t) => { el.textContent = t; }", readout_text)  # put back what it showed
    return False


def _js_to_number(text: str) -> float:
    """Number(text) as JavaScript reads it ("" is 0, anything else unreadable NaN)."""
    if not (text or "").strip():
        return 0.0
    try:
        return float(text)
    except ValueError:
        return float("nan")


def _js_number(x: float) -> str:
    """String(x) as JavaScript writes a number (no trailing .0)."""
    if x != x or x in (float("inf"), float("-inf")):
        return "NaN" if x != x else ("Infinity" if x > 0 else "-Infinity")
    return str(int(x)) if x == int(x) and abs(x) < 1e21 else repr(x)


def _to_precision(x: float, p: int) -> str:
    """JavaScript's x.toPrecision(p) for the magnitudes a log slider shows."""
    e = int(f"{x:.{p - 1}e}".split("e")[1])
    if e < -6 or e >= p:
        mant, exp = f"{x:.{p - 1}e}".split("e")
        return f"{mant}e{'+' if int(exp) >= 0 else '-'}{abs(int(exp))}"
    return f"{x:.{max(p - 1 - e, 0)}f}"


def check_notebook(lab: LabBrowser, name: str) -> dict:
    """Run and exercise one notebook (already copied into the server's folder) in Lab.

    Returns {"problems": [...], "glue": [...], "facts": {...}} (facts["notes"]: counted, not failed).
    """
    server = lab.server
    start = time.monotonic()
    problems: list[str] = []
    glue: list[str] = []
    facts: dict = {"notes": []}
    slug = re.sub(r"\.ipynb$", "", name)
    page = lab.open_page(slug, name, problems)
    try:
        page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=90_000)
        # Lab may ask which kernel to start; a reader accepts the one the notebook names
        t0 = time.monotonic()
        while True:
            sessions = server.api("GET", "/api/sessions")
            if any(s["path"] == name and (s.get("kernel") or {}).get("execution_state") == "idle" for s in sessions):
                break
            accept = page.locator(".jp-Dialog .jp-mod-accept")
            if accept.is_visible():
                accept.click()
            if time.monotonic() - t0 > 90:
                raise RuntimeError("no idle kernel 90 s after opening the notebook")
            page.wait_for_timeout(200)
        kernel_idle(page, 90_000)
        # record every traceback or widget error that ever appears, even if a later redraw removes it
        page.evaluate(ERROR_OBSERVER_JS)

        # ---- run all
        run_start = time.monotonic()
        page.evaluate(RUN_WATCH_JS)
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        page.wait_for_function(RUN_STARTED_JS, timeout=30_000, polling=50)
        page.wait_for_function(RUN_DONE_JS, timeout=RUN_ALL_TIMEOUT_MS, polling=500)
        # the prompts can read as done, and the kernel as idle, for a moment while cells are still
        # queued (seen once: a Run All of chapter 2 "done" in 8 s, not 15): the run is over when the
        # kernel has stayed idle for a second
        kernel_idle(page, RUN_ALL_TIMEOUT_MS, stable_ms=1000)
        facts["run_all"] = round(time.monotonic() - run_start, 1)
        cell_errors = page.evaluate("""() => [...document.querySelectorAll(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")]
          .map((el) => el.innerText).filter((t) => /Error|Traceback/.test(t)).map((t) => t.trim().split("\\n").slice(-1)[0])""")
        problems += [f"error output after Run All: {e[:200]}" for e in cell_errors]

        # ---- MyST: after Run All, jupyterlab-myst has rendered every markdown cell, and nothing it
        # shows is raw markup, a Python role's target, an empty dropdown or a link Lab cannot follow
        cells = json.loads((server.dirs["notebooks"] / name).read_text(encoding="utf-8"))["cells"]
        myst = myst_problems(page, sum(c["cell_type"] == "markdown" for c in cells))
        problems += myst["problems"]
        glue += myst["glue"]
        facts["notes"] += myst["notes"]
        facts["markdown"] = myst["markdown"]

        # ---- explorers
        expected = sum(
            c["cell_type"] == "code" and re.search(r"(^|[^.\w])interactive\(", "".join(c["source"]), re.M) is not None
            for c in cells
        )
        explorers = page.locator(".jp-NotebookPanel .lindiff-explorer")
        facts["explorers"] = explorers.count()
        if facts["explorers"] != expected:
            problems.append(f"{facts['explorers']} explorers shown, {expected} cells call interactive(")
        facts["changes"] = facts["typed"] = 0
        facts["starts"] = []
        redraws: list[float] = []
        for i in range(facts["explorers"]):
            _exercise(
                page,
                lab,
                explorers.nth(i),
                f"explorer {i + 1}",
                f"{slug}--explorer-{i + 1}.png",
                problems,
                facts,
                redraws,
            )
        if redraws:
            facts["redraw"] = f"{min(redraws):.1f}-{max(redraws):.1f} s"

        # ---- pre-rendered frame sliders answer the keyboard too
        frames = page.locator(".jp-NotebookPanel .lindiff-frame-slider:visible")
        facts["sliders"] = frames.count()
        for i in range(facts["sliders"]):
            rng = frames.nth(i).locator("input.ld-range")
            rng.scroll_into_view_if_needed()
            img = frames.nth(i).locator("img.ld-frame")
            before = img.get_attribute("src")
            rng.focus()
            page.keyboard.press("ArrowRight" if rng.input_value() == "0" else "ArrowLeft")
            if img.get_attribute("src") == before:
                problems.append(f"frame slider {i + 1}: an arrow key did not change the frame")

        seen = page.evaluate("() => window.__ldErrors")
        facts["errors_seen"] = len(seen)
        problems += ["error shown: " + re.sub(r"\s+", " ", e)[:240] for e in list(dict.fromkeys(seen))[:5]]

        # ---- reopened: save as a reader's Ctrl+S does, stop the kernel, close the tab, open the
        # notebook again; each explorer must show as a widget (its state saved with the notebook) or
        # as its one-line note, never as "model not found"
        reopen_start = time.monotonic()
        page.locator(".jp-NotebookPanel .jp-Cell").first.click(position={"x": 2, "y": 2})
        page.keyboard.press("Escape")
        page.keyboard.press("Control+s")
        page.wait_for_function(
            "() => !document.querySelector('.jp-NotebookPanel.jp-mod-dirty, .lm-TabBar-tab.jp-mod-dirty')",
            timeout=30_000,
        )
        saved = json.loads((server.dirs["notebooks"] / name).read_text(encoding="utf-8"))
        state_saved = bool(
            saved.get("metadata", {}).get("widgets", {}).get("application/vnd.jupyter.widget-state+json")
        )
        server.stop_kernels()
        page.close()
        page = lab.open_page(f"{slug}-reopened", name, problems)
        page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=90_000)
        try:
            page.wait_for_function(REOPENED_JS, arg=expected, timeout=30_000, polling=200)
        except Exception:
            pass
        page.wait_for_timeout(1000)
        reopened = page.evaluate(REOPENED_STATE_JS)
        facts["reopened"] = (
            f"{reopened['widgets']} explorers, {reopened['notes']} notes, state "
            f"{'saved' if state_saved else 'not saved'}, {time.monotonic() - reopen_start:.1f} s"
        )
        problems += [f"reopened after a save: {e}" for e in dict.fromkeys(reopened["errors"])]
        if reopened["widgets"] + reopened["notes"] < expected:
            problems.append(
                f"reopened after a save: {reopened['widgets'] + reopened['notes']} of {expected} "
                "explorers shown as a widget or a note"
            )
        lab.shot(page, f"{slug}--reopened.png")
    except Exception as err:
        problems.append(f"check aborted: {_first_line(str(err))}")
        try:
            lab.shot(page, f"{slug}--aborted.png")
        except Exception:
            pass
    try:
        page.close()
    except Exception:
        pass
    server.stop_kernels()
    facts["seconds"] = round(time.monotonic() - start, 1)
    return {"problems": list(dict.fromkeys(problems)), "glue": glue, "facts": facts}


def _exercise(page, lab, ex, label, shot, problems, facts, redraws):
    """Change every control of one explorer; after each change its figure must be one and new."""
    ex.scroll_into_view_if_needed()
    last = figure_state(ex, label, problems)
    sliders = ex.locator(".widget-slider")
    dropdowns = ex.locator(".widget-dropdown select")
    toggles = ex.locator(".widget-toggle-buttons")
    typable = []
    facts["starts"].append(ex.evaluate(STARTS_JS))

    def after(what):
        """After a change: wait, then the explorer must hold one figure that differs from the last one."""
        nonlocal last
        t0 = time.monotonic()
        ex.evaluate(ANSWERED_JS, last)
        drawn(page, ex)
        redraws.append(time.monotonic() - t0)
        now = figure_state(ex, f"{label}, {what}", problems)
        if now and last and now == last:
            problems.append(f"{label}, {what}: the figure did not change")
        last = now or last
        facts["changes"] += 1

    for s in range(sliders.count()):
        slider = sliders.nth(s)
        name = slider.locator(".widget-label").text_content()
        handle = slider.locator(".noUi-handle")
        # drag: towards the far half of the track, in small steps like a hand. Where the handle is
        # is read once the page has stopped moving (Lab sizes the cells that scroll into view); a
        # drag that missed the handle on a page that moved meanwhile is made again, once
        value = handle.get_attribute("aria-valuenow")
        for _ in range(2):
            slider.evaluate("(el) => el.scrollIntoView({ block: 'center' })")  # clear of Lab's toolbars
            box, track = _still_box(page, handle), slider.locator(".noUi-target").bounding_box()
            x0, y0 = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            x1 = x0 + track["width"] / 3 if x0 < track["x"] + track["width"] / 2 else x0 - track["width"] / 3
            page.mouse.move(x0, y0)
            page.mouse.down()
            page.mouse.move(x1, y0, steps=12)
            page.mouse.up()
            if handle.get_attribute("aria-valuenow") != value or handle.bounding_box() == box:
                break
            facts["notes"].append(f"the drag of {name} missed its handle (the page moved): made again")
        after(f"drag of {name} ({value} -> {handle.get_attribute('aria-valuenow')})")
        # arrow key: back towards the middle, one step
        handle.focus()
        lab0 = lab_state(page)
        page.keyboard.press("ArrowLeft" if x1 > x0 else "ArrowRight")
        after(f"arrow key on {name}")
        keys_kept(page, lab0, f"arrow key on {name}", problems)
        # typing into the readout box, far from the current value (a selection slider's readout is
        # editable but ignores what is typed: ipywidgets 8)
        at = handle.evaluate("(h) => (h.ariaValueNow - h.ariaValueMin) / (h.ariaValueMax - h.ariaValueMin)")
        if type_into(page, slider, 0.8 if at < 0.5 else 0.2):
            typable.append(slider)
            facts["typed"] += 1
            after(f"value typed into {name}")
        else:
            facts["notes"].append(f"the readout of {name} takes no typed value")
    for s in range(dropdowns.count()):
        select = dropdowns.nth(s)
        options = select.evaluate("(el) => [...el.options].map((o) => o.value)")
        current = select.input_value()
        select.select_option(next(o for o in options if o != current))
        after(f"selection in dropdown {s + 1}")
        select.focus()
        key = "ArrowUp" if select.evaluate("(el) => el.selectedIndex") > 0 else "ArrowDown"
        lab0 = lab_state(page)
        page.keyboard.press(key)
        after(f"arrow key in dropdown {s + 1}")
        keys_kept(page, lab0, f"{key} in dropdown {s + 1}", problems)
    for s in range(toggles.count()):
        buttons = toggles.nth(s).locator("button:not(.mod-active)")
        for _ in range(buttons.count()):
            button = buttons.first
            text = button.text_content()
            button.click()
            after(f"click on {text}")
    # many typed changes in a row, round the sliders that take typed values, without waiting in between
    if typable:
        for k in range(TYPED_IN_A_ROW):
            type_into(page, typable[k % len(typable)], ((k * 0.618034) % 0.9) + 0.05)
            facts["typed"] += 1
        after(f"{TYPED_IN_A_ROW} values typed in a row")
    lab.shot(ex, shot)
