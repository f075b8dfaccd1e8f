#!/usr/bin/env bash
# clang-format must leave every tracked C++ file unchanged, and clang-tidy (.clang-tidy, warnings are errors)
# must pass on every translation unit. Usage: scripts/lint.sh [JOBS] [--format-only]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=${1:-2}
format_only=${2:-}

mapfile -t files < <(git ls-files '*.cc' '*.h')
unformatted=()
for f in "${files[@]}"; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || unformatted+=("$f")
done
if [ ${#unformatted[@]} -gt 0 ]; then
  echo "clang-format: ${#unformatted[@]} file(s) need formatting (run: clang-format -i FILE):"
  printf '  %s\n' "${unformatted[@]}"
  exit 1
fi
echo "clang-format: ${#files[@]} files clean"
[ "$format_only" = --format-only ] && exit 0

# A configure-only clang tree gives clang-tidy its compile commands (no precompiled headers to confuse it).
CC=clang CXX=clang++ cmake -S . -B build-tidy -G Ninja -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
  -DCMAKE_DISABLE_PRECOMPILE_HEADERS=ON -DKTWIN_BUILD_BENCH=OFF >/dev/null
run-clang-tidy -p build-tidy -j "$jobs" -quiet "$root/(bench|catalog|cli|cluster_model|core|fuzz|gpu_model|live|reports|serve|sim|tests|twin)/.*\.cc$" \
  > build-tidy/tidy.log 2>&1 || {
  grep -E "(warning|error):" build-tidy/tidy.log | sort -u
  echo "clang-tidy: failed (full log: build-tidy/tidy.log)"
  exit 1
}
echo "clang-tidy: clean"
