#!/usr/bin/env bash
# Installs the Debian 12 packages featshift needs (run as root, or with sudo available).
#   libtorch-dev          the compute engine the native addon builds against
#   libopenblas0-pthread  the BLAS libtorch's matrix products (the classifier) go through: it
#                         becomes libblas.so.3, in place of netlib's reference BLAS, 30-100x slower
#   libjpeg62-turbo-dev   the JPEG decoder of image folders (the library Pillow decodes with);
#                         without it featshift decodes JPEG with sharp, about 4x slower
#   python3-torch         the PyTorch reference for parity tests and benchmarks
#   python3-torchvision   the reference data pipeline, for the data benchmark
#   libtcmalloc-minimal4  the allocator PyTorch's CPU launcher preloads: the engine benchmark
#                         measures PyTorch at its best with it too
#   dataset-fashion-mnist the real Fashion-MNIST files, the offline default dataset
#   chromium              headless browser for report figures and browser tests (never downloaded)
#   redis-server          the queue of distributed sweeps (BullMQ); the tests start their own
#   clang-format          the C++ formatter the tests run on native/
#   g++ make python3      node-gyp's toolchain for the addon
set -euo pipefail
packages=(libtorch-dev libopenblas0-pthread libjpeg62-turbo-dev python3-torch python3-torchvision libtcmalloc-minimal4 dataset-fashion-mnist chromium redis-server clang-format g++ make python3)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-debian: all packages present"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup-debian: installing ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
