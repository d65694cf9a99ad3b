#!/usr/bin/env bash
# Set up .venv and run every test: unit tests in tests/ and the chapters in book/ under nbval.
# The tests run on every core (pytest-xdist; LINDIFF_TEST_WORKERS=1 for one process), each chapter
# whole on one worker (--dist loadfile: its cells share one kernel).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
exec .venv/bin/python -m pytest -rs -n "${LINDIFF_TEST_WORKERS:-auto}" --dist loadfile \
  --nbval-lax --nbval-sanitize-with scripts/nbval-sanitize.cfg --nbval-cell-timeout=600 tests book "$@"
