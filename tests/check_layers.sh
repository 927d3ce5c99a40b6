#!/usr/bin/env bash
# check_layers.sh — every #include "..." in the library and the program obeys
# the layering in common/README.md: a folder includes only itself and the
# folders below it.  Run by `make test` before the suite; prints each
# violation as file:line and exits 1 if there is one.
set -euo pipefail
cd "$(dirname "$0")/.."
# folder: the folders it may include (besides itself)
declare -A may=(
  [common/base]=""
  [common/nn]="base"
  [common/data]="base"
  [common/train]="base nn data analysis"
  [common/analysis]="base"
  [common/store]="base nn data train analysis"
  [common/campaign]="base nn data train analysis store"
  [farm]="base nn data train analysis store campaign"
  [cli]="base nn data train analysis store campaign farm"
)
bad=0
for dir in "${!may[@]}"; do
  own=${dir#common/}
  allowed=" $own ${may[$dir]} "
  while IFS= read -r hit; do
    file=${hit%%:*}; rest=${hit#*:}; line=${rest%%:*}
    inc=$(sed -n 's/.*#include "\([^"]*\)".*/\1/p' <<<"$rest")
    top=${inc%%/*}
    [[ $inc == */* ]] || { echo "$file:$line: #include \"$inc\" names no folder"; bad=1; continue; }
    # nn/backend/ is part of nn
    [[ $allowed == *" $top "* ]] || { echo "$file:$line: $dir may not include \"$inc\" (it may include: ${may[$dir]:-nothing above it})"; bad=1; }
  done < <(grep -rn '#include "' "$dir" --include='*.c' --include='*.h' || true)
done
exit $bad
