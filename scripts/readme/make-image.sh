#!/usr/bin/env bash
# Makes the README's picture from a real run: bench's default run (every
# backend that answers on this machine's default ports) for 10 s after a
# 2 s warm-up, saved as a run file, then its roundtrip percentile chart as
# a PNG. Usage: scripts/readme/make-image.sh [extra bench flags]
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/usr/local/go/bin:$PATH"
out=scripts/readme
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go run ./cmd/bench -d 10s --warmup 2s --progress 0 --no-save --format json -o "$tmp/run.json" "$@"
rm -f "$out/percentiles.png" "$out/timeline.png"
go run ./cmd/bench report "$tmp/run.json" --format png --chart percentiles --op roundtrip -o "$out/percentiles.png"
go run ./cmd/bench report "$tmp/run.json" --format text
ls -l "$out"/*.png
