#!/usr/bin/env bash
# The publishing build, exactly as .github/workflows/book.yml runs it and as CI (.ci/run) tests it:
# a fresh virtual environment made from requirements-site.txt alone (no torch, no data set), an
# empty _build/, the website and the PDF from the chapters' stored outputs (scripts/build-book.sh
# --stored), then every page checked in headless Chromium (pytest tests/browser/test_site.py, with
# the test tools added to that environment after the build). Needs python3, Node.js/npm (the site's
# MathJax, widget and axe-core files) and Chromium (Debian's chromium, or CHROMIUM=/path/to/chrome).
# What it publishes is _build/html.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
venv=$(mktemp -d "${TMPDIR:-/tmp}/lindiff-publish.XXXXXX")/venv
empty_data=$(dirname "$venv")/no-data
mkdir -p "$empty_data"
trap 'rm -rf "$(dirname "$venv")"' EXIT
rm -rf _build
# No data set and no download: the stored build reads none, and this proves it.
LINDIFF_VENV=$venv LINDIFF_DATA_DIR=$empty_data LINDIFF_CACHE_DIR=$empty_data/cache LINDIFF_OFFLINE=1 \
  bash scripts/build-book.sh --stored
if "$venv/bin/python" -c "import torch" 2>/dev/null; then
  echo "publish: torch is importable in the site's environment; requirements-site.txt must not bring it" >&2
  exit 1
fi
echo "publish: site and PDF built after $(( $(date +%s) - start )) s"
# The test tools (pyproject.toml's test extra: pytest, playwright; no torch), pinned as setup.sh pins.
pin=()
if [ -n "${LINDIFF_CONSTRAINTS:-}" ]; then
  [ "$LINDIFF_CONSTRAINTS" != none ] && pin=(-c "$LINDIFF_CONSTRAINTS")
elif [ "${CI:-}" = "true" ]; then
  pin=(-c constraints.txt)
fi
"$venv/bin/python" -m pip install --quiet -e ".[test]" ${pin[@]+"${pin[@]}"}
# Every page, shared out between two processes (-k PAGE picks one; the checks' own tests,
# tests/browser/test_broken_pages.py, run with the unit tests).
"$venv/bin/python" -m pytest -q -rfEs -p no:nbval -n 2 tests/browser/test_site.py --site _build/html
echo "publish: site checked after $(( $(date +%s) - start )) s: _build/html is ready to deploy"
