#!/usr/bin/env bash
# Fails (listing the files) when a tracked C/C++ source differs from clang-format's output.
set -euo pipefail
cd "$1"
mapfile -t files < <(git ls-files '*.cpp' '*.h' '*.c' 2>/dev/null || find . -name '*.cpp' -o -name '*.h' -o -name '*.c')
[ "${#files[@]}" -gt 0 ] || { echo "no sources found"; exit 1; }
bad=()
for f in "${files[@]}"; do
  if ! "${CLANG_FORMAT:-clang-format-14}" --dry-run -Werror "$f" >/dev/null 2>&1; then
    bad+=("$f")
  fi
done
if [ "${#bad[@]}" -gt 0 ]; then
  echo "not clang-formatted (run clang-format-14 -i on them):"
  printf '  %s\n' "${bad[@]}"
  exit 1
fi
echo "${#files[@]} files clang-format clean"
