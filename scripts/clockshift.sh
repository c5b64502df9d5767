#!/usr/bin/env bash
# clockshift.sh runs "go test" with the wall clock of every Go test binary
# moved ahead (default: 366 days), to check that no test depends on the
# calendar: a fixture dated at its capture, a cutoff relative to now.
#
#   scripts/clockshift.sh ./...                 # one year ahead
#   BENCH_CLOCK_SHIFT=-86400 scripts/clockshift.sh ./results/
#
# Go reads the clock through the vDSO, so libfaketime cannot move it; this
# builds the tests against a copy of the standard library's time.Now that
# adds BENCH_CLOCK_SHIFT seconds to the wall reading (the monotonic
# reading, which durations use, is untouched). Only the Go binaries see the
# shift; the servers and Python programs the tests start keep the real time.
set -euo pipefail
shift_s=${BENCH_CLOCK_SHIFT:-31622400}
goroot=$(go env GOROOT)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
src="$goroot/src/time/time.go"
grep -q '^	sec, nsec, mono := runtimeNow()$' "$src" || { echo "clockshift: $src has no runtimeNow() line to patch" >&2; exit 1; }
sed 's/^	sec, nsec, mono := runtimeNow()$/	sec, nsec, mono := runtimeNow()\n	sec += clockShift/' "$src" >"$tmp/time.go"
cat >"$tmp/clockshift.go" <<'GO'
package time

import "syscall"

// clockShift is added to every wall clock reading (seconds).
var clockShift = func() int64 {
	v, _ := syscall.Getenv("BENCH_CLOCK_SHIFT")
	var n int64
	neg := len(v) > 0 && v[0] == '-'
	if neg {
		v = v[1:]
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n
}()
GO
cat >"$tmp/overlay.json" <<JSON
{"Replace": {"$src": "$tmp/time.go", "$goroot/src/time/zz_clockshift.go": "$tmp/clockshift.go"}}
JSON
# Check that the shift takes: a program built the same way prints the year.
mkdir "$tmp/probe"
printf 'package main\nimport ("fmt"; "time")\nfunc main() { fmt.Println(time.Now().Year()) }\n' >"$tmp/probe/main.go"
want=$(date -u -d "@$(( $(date +%s) + shift_s ))" +%Y)
got=$(cd "$tmp/probe" && GOFLAGS=-mod=mod GO111MODULE=off BENCH_CLOCK_SHIFT=$shift_s go run -overlay "$tmp/overlay.json" main.go)
if [ "$got" != "$want" ]; then
  echo "clockshift: the shifted clock reads $got, want $want" >&2
  exit 1
fi
echo "clockshift: Go test binaries see the wall clock moved by ${shift_s}s (year $got)"
BENCH_CLOCK_SHIFT=$shift_s go test -overlay "$tmp/overlay.json" "$@"
