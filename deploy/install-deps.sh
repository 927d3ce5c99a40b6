#!/usr/bin/env bash
# Install the Debian 12 packages fptfarm needs to build, test and run.
# A no-op (no apt-get call at all) when every package is already installed.
# Usage: deploy/install-deps.sh [--with-torch] [--with-fuzz]
#   --with-torch  also install python3-torch (only needed to regenerate the
#                 PyTorch reference dump in tests/ref/ and for `make bench`).
#   --with-fuzz   also install clang-14 and its libFuzzer/sanitizer runtimes
#                 (`make fuzz`, `make fuzz-smoke`; CI runs the latter).
set -euo pipefail

pkgs=(build-essential pkg-config make
      libopenblas-openmp-dev libsqlite3-dev sqlite3 zlib1g-dev libdnnl-dev
      openmpi-bin libopenmpi-dev
      libcriterion-dev libinih-dev
      gnuplot-nox xz-utils
      dataset-fashion-mnist)
for opt in "$@"; do
    case "$opt" in
        --with-torch) pkgs+=(python3-torch python3-numpy) ;;
        --with-fuzz) pkgs+=(clang-14 libclang-rt-14-dev llvm-14) ;;
        *) echo "install-deps: unknown option '$opt' (expected --with-torch, --with-fuzz)" >&2
           exit 2 ;;
    esac
done

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#pkgs[@]} packages present"
    exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
