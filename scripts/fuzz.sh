#!/bin/sh
# Runs every fuzz target in the module briefly (go test -fuzz takes one
# target per invocation; the targets are found by their func FuzzX lines,
# so a new one is run without being listed here). FUZZTIME sets each
# target's budget, by default a count of executions (20000x): a duration
# such as 5s races the fuzzing coordinator's own deadline on a loaded
# machine and fails with a bare "context deadline exceeded" and no failing
# input (golang/go#51484, #75804); a count has no deadline to race. A
# failing input is written to the package's testdata/fuzz/FuzzX/ directory,
# where the plain go test run replays it from then on: commit it with the fix.
#
#   scripts/fuzz.sh                    # every target, 20000 executions each
#   FUZZTIME=1m scripts/fuzz.sh FuzzRedact
set -eu
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-20000x}
only=${1:-}
n=0
for f in $(git ls-files '*_test.go'); do
	for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$f"); do
		[ -z "$only" ] || [ "$only" = "$target" ] || continue
		pkg=./$(dirname "$f")
		echo "fuzz $pkg $target ($FUZZTIME)"
		go test -run '^$' -fuzz "^$target\$" -fuzztime "$FUZZTIME" "$pkg"
		n=$((n + 1))
	done
done
if [ "$n" -eq 0 ]; then
	echo "fuzz.sh: no fuzz target${only:+ named $only}" >&2
	exit 1
fi
echo "fuzz.sh: $n targets passed"
