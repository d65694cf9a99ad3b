#!/usr/bin/env bash
# The unit tests (tests/, not the chapters) under another Python, in a fresh environment without
# torch (its tests skip, saying so): the oldest and newest Python the package supports, as the
# `units` job of .github/workflows/tests.yml runs them and as CI (.ci/run) does.
#   bash scripts/test-units.sh PYTHON [pytest arguments]     e.g. bash scripts/test-units.sh python3.10
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:?usage: bash scripts/test-units.sh PYTHON [pytest arguments]}
shift
start=$(date +%s)
venv=$(mktemp -d "${TMPDIR:-/tmp}/lindiff-units.XXXXXX")/venv
trap 'rm -rf "$(dirname "$venv")"' EXIT
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
# The site's requirements (the package, its chapter helpers, Jupyter Book: tests/test_site_extension.py)
# and the test tools; no torch.
"$venv/bin/python" -m pip install --quiet -r requirements-site.txt -e ".[test]"
"$venv/bin/python" --version
source scripts/env.sh
"$venv/bin/python" -m pytest -q -rs -n "${LINDIFF_TEST_WORKERS:-auto}" tests "$@"
echo "unit tests under $("$venv/bin/python" --version) took $(( $(date +%s) - start )) s"
