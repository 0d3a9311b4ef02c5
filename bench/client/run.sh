#!/usr/bin/env bash
# run.sh runs the client publish benchmarks five times each and prints a
# table of medians with the ratio paho/feedmq (above 1: feedmq is faster).
#
# Usage, from anywhere:
#
#	bench/client/run.sh [go test flags]
#
# Extra flags go to go test after its own, so -benchtime=2000x or -count=10
# override the defaults. The raw go test output goes to stderr (keep it for
# benchstat with 2>raw.txt) and the table to stdout.
#
# The table comes from bench/cmd/ratios, which pairs Benchmark<Op>/<library>
# rows; the QoS level is therefore moved into the operation's name first
# (BenchmarkPublishSync/qos1/feedmq becomes BenchmarkPublishSyncQoS1/feedmq).
# Without cmd/ratios, awk prints a table of its own.
set -euo pipefail

cd "$(dirname "$0")/.." # the bench module

raw=$(mktemp "${TMPDIR:-/tmp}/feedmq-bench-client.XXXXXX")
trap 'rm -f "$raw" "$raw.named"' EXIT

go test -run='^$' -bench=. -benchmem -count=5 "$@" ./client/ | tee "$raw" >&2

sed -E 's#^Benchmark([A-Za-z]+)/qos([0-9])/#Benchmark\1QoS\2/#' "$raw" >"$raw.named"
mv "$raw.named" "$raw"

if [[ -f cmd/ratios/main.go ]]; then
	go run ./cmd/ratios -in "$raw"
	exit
fi

# Fallback: median ns/op and allocs/op of each benchmark and library.
awk '
function median(list,    n, v, i, j, t) {
	n = split(list, v, " ")
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && v[j-1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
	return n % 2 ? v[(n+1)/2] : (v[n/2] + v[n/2+1]) / 2
}
/^Benchmark[^ ]*\/(feedmq|paho)(-[0-9]+)? / {
	name = $1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name)
	split(name, part, "/"); op = part[1]; lib = part[2]
	if (!(op in seen)) { seen[op] = 1; order[++nops] = op }
	for (i = 3; i < NF; i += 2) {
		if ($(i+1) == "ns/op") ns[op, lib] = ns[op, lib] " " $i
		if ($(i+1) == "allocs/op") allocs[op, lib] = allocs[op, lib] " " $i
	}
}
END {
	fmt = "| %-16s | %12s | %10s | %11s | %13s | %11s |\n"
	printf fmt, "benchmark", "feedmq ns/op", "paho ns/op", "paho/feedmq", "feedmq allocs", "paho allocs"
	print "| ---------------- | -----------: | ---------: | ----------: | ------------: | ----------: |"
	for (k = 1; k <= nops; k++) {
		op = order[k]
		f = median(ns[op, "feedmq"]); p = median(ns[op, "paho"])
		printf fmt, op, sprintf("%.0f", f), sprintf("%.0f", p), (f > 0 ? sprintf("%.2fx", p / f) : "-"),
			median(allocs[op, "feedmq"]), median(allocs[op, "paho"])
	}
}' "$raw"
