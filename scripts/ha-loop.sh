#!/bin/sh
# Run the HA-pair end-to-end test (test/e2e/vobs-ha.e2e.ts, two virtual boards under QEMU) N times in a row
# and print, per run, pass/fail and the time it took, then passes, failures and min/median/max time.
#
#   scripts/ha-loop.sh [-k] [N]      N runs (default 20); -k stops at the first failure
#
# It builds once and runs every test from a snapshot of that build, so rebuilding the worktree while the
# loop runs changes nothing under it. Each run's output goes to $LOGDIR/run-NN.log (LOGDIR defaults to a
# fresh folder under /tmp, printed first). A failed run keeps its work folder (both boards' disks, serial
# logs and console transcripts) and says where it is; a passed run's folder is removed.
# Exit status: 0 when every run passed, 1 when one failed, 2 for a usage error.
set -eu

# The whole script is read before it runs (main is called on the last line): editing this file while a loop
# is under way cannot change the loop.
main() {
  stop_on_failure=0
  if [ "${1:-}" = "-k" ]; then
    stop_on_failure=1
    shift
  fi
  runs=${1:-20}
  case $runs in
    '' | *[!0-9]*) echo "usage: $0 [-k] [N]   (N: how many runs, a positive whole number; got '$runs')" >&2; exit 2 ;;
  esac
  [ "$runs" -ge 1 ] || { echo "usage: $0 [-k] [N]   (N must be at least 1)" >&2; exit 2; }

  repo=$(cd "$(dirname "$0")/.." && pwd)
  LOGDIR=${LOGDIR:-$(mktemp -d /tmp/obsbuild-ha-loop-XXXXXX)}
  mkdir -p "$LOGDIR"
  echo "ha-loop: $runs runs of vobs-ha.e2e; logs in $LOGDIR"

  # One build, then a snapshot of what the compiled code reads at run time (dist/ finds board/, scripts/,
  # overlays/ and package.json two folders up from dist/src/<area>/).
  (cd "$repo" && npm run build >"$LOGDIR/build.log" 2>&1) || { echo "ha-loop: npm run build failed, see $LOGDIR/build.log" >&2; exit 1; }
  snap="$LOGDIR/snapshot"
  rm -rf "$snap"
  mkdir -p "$snap"
  for d in dist board scripts overlays package.json; do cp -R "$repo/$d" "$snap/"; done
  ln -s "$repo/node_modules" "$snap/node_modules"

  times="$LOGDIR/times"
  : >"$times"
  passes=0
  failures=0
  i=1
  while [ "$i" -le "$runs" ]; do
    n=$(printf '%02d' "$i")
    log="$LOGDIR/run-$n.log"
    start=$(date +%s)
    set +e
    (cd "$snap" && OBSBUILD_E2E_KEEP=1 node --test dist/test/e2e/vobs-ha.e2e.js) >"$log" 2>&1
    status=$?
    set -e
    seconds=$(($(date +%s) - start))
    echo "$seconds" >>"$times"
    work=$(sed -n 's/.*vobs-ha: kept \(\/[^ ]*\).*/\1/p' "$log" | tail -n 1)
    failover=$(sed -n 's/.*"backup took over after the master froze":\([0-9.]*\).*/\1/p' "$log" | tail -n 1)
    # the backup's reboot: from its power cycle to its login prompt (the console allows 300 s)
    reboot=$(sed -n 's/.*lb2 (backup): .*power-cycled without the stick \([0-9.]*\) s, login prompt \([0-9.]*\) s.*/\1 \2/p' "$log" |
      awk 'NR == 1 { printf "%.1f", $2 - $1 }')
    if [ "$status" -eq 0 ]; then
      passes=$((passes + 1))
      echo "run $n: pass  ${seconds} s  (backup reboot ${reboot:-?} s, failover ${failover:-?} s)  $(date -u +%H:%M:%S)"
      [ -n "$work" ] && rm -rf "$work"
    else
      failures=$((failures + 1))
      echo "run $n: FAIL  ${seconds} s  (exit $status)  $(date -u +%H:%M:%S); log $log; boards kept in ${work:-?}"
      grep -E 'not ok|AssertionError|gave no verdict|obsbuild vm exited' "$log" | head -n 5 | sed 's/^/    /'
      if [ "$stop_on_failure" -eq 1 ]; then
        i=$((i + 1))
        break
      fi
    fi
    i=$((i + 1))
  done

  total=$((passes + failures))
  sorted=$(sort -n "$times")
  min=$(echo "$sorted" | head -n 1)
  max=$(echo "$sorted" | tail -n 1)
  # median: the middle run, or the mean of the two middle ones
  median=$(echo "$sorted" | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
  echo "ha-loop: $total runs, $passes passed, $failures failed; time per run min ${min} s, median ${median} s, max ${max} s"
  [ "$failures" -eq 0 ]
}
main "$@"
exit
