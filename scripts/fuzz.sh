#!/usr/bin/env bash
# Runs each libFuzzer target of a KTWIN_FUZZ build for a bounded time, seeded from the shipped files.
# Usage: scripts/fuzz.sh BUILD_DIR SECONDS [TARGET...]. Corpora grow under out/fuzz/<target>/; a crash
# leaves out/fuzz/<target>-crash-* and makes the script exit 1 (copy it to tests/regress/<target>/).
set -uo pipefail
build=$1
seconds=$2
shift 2
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(scenario manifest object_json)
root=$(cd "$(dirname "$0")/.." && pwd)

seeds_for() {
  case $1 in
    scenario) echo "$root/scenarios" ;;
    manifest) echo "$root/tests/manifests" ;;
    object_json) echo "$root/fuzz/seeds/object_json" ;;
  esac
}

status=0
for t in "${targets[@]}"; do
  corpus="$root/out/fuzz/$t"
  mkdir -p "$corpus"
  echo "== fuzz_$t for ${seconds}s (corpus $corpus, seeds $(seeds_for "$t"))"
  # Only the YAML/JSON files seed; regression inputs replay too so fixed crashes stay fixed.
  log="$root/out/fuzz/$t.log"
  "$build/fuzz_$t" "$corpus" "$(seeds_for "$t")" "$root/tests/regress/$t" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="$root/out/fuzz/$t-" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY)|Test unit written|property violated" "$log" || true
  if [ "$rc" -ne 0 ]; then
    echo "fuzz_$t: FAILED (exit $rc); see $root/out/fuzz/$t-*"
    status=1
  fi
done
exit $status
