#!/usr/bin/env bash
# Create .venv (if missing) and install what the book needs into it.
#   bash scripts/setup.sh          everything: run, test and build the book (requirements.txt)
#   bash scripts/setup.sh --site   only the stored-output website build (requirements-site.txt:
#                                  no torch, nothing executed)
# The exact pins in constraints.txt apply unless LINDIFF_CONSTRAINTS names another file or is
# "none" (README, "Troubleshooting": torch on your platform).
set -euo pipefail
cd "$(dirname "$0")/.."
reqs=requirements.txt
[ "${1:-}" = "--site" ] && reqs=requirements-site.txt
constraints=${LINDIFF_CONSTRAINTS:-constraints.txt}
pin=()
[ "$constraints" != "none" ] && pin=(-c "$constraints")
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r "$reqs" ${pin[@]+"${pin[@]}"}
.venv/bin/python -m ipykernel install --sys-prefix --name python3 >/dev/null
