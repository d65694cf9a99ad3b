#!/usr/bin/env bash
# Install the book's JavaScript from npm (pinned by package-lock.json) and copy what the built site
# serves into _site_assets/ (gitignored), which _config.yml lists in html_static_path:
#   _site_assets/mathjax/  MathJax 3 (tex-chtml.js, its fonts and lazily loaded components)
#   _site_assets/widgets/  require.js, the ipywidgets HTML manager (embed-amd.js) and its fonts,
#                          and scripts/site_assets.widgets.js, which keeps the manager off CDNs.
# Nothing here is committed; a fresh clone gets it all from `npm ci`.
set -euo pipefail
cd "$(dirname "$0")/.."

# npm ci wipes and reinstalls node_modules; skip it when node_modules already matches the lockfile.
stamp=node_modules/.lindiff-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  # --ignore-scripts: no package here needs an install script (none downloads anything we use).
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

out=_site_assets
tmp=$(mktemp -d "${out}.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

mj=node_modules/mathjax/es5
mkdir -p "$tmp/mathjax/output"
cp "$mj/tex-chtml.js" "$tmp/mathjax/"
# Components tex-chtml.js loads on demand: TeX extensions (autoload), the CHTML woff2 fonts,
# and the menu's accessibility tools (speech rule engine).
cp -r "$mj/input" "$mj/ui" "$mj/a11y" "$mj/sre" "$mj/adaptors" "$tmp/mathjax/"
cp -r "$mj/output/chtml" "$mj/output/chtml.js" "$tmp/mathjax/output/"
cp node_modules/mathjax/LICENSE "$tmp/mathjax/"

hm=node_modules/@jupyter-widgets/html-manager/dist
mkdir -p "$tmp/widgets"
cp node_modules/requirejs/require.js "$tmp/widgets/"
cp "$hm/embed-amd.js" "$tmp/widgets/"
cp "$hm"/*.woff2 "$hm"/*.woff "$hm"/*.ttf "$hm"/*.eot "$hm"/*.svg "$tmp/widgets/"
cp scripts/site_assets.widgets.js "$tmp/widgets/lindiff-widgets-local.js"

# Fail loudly if an upgrade moved a file the config points at.
for f in mathjax/tex-chtml.js mathjax/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff \
         widgets/require.js widgets/embed-amd.js widgets/lindiff-widgets-local.js; do
  [ -s "$tmp/$f" ] || { echo "site_assets: missing $f after copy" >&2; exit 1; }
done

rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "site assets: $(du -sh "$out" | cut -f1) in $out/"
