#!/bin/sh
# Builds the web frontend into frontend/dist (esbuild, from Debian: no npm): one minified bundle
# and stylesheet named by content hash under assets/, and index.html pointing at them.
# `devctl up` runs it before the web service starts. FRONTEND_DEV=1 skips minifying.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
command -v esbuild >/dev/null || { echo "frontend: esbuild is missing: apt-get install -y esbuild (scripts/setup.sh does)" >&2; exit 1; }
[ -d /usr/share/nodejs/react ] || { echo "frontend: React is missing: apt-get install -y node-react node-react-dom (scripts/setup.sh does)" >&2; exit 1; }
out=dist
staging=$(mktemp -d "$here/.dist-XXXXXX"); chmod 755 "$staging"
trap 'rm -rf "$staging"' EXIT
minify=--minify
[ "${FRONTEND_DEV:-}" = 1 ] && minify=
# React comes from Debian's node-react (NODE_PATH); production mode drops its dev checks.
NODE_PATH=/usr/share/nodejs esbuild src/main.tsx --bundle $minify --sourcemap --jsx=automatic --target=es2020 \
    --define:process.env.NODE_ENV='"production"' --entry-names='app-[hash]' --outdir="$staging/assets" \
    --metafile="$staging/meta.json" --log-level=warning
script=$(cd "$staging/assets" && ls app-*.js)
style=$(cd "$staging/assets" && ls app-*.css 2>/dev/null || true)
sed -e "s|{{SCRIPT}}|/assets/$script|" -e "s|{{STYLE}}|${style:+/assets/$style}|" index.html > "$staging/index.html"
rm "$staging/meta.json"
# Swap in whole: the web service never serves a half-written build.
rm -rf "$out.old"
[ -d "$out" ] && mv "$out" "$out.old"
mv "$staging" "$out"
trap - EXIT
rm -rf "$out.old"
echo "frontend: built $out/assets/$script${style:+ and $style}"
