#!/usr/bin/env bash
# buildcost.sh prints what bench costs to build and to start: a cold build
# (empty build cache, modules already downloaded) in wall and CPU seconds,
# the binary's size, and the wall time of `bench --help` (all medians).
#
#   scripts/buildcost.sh [-n RUNS] [REV]
#
# With REV (a commit, branch or tag) it builds that revision too, in a
# temporary git worktree, alternating the two builds run by run (A B A B ...)
# so that the machine's drift falls on both alike, and prints the ratio of
# the medians (this tree / REV). Quote ratios, not lone figures: a 2-core
# machine's speed drifts by 10-20 % from day to day.
#
# Needs bash 5, git, go and GNU time (/usr/bin/time). Exit status: 0, or 2 for
# bad arguments, or the failing build's status.
set -euo pipefail
export LC_ALL=C

runs=3
while [ $# -gt 0 ]; do
  case "$1" in
    -n) [ $# -ge 2 ] || { echo "buildcost.sh: -n needs a number" >&2; exit 2; }
        runs=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "buildcost.sh: unknown flag $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
case "$runs" in ''|*[!0-9]*|0) echo "buildcost.sh: -n wants a positive whole number, not $runs" >&2; exit 2 ;; esac
rev=${1:-}
[ -x /usr/bin/time ] || { echo "buildcost.sh: needs GNU time at /usr/bin/time" >&2; exit 2; }

root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/buildcost.XXXXXX)
trap 'rm -rf "$tmp"; [ -n "${other:-}" ] && git -C "$root" worktree remove --force "$other" >/dev/null 2>&1 || true' EXIT

trees=("$root")
names=("this tree")
if [ -n "$rev" ]; then
  git -C "$root" rev-parse --verify --quiet "$rev^{commit}" >/dev/null || { echo "buildcost.sh: no such revision: $rev" >&2; exit 2; }
  other="$tmp/rev"
  git -C "$root" worktree add --detach --quiet "$other" "$rev"
  trees+=("$other")
  names+=("$rev")
fi

# The modules are downloaded once, outside the timing: the figure is the
# build, not the network.
for t in "${trees[@]}"; do (cd "$t" && go mod download); done

median() { sort -g | awk '{a[NR]=$1} END {m=int((NR+1)/2); if (NR%2) print a[m]; else printf "%.3f\n", (a[m]+a[m+1])/2}'; }

for i in $(seq 1 "$runs"); do
  for k in "${!trees[@]}"; do
    cache="$tmp/cache"
    rm -rf "$cache"
    (cd "${trees[$k]}" && GOCACHE="$cache" GOFLAGS=-mod=readonly /usr/bin/time -f '%e %U %S' -o "$tmp/t" \
      go build -o "$tmp/bench.$k" ./cmd/bench)
    read -r wall user sys <"$tmp/t"
    echo "$wall" >>"$tmp/wall.$k"
    awk -v u="$user" -v s="$sys" 'BEGIN {print u + s}' >>"$tmp/cpu.$k"
    for j in 1 2 3 4 5; do
      t0=$EPOCHREALTIME
      "$tmp/bench.$k" --help >/dev/null 2>&1
      t1=$EPOCHREALTIME
      awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}' >>"$tmp/help.$k"
    done
    echo "run $i, ${names[$k]}: cold build ${wall} s wall" >&2
  done
done

printf '%-22s %16s %16s %12s %16s\n' "" "cold build wall s" "cold build cpu s" "binary MB" "--help wall ms"
for k in "${!trees[@]}"; do
  w=$(median <"$tmp/wall.$k"); c=$(median <"$tmp/cpu.$k")
  h=$(median <"$tmp/help.$k" | awk '{printf "%.1f", $1 * 1000}')
  mb=$(stat -c %s "$tmp/bench.$k" | awk '{printf "%.1f", $1 / 1e6}')
  printf '%-22s %16s %16s %12s %16s\n' "${names[$k]}" "$w" "$c" "$mb" "$h"
  eval "w$k=$w c$k=$c"
done
if [ -n "$rev" ]; then
  awk -v a="$w0" -v b="$w1" -v c="$c0" -v d="$c1" -v n="$runs" \
    'BEGIN {printf "ratio this tree / rev: wall %.3f, cpu %.3f (medians of %d alternating runs)\n", a / b, c / d, n}'
fi
