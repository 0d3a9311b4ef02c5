#!/usr/bin/env bash
# run.sh runs the client benchmarks (against the sink broker and through
# mosquitto) five times, each repetition running every benchmark once with
# the libraries back to back, and prints a table of medians with the ratios
# and their spread (above 1: feedmq is faster): paho/feedmq on the MQTT 3.1.1
# rows, pahogolang/feedmq on the 5.0 rows (feedmq-mqtt5 against
# pahogolang-mqtt5). A full run takes 8 to 12 minutes on two shared cores.
#
# Usage, from anywhere:
#
#	bench/client/run.sh [cmd/ratios flags]
#	BENCH_QUICK=1 bench/client/run.sh     # one iteration of each, a few seconds
#
# Flags go to bench/cmd/ratios after the defaults, so -count=3,
# -benchtime=1s or -bench=Sink override them; -quick is BENCH_QUICK=1. The
# raw go test output goes to stderr (keep it for benchstat with 2>raw.txt)
# and the table to stdout.
set -euo pipefail

cd "$(dirname "$0")/.." # the bench module

exec go run ./cmd/ratios -pkg ./client/ -count 5 -benchtime 300ms "$@"
