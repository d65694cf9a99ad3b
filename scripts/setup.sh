#!/usr/bin/env bash
# Create .venv (if missing) and install everything in requirements.txt into it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r requirements.txt
.venv/bin/python -m ipykernel install --sys-prefix --name python3 >/dev/null
