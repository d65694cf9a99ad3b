#!/usr/bin/env bash
# Set up .venv and run every test: unit tests in tests/ and the chapters in book/ under nbval.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export LINDIFF_DATA_DIR="${LINDIFF_DATA_DIR:-$(cd .. && pwd)/shared/data}"
export LINDIFF_PROGRESS="${LINDIFF_PROGRESS:-0}"
export MPLBACKEND=Agg
exec .venv/bin/python -m pytest --nbval-lax --nbval-cell-timeout=600 tests book "$@"
