#!/usr/bin/env bash
# run.sh runs the client benchmarks (against the sink broker and through
# mosquitto) five times, each repetition running every benchmark once with
# the libraries back to back, and prints a table of medians with the ratios
# paho/feedmq and pahogolang/feedmq and their spread (above 1: feedmq is
# faster). A full run takes 6 to 9 minutes on two shared cores.
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
