#!/usr/bin/env bash
# Set up .venv and run every test: unit tests in tests/ and the chapters in book/ under nbval.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
exec .venv/bin/python -m pytest -rs --nbval-lax --nbval-sanitize-with scripts/nbval-sanitize.cfg \
  --nbval-cell-timeout=600 tests book "$@"
