#!/usr/bin/env bash
# Build the book into _build/html (warnings are errors).
#   bash scripts/build-book.sh           execute every chapter whose data sets and packages are here;
#                                        one that lacks them is shown from its stored outputs, and the
#                                        log and its page say what is missing (_ext/lindiff_site.py)
#   bash scripts/build-book.sh --stored  execute nothing: the website from the stored, CI-verified
#                                        outputs (no data, no torch); what the publishing workflow runs
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  "") bash scripts/setup.sh ;;
  --stored) bash scripts/setup.sh --site; export LINDIFF_BOOK_EXECUTE=off ;;
  *) echo "usage: bash scripts/build-book.sh [--stored]" >&2; exit 2 ;;
esac
source scripts/env.sh
# The inline backend, as in Jupyter: with Agg, plt.show() draws nothing and figures shown by an
# ipywidgets explorer (and by plt.show() in chapters) would be missing from the built site.
export MPLBACKEND=module://matplotlib_inline.backend_inline
log=_build/build.log
mkdir -p _build
# MathJax and the ipywidgets JavaScript, served by the site itself (npm ci -> _site_assets/).
# Without Node.js the pages load them from public CDNs instead (README, "Troubleshooting").
if command -v npm >/dev/null 2>&1; then
  bash scripts/site_assets.sh
else
  echo "npm not found: the site will load MathJax and the widget JavaScript from CDNs" >&2
fi
start=$(date +%s)
.venv/bin/jupyter-book build --all -W -n --keep-going . 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# jupyter-book can exit 0 although a notebook failed to execute: read the log as well
# (Sphinx and myst-nb write "WARNING: ..." / "ERROR: ..."; the kernel's own "[IPKernelApp] WARNING |"
# start-up notice is not a build problem).
if [ "$status" -ne 0 ] || grep -E "(^|: )(WARNING|ERROR|CRITICAL): |Execution Failed" "$log" >/dev/null; then
  echo "book build failed: see $log" >&2
  exit 1
fi
grep "lindiff: chapter .* is shown from its stored outputs" "$log" | sed 's/^/NOTE: /' >&2 || true
echo "book built in $(( $(date +%s) - start )) s: _build/html/index.html"
