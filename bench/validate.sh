#!/usr/bin/env bash
# bench/validate.sh BUILD_DIR [validate.py options] — is fptfarm's training
# statistically indistinguishable from PyTorch's?
#
# Trains the same ResNet-18 on the same Fashion-MNIST subset many times with
# BUILD_DIR/fptfarm and with the PyTorch reimplementation in bench/validate.py,
# for every perturbation protocol, and compares the first-passage-time and
# per-epoch test-accuracy distributions (log-rank, Kolmogorov-Smirnov, Holm).
# Prints the tables and a verdict; writes results/validate/{validate.json,
# validate.md,runs.jsonl}.  Finished runs are cached: rerunning resumes.
# Exit status: 0 PASS, 1 FAIL, 2 usage or setup error.
#
# Needs python3-torch (deploy/install-deps.sh --with-torch).  Not run by CI:
# the default sizing takes under an hour on 2 cores.
# Options go to validate.py (`bench/validate.py --help`), e.g.
#   bash bench/validate.sh build --seeds 5 --protocols none,reset
#   bash bench/validate.sh build --compare c "c:--precision bf16"
# Environment: PYTHON (/usr/bin/python3).
set -euo pipefail
build=${1:-build}
[ $# -gt 0 ] && shift
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-/usr/bin/python3}

if ! "$py" -c 'import torch, numpy' 2>/dev/null; then
    echo "validate: PyTorch or numpy not found for $py: run deploy/install-deps.sh --with-torch" >&2
    exit 2
fi
if [ ! -x "$build/fptfarm" ]; then
    echo "validate: $build/fptfarm not found: build it first (make BUILD=$build)" >&2
    exit 2
fi
exec "$py" "$here/validate.py" --fptfarm "$build/fptfarm" "$@"
