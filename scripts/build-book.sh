#!/usr/bin/env bash
# Set up .venv and build the executed book into _build/html (warnings are errors).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
# The inline backend, as in Jupyter: with Agg, plt.show() draws nothing and figures shown by an
# ipywidgets explorer (and by plt.show() in chapters) would be missing from the built site.
export MPLBACKEND=module://matplotlib_inline.backend_inline
log=_build/build.log
mkdir -p _build
# MathJax and the ipywidgets JavaScript, served by the site itself (npm ci -> _site_assets/).
bash scripts/site_assets.sh
.venv/bin/jupyter-book build --all -W -n --keep-going . 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# jupyter-book can exit 0 although a notebook failed to execute: read the log as well
# (Sphinx and myst-nb write "WARNING: ..." / "ERROR: ..."; the kernel's own "[IPKernelApp] WARNING |"
# start-up notice is not a build problem).
if [ "$status" -ne 0 ] || grep -E "(^|: )(WARNING|ERROR|CRITICAL): |Execution Failed" "$log" >/dev/null; then
  echo "book build failed: see $log" >&2
  exit 1
fi
echo "book built: _build/html/index.html"
