#!/usr/bin/env bash
# Build the book into _build/html (warnings are errors).
#   bash scripts/build-book.sh           execute every chapter whose data sets and packages are here;
#                                        one that lacks them is shown from its stored outputs, and the
#                                        log and its page say what is missing (_ext/lindiff_site.py)
#   bash scripts/build-book.sh --stored  execute nothing: the website from the stored, CI-verified
#                                        outputs (no data, no torch), and the whole book as one PDF
#                                        (_build/html/lindiff.pdf, linked from every page). What
#                                        scripts/publish.sh runs in a fresh environment, as the
#                                        publishing workflow does.
# The environment is .venv, or the folder named by LINDIFF_VENV.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${LINDIFF_VENV:-.venv}
stored=0
case "${1:-}" in
  "") bash scripts/setup.sh ;;
  --stored) bash scripts/setup.sh --site; export LINDIFF_BOOK_EXECUTE=off; stored=1 ;;
  *) echo "usage: bash scripts/build-book.sh [--stored]" >&2; exit 2 ;;
esac
source scripts/env.sh
# The inline backend, as in Jupyter: with Agg, plt.show() draws nothing and figures shown by an
# ipywidgets explorer (and by plt.show() in chapters) would be missing from the built site.
export MPLBACKEND=module://matplotlib_inline.backend_inline
log=_build/build.log
mkdir -p _build
: > "$log"
# MathJax and the ipywidgets JavaScript, served by the site itself (npm ci -> _site_assets/).
# Without Node.js the pages load them from public CDNs instead (README, "Troubleshooting").
if command -v npm >/dev/null 2>&1; then
  bash scripts/site_assets.sh
else
  echo "npm not found: the site will load MathJax and the widget JavaScript from CDNs" >&2
fi

# jupyter-book can exit 0 although a notebook failed to execute: read the log as well
# (Sphinx and myst-nb write "WARNING: ..." / "ERROR: ..."; the kernel's own "[IPKernelApp] WARNING |"
# start-up notice is not a build problem).
jupyter_book() {
  local part=_build/build-$1.log
  shift
  "$venv/bin/jupyter-book" build --all -W -n --keep-going "$@" . 2>&1 | tee "$part" | tee -a "$log"
  local status=${PIPESTATUS[0]}
  if [ "$status" -ne 0 ] || grep -E "(^|: )(WARNING|ERROR|CRITICAL): |Execution Failed" "$part" >/dev/null; then
    echo "book build failed: see $part" >&2
    exit 1
  fi
}

start=$(date +%s)
unset LINDIFF_BOOK_PDF
if [ "$stored" = 1 ]; then
  # The PDF: the whole book on one page (singlehtml), printed by headless Chromium after MathJax
  # has typeset it (scripts/print_pdf.py, playwright's Python package driving the system's Chromium).
  # The html build below copies and links it.
  if [ -x "${CHROMIUM:-/usr/bin/chromium}" ] && "$venv/bin/python" -c "import playwright" 2>/dev/null; then
    jupyter_book pdf --builder singlehtml
    mkdir -p _build/pdf
    "$venv/bin/python" scripts/print_pdf.py _build/singlehtml _build/pdf/lindiff.pdf
    export LINDIFF_BOOK_PDF=_build/pdf/lindiff.pdf
    echo "PDF printed after $(( $(date +%s) - start )) s"
  elif [ "${LINDIFF_REQUIRE_ALL:-}" = 1 ]; then
    echo "no PDF: Chromium (apt-get install chromium) and playwright (requirements-site.txt) are needed and LINDIFF_REQUIRE_ALL is set" >&2
    exit 1
  else
    echo "NOTE: no PDF of the book: Chromium (apt-get install chromium) and playwright print it" >&2
  fi
fi
jupyter_book html
grep -h "lindiff: chapter .* is shown from its stored outputs" "$log" | sed 's/^/NOTE: /' >&2 || true
echo "book built in $(( $(date +%s) - start )) s: _build/html/index.html"
