"""Print the whole book to one PDF.

The single-page build (jupyter-book build --builder singlehtml, made by scripts/build-book.sh
--stored) opened in headless Chromium on 127.0.0.1 (playwright's Python package driving the system's
Chromium, no browser download), MathJax left to typeset every equation, then Chromium's print to
PDF (A4, page numbers). Nothing is downloaded and no request leaves the machine (any other request
is blocked and fails the run).

    python scripts/print_pdf.py SINGLEHTML_DIR OUT.pdf

Exit status 1 if no equation was typeset, MathJax reported an error, or a request failed or was
blocked; 2 on bad arguments.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "browser"))

from browser_checks import launch_chromium, missing_browser, serve  # noqa: E402

# Paper has no scroll bar: wrap long code lines and table cells instead of cutting them off.
PRINT_CSS = """pre, code, .highlight pre { white-space: pre-wrap !important; overflow-wrap: anywhere; }
td, th { overflow-wrap: anywhere; } table { max-width: 100% !important; }
.cell_output img { max-width: 100% !important; height: auto !important; }"""

# MathJax 3 does not break lines: shrink each displayed equation wider than the printed column
# (A4 less the margins, about 690 CSS pixels) until it fits.
SHRINK_JS = """() => {
  let n = 0;
  for (const el of document.querySelectorAll('mjx-container[display="true"]')) {
    const room = el.parentElement.clientWidth;
    const need = el.firstElementChild ? el.firstElementChild.getBoundingClientRect().width : el.scrollWidth;
    if (room > 0 && need > room) {
      el.style.fontSize = `${Math.floor((100 * room) / need) - 1}%`;
      el.style.overflow = "visible";
      n++;
    }
  }
  return n;
}"""

FOOTER = (
    '<div style="font-size:8px;width:100%;text-align:center;color:#555">'
    'lindiff — <span class="pageNumber"></span> / <span class="totalPages"></span></div>'
)


def print_pdf(site_dir: Path, out: Path) -> int:
    """Print SITE_DIR's single page to OUT; returns the exit status."""
    # Jupyter Book writes the single page as book/intro.html (the root document) but with links
    # relative to the build's root (_static/, _images/): serve it as /book.html.
    page_file = site_dir / "book" / "intro.html"
    if not page_file.is_file():
        print(f"print_pdf: {page_file} not found; build with --builder singlehtml first", file=sys.stderr)
        return 2
    why = missing_browser()
    if why:
        print(f"print_pdf: {why}", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    blocked, failed = [], []
    status = 0
    profile = tempfile.mkdtemp(prefix="lindiff-pdf-")
    with serve(site_dir, aliases={"/book.html": page_file}) as origin, sync_playwright() as p:
        context = launch_chromium(p, profile, {"width": 1100, "height": 1400})
        try:

            def route(r):
                url = r.request.url
                if url.startswith(origin + "/") or url.startswith("data:"):
                    return r.continue_()
                blocked.append(url)
                return r.abort()

            context.route("**/*", route)
            page = context.new_page()
            # The single page asks for the search index, which only the multi-page site has.
            page.on(
                "requestfailed",
                lambda r: r.url.startswith(origin) and not r.url.endswith("/searchindex.js") and failed.append(r.url),
            )
            page.goto(f"{origin}/book.html", wait_until="load", timeout=120_000)
            # MathJax 3: wait until the start-up typesetting of the whole (long) page is done.
            math = page.evaluate("""async () => {
              if (window.MathJax?.startup?.promise) await window.MathJax.startup.promise;
              return { typeset: document.querySelectorAll("mjx-container").length,
                       errors: document.querySelectorAll("mjx-merror").length };
            }""")
            page.emulate_media(media="print")
            page.add_style_tag(content=PRINT_CSS)
            page.set_viewport_size({"width": 690, "height": 1000})
            shrunk = page.evaluate(SHRINK_JS)
            page.pdf(
                path=str(out),
                format="A4",
                print_background=True,
                margin={"top": "16mm", "bottom": "16mm", "left": "14mm", "right": "14mm"},
                display_header_footer=True,
                header_template="<span></span>",
                footer_template=FOOTER,
            )
            size = out.stat().st_size
            print(
                f"print_pdf: {math['typeset']} equations typeset ({shrunk} wide ones shrunk to fit), "
                f"{math['errors']} MathJax errors; {size / 1e6:.1f} MB written to {out}"
            )
            if math["typeset"] == 0 or math["errors"] > 0:
                status = 1
            if blocked:
                print(
                    f"print_pdf: blocked {len(blocked)} request(s) leaving the machine, e.g. {blocked[0]}",
                    file=sys.stderr,
                )
                status = 1
            if failed:
                print(f"print_pdf: {len(failed)} local request(s) failed, e.g. {failed[0]}", file=sys.stderr)
                status = 1
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)
    return status


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python scripts/print_pdf.py SINGLEHTML_DIR OUT.pdf", file=sys.stderr)
        return 2
    return print_pdf(Path(argv[0]).resolve(), Path(argv[1]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
