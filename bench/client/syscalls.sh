#!/usr/bin/env bash
# syscalls.sh counts the system calls each library makes per message in the
# client benchmarks, with perf's syscall tracepoints, counting only the
# benchmark process (not mosquitto or the sink, which run in their own).
# Through mosquitto, where the broker paces both clients, what a client
# costs per message is mostly how many system calls it makes and which:
# this shows that count beside the CPU figure of run.sh.
#
# Usage, from anywhere (needs perf and root, or perf_event_paranoid <= -1):
#
#	bench/client/syscalls.sh [benchmark regexp] [messages]
#
# The default regexp is every MosquittoPublish and MosquittoPublishAsync
# row at 3.1.1; messages (default 20000) is the -benchtime given as Nx.
# Each row runs once, on its own, in a fresh perf session.
set -euo pipefail

cd "$(dirname "$0")/.." # the bench module

regexp=${1:-'^BenchmarkMosquittoPublish(Async)?$/.*/(feedmq|paho)$'}
n=${2:-20000}
events=read,write,writev,epoll_pwait,futex,nanosleep,sched_yield
tp=$(sed 's/[^,]*/syscalls:sys_enter_&/g' <<<"$events")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/client.test" ./client/
bin="$tmp/client.test"

# The rows the regexp selects, one benchmark name per line.
rows=$(cd client && "$bin" -test.run '^$' -test.bench "$regexp" -test.benchtime 1x 2>/dev/null |
	awk '/^Benchmark/ { sub(/-[0-9]+$/, "", $1); print $1 }')

printf '%-50s %9s %7s' benchmark msgs/s cpu-ns
for e in ${events//,/ }; do printf ' %7s' "$e"; done
printf ' %7s\n' total
for row in $rows; do
	# The exact row: its name with every level anchored.
	re=$(sed -E 's/^Benchmark//; s#/#$/^#g; s/^/^Benchmark/; s/$/$/' <<<"$row")
	out=$(cd client && perf record -q -e "$tp" -o "$tmp/perf.data" -- \
		"$bin" -test.run '^$' -test.bench "$re" -test.benchtime "${n}x" 2>/dev/null | grep '^Benchmark' || true)
	msgs=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "msgs/s") print $(i-1) }' <<<"$out")
	cpu=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "cpu-ns/op") print $(i-1) }' <<<"$out")
	printf '%-50s %9s %7s' "$row" "${msgs:--}" "${cpu:--}"
	# perf script prints the command and the event of each sample; the
	# benchmark process's threads carry the binary's name.
	perf script -i "$tmp/perf.data" -F comm,event 2>/dev/null |
		awk -v n="$n" -v events="$events" '
			$1 == "client.test" { e = $2; sub(/^syscalls:sys_enter_/, "", e); sub(/:$/, "", e); c[e]++ }
			END {
				k = split(events, names, ",")
				for (i = 1; i <= k; i++) { printf " %7.2f", c[names[i]] / (n + 1); total += c[names[i]] }
				printf " %7.2f\n", total / (n + 1)
			}'
done
