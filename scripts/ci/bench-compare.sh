#!/usr/bin/env bash
# Measure two builds of bench, BASE and HEAD, against the same servers and
# compare them with "bench compare".
#
#   scripts/ci/bench-compare.sh BASE_BENCH HEAD_BENCH OUT_DIR
#
# BASE_BENCH and HEAD_BENCH are bench binaries (built from the base branch and
# from the pull request). The script runs BENCH_ROUNDS rounds; each round runs
# both sides, BENCH_COUNT repetitions each, alternating which side goes first
# (base-head, head-base, ...), so that the machine's drift and warm-up spread
# over both sides instead of biasing one. Then HEAD's bench compares the pooled
# repetitions of each side.
#
# Environment, all optional:
#   BENCH_BACKENDS  --backend URLs, space-separated
#                   (default: the local Redis and MySQL on their usual ports)
#   BENCH_ROUNDS    rounds (default 5)
#   BENCH_COUNT     repetitions per side and round (default 2): with the
#                   defaults each side has 10, enough for a 95% interval (6)
#                   and for significance (4)
#   BENCH_ARGS      more flags for each run (default "-d 5s --warmup 1s")
#   BENCH_FAIL_ON   the gate, --fail-on of bench compare
#                   (default "roundtrip.p99:+10%,roundtrip.throughput:-5%"; empty: no gate)
#   BENCH_ALPHA     significance level (default 0.05)
#
# OUT_DIR receives every run file (base-R-I.json, head-R-I.json), the
# comparison as compare.txt, compare.md (the pull-request comment) and
# compare.json, and both sides in Go benchmark format (base.txt, head.txt) for
# benchstat. The exit status is bench compare's: 0, 1 when the gate fires, 2
# for bad input; a failed run exits 2 as well.
set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 BASE_BENCH HEAD_BENCH OUT_DIR" >&2
  exit 2
fi
base_bin=$1 head_bin=$2 out=$3
backends=${BENCH_BACKENDS:-redis://127.0.0.1:6379/0 db+mysql://root@127.0.0.1:3306/celery_bench}
rounds=${BENCH_ROUNDS:-5}
count=${BENCH_COUNT:-2}
args=${BENCH_ARGS:--d 5s --warmup 1s}
fail_on=${BENCH_FAIL_ON-roundtrip.p99:+10%,roundtrip.throughput:-5%}
alpha=${BENCH_ALPHA:-0.05}

mkdir -p "$out"
backend_flags=()
for b in $backends; do backend_flags+=(--backend "$b"); done

# run SIDE BIN ROUND: BENCH_COUNT repetitions of one side, as one run file
# with --count, or one file per repetition for a bench that predates --count.
run() {
  local side=$1 bin=$2 round=$3
  echo "== round $round: $side" >&2
  # shellcheck disable=SC2086 # BENCH_ARGS is a list of flags
  if "$bin" run --help 2>/dev/null | grep -q -- '--count'; then
    "$bin" "${backend_flags[@]}" $args --count "$count" --progress 0 --format json -o "$out/$side-$round-0.json" || exit 2
  else
    for i in $(seq 0 $((count - 1))); do
      "$bin" "${backend_flags[@]}" $args --progress 0 --format json -o "$out/$side-$round-$i.json" || exit 2
    done
  fi
}

for round in $(seq 1 "$rounds"); do
  if [ $((round % 2)) -eq 1 ]; then
    run base "$base_bin" "$round"; run head "$head_bin" "$round"
  else
    run head "$head_bin" "$round"; run base "$base_bin" "$round"
  fi
done

# The pooled files of each side, comma-separated, as bench compare takes them.
pool() { (cd "$out" && ls "$1"-*.json) | sed "s|^|$out/|" | paste -sd, -; }
base_files=$(pool base)
head_files=$(pool head)

for side in base head; do
  : >"$out/$side.txt"
  for f in "$out/$side"-*.json; do
    "$head_bin" report "$f" --format benchfmt >>"$out/$side.txt"
  done
done

gate=()
if [ -n "$fail_on" ]; then gate=(--fail-on "$fail_on"); fi
status=0
"$head_bin" compare "$base_files" "$head_files" --alpha "$alpha" --format json "${gate[@]}" >"$out/compare.json" || true
"$head_bin" compare "$base_files" "$head_files" --alpha "$alpha" --format text "${gate[@]}" | tee "$out/compare.txt" || true
"$head_bin" compare "$base_files" "$head_files" --alpha "$alpha" --format markdown "${gate[@]}" >"$out/compare.md" || status=$?
exit "$status"
