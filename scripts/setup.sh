#!/usr/bin/env bash
# Create a virtual environment (if missing) and install what the book needs into it.
#   bash scripts/setup.sh          everything: run, test and build the book (requirements.txt)
#   bash scripts/setup.sh --site   only the stored-output website build (requirements-site.txt:
#                                  no torch, nothing executed)
# The environment is .venv, or the folder named by LINDIFF_VENV (scripts/publish.sh uses a fresh one).
# Versions: the ranges in requirements.txt, so pip picks what suits your platform. CI (CI=true) adds
# the exact pins of constraints.txt, among them the CPU torch wheel on CI's disk; LINDIFF_CONSTRAINTS
# names another constraints file, or "none" for no pins even under CI. On Linux without a GPU,
# install PyTorch's CPU build first (README, "Troubleshooting"), else pip brings several GB of CUDA.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${LINDIFF_VENV:-.venv}
reqs=requirements.txt
[ "${1:-}" = "--site" ] && reqs=requirements-site.txt
if [ -n "${LINDIFF_CONSTRAINTS:-}" ]; then
  constraints=$LINDIFF_CONSTRAINTS
elif [ "${CI:-}" = "true" ]; then
  constraints=constraints.txt
else
  constraints=none
fi
pin=()
[ "$constraints" != "none" ] && pin=(-c "$constraints")
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -r "$reqs" ${pin[@]+"${pin[@]}"}
"$venv/bin/python" -m ipykernel install --sys-prefix --name python3 >/dev/null
# JupyterLab settings the book ships (jupyter/labconfig): the widget manager saves the explorers'
# state with the notebook, so a reopened chapter shows its explorer, never "model not found".
mkdir -p "$venv/etc/jupyter/labconfig"
cp jupyter/labconfig/default_setting_overrides.json "$venv/etc/jupyter/labconfig/"
