#!/bin/sh
# Runs the fuzz targets (make fuzz) or replays the committed inputs (make fuzz-regress).
#   fuzz/run.sh fuzz    BUILD_DIR SECONDS target...
#   fuzz/run.sh regress BUILD_DIR target...
# fuzz: each target runs SECONDS on a work corpus seeded from fuzz/corpus/<t>;
# a crash input lands in BUILD_DIR/crashes/. Prints one summary line per target
# and exits non-zero when any target crashed.
# regress: runs every file of fuzz/corpus/<t> and fuzz/regress/<t> once.
set -u
mode=$1 build=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
status=0
if [ "$mode" = fuzz ]; then
  seconds=$1
  shift
  summary=$build/summary.txt
  : > "$summary"
  for t in "$@"; do
    work=$build/corpus/$t
    mkdir -p "$work" "$build/crashes" "$build/logs"
    log=$build/logs/$t.log
    echo "fuzz: $t for ${seconds}s"
    "$build/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$build/crashes/$t-" "$work" "$here/corpus/$t" > "$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    secs=$(sed -n 's/^stat::.*//; s/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\2/p' "$log" | tail -1)
    crashes=$(ls "$build/crashes" 2>/dev/null | grep -c "^$t-" || true)
    corpus=$(ls "$work" | wc -l)
    if [ $rc -ne 0 ]; then
      status=1
      echo "  CRASH (exit $rc), see $log:"
      grep -m3 -E "ERROR|fuzz:|INVARIANT|runtime error" "$log" | cut -c1-300 | sed 's/^/    /'
    fi
    printf '%-18s inputs %10s  seconds %4s  corpus %6s  crashes %s\n' "$t" "${runs:-?}" "${secs:-$seconds}" \
      "$corpus" "$crashes" >> "$summary"
  done
  echo
  echo "fuzz summary (crash inputs in $build/crashes/):"
  cat "$summary"
else
  for t in "$@"; do
    files=$(ls "$here/corpus/$t"/* "$here/regress/$t"/* 2>/dev/null)
    [ -n "$files" ] || continue
    n=$(echo "$files" | wc -l)
    if "$build/$t" -runs=1 $files > "$build/$t.regress.log" 2>&1; then
      echo "fuzz-regress: $t: $n inputs ok"
    else
      status=1
      echo "fuzz-regress: $t: FAILED, see $build/$t.regress.log"
      grep -m3 -E "ERROR|fuzz:|INVARIANT|runtime error" "$build/$t.regress.log" | sed 's/^/    /'
    fi
  done
fi
exit $status
