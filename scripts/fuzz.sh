#!/bin/sh
# Runs every fuzz target briefly (go test -fuzz takes one target per
# invocation). FUZZTIME sets how long each runs (default 5s). A failing
# input is written to the package's testdata/fuzz/FuzzX/ directory, where
# the plain go test run replays it from then on: commit it with the fix.
#
#   scripts/fuzz.sh                 # every target, 5 s each
#   FUZZTIME=1m scripts/fuzz.sh FuzzRedact
set -eu
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-5s}
# package target
TARGETS='
./backends FuzzRedact
./backends FuzzLookup
./backends/redis FuzzParseURL
./backends/mysql FuzzParseURL
./workloads FuzzSizes
./workloads FuzzParseWorkloadFile
./results FuzzReadJSON
./results FuzzParseGates
./results FuzzParseThresholds
./cmd/bench FuzzParseLevels
./cmd/bench FuzzParseSLO
'
only=${1:-}
echo "$TARGETS" | while read -r pkg target; do
	[ -n "$pkg" ] || continue
	[ -z "$only" ] || [ "$only" = "$target" ] || continue
	echo "fuzz $pkg $target ($FUZZTIME)"
	go test -run '^$' -fuzz "^$target\$" -fuzztime "$FUZZTIME" "$pkg"
done
