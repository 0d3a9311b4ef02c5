#!/usr/bin/env bash
# Runs every command of README.md's ```sh blocks, so that a reader who
# copies one gets what the README promises. A command this script does not
# know fails the run: add it here when you add it to the README.
#
# Two commands need the module published, which it is not from this
# machine; they are run against the checkout instead, as noted below.
#
# The benchmark commands run in quick mode (BENCH_QUICK=1: one iteration of
# each benchmark, one repetition, a few connections), which checks that
# they work in a few seconds; measuring is for a person, with the full
# commands. BENCH_QUICK=0 ./scripts/readme.sh runs them in full.
set -euo pipefail
export BENCH_QUICK=${BENCH_QUICK:-1}
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
bin="$work/bin"
mkdir -p "$bin"
broker_pid=
cleanup() {
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A broker for the command-line examples, which use localhost:1883.
start_broker() {
  [ -n "$broker_pid" ] && return
  printf 'listener 1883 127.0.0.1\nallow_anonymous true\n' >"$work/mosquitto.conf"
  if [ "$(id -u)" -eq 0 ]; then echo "user root" >>"$work/mosquitto.conf"; fi
  mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)
  "$mosquitto" -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
  broker_pid=$!
  for _ in $(seq 100); do
    if (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then return; fi
    sleep 0.1
  done
  echo "mosquitto did not start on 127.0.0.1:1883:"; cat "$work/mosquitto.log"; exit 1
}

sub_pid=
sub5_pid=
run() {
  local cmd=$1
  echo "--- $cmd"
  case "$cmd" in
  "./scripts/test.sh")
    echo "(the test command itself: CI runs it directly)" ;;
  "go run ./examples/quickstart")
    go run ./examples/quickstart ;;
  "go get github.com/feedmq/feedmq")
    # Not published from here: a new module requires the checkout instead.
    mkdir -p "$work/app" && cd "$work/app"
    go mod init example.com/app >/dev/null 2>&1
    go mod edit -require=github.com/feedmq/feedmq@v0.0.0 -replace=github.com/feedmq/feedmq="$root"
    printf 'package main\n\nimport "github.com/feedmq/feedmq/client"\n\nfunc main() { _, _ = client.New(client.Config{Brokers: []string{"localhost"}}) }\n' >main.go
    GOFLAGS=-mod=mod go build -o app . && cd "$root"
    # As the README says, the modules only feedmq's tests, examples and
    # generator use are not compiled into the program.
    if go version -m "$work/app/app" | grep -E 'mochi-mqtt|testify|goleak|jennifer'; then
      echo "a program that imports feedmq/client contains the modules above"; exit 1
    fi ;;
  "go install github.com/feedmq/feedmq/cmd/mqtt-pub@latest github.com/feedmq/feedmq/cmd/mqtt-sub@latest")
    echo "(not published from here: installing from the checkout, as the next command does)"
    GOBIN=$bin go install ./cmd/mqtt-pub ./cmd/mqtt-sub ;;
  "go install ./cmd/...")
    GOBIN=$bin go install ./cmd/... ;;
  "mqtt-sub -h localhost -t 'sensors/#' -v")
    start_broker
    "$bin/mqtt-sub" -h localhost -t 'sensors/#' -v >"$work/sub.out" 2>&1 &
    sub_pid=$!
    # Wait until the subscription is in place: a retained probe comes back.
    for _ in $(seq 100); do
      "$bin/mqtt-pub" -h localhost -t sensors/probe -m ready -q 1 >/dev/null 2>&1 || true
      grep -q "sensors/probe ready" "$work/sub.out" && break
      sleep 0.1
    done ;;
  "mqtt-pub -h localhost -t sensors/kitchen/temperature -m 21.5 -q 1")
    start_broker
    "$bin/mqtt-pub" -h localhost -t sensors/kitchen/temperature -m 21.5 -q 1
    if [ -n "$sub_pid" ]; then
      for _ in $(seq 100); do grep -q "sensors/kitchen/temperature 21.5" "$work/sub.out" && break; sleep 0.1; done
      kill "$sub_pid"; wait "$sub_pid" 2>/dev/null || true
      grep -q "sensors/kitchen/temperature 21.5" "$work/sub.out" || { echo "mqtt-sub did not print the message:"; cat "$work/sub.out"; exit 1; }
    fi ;;
  "mqtt-sub -V 5 -t req -F '%t %p reply to %R (%D) %P' -C 1 &")
    start_broker
    "$bin/mqtt-sub" -V 5 -t req -F '%t %p reply to %R (%D) %P' -C 1 >"$work/sub5.out" 2>&1 &
    sub5_pid=$!
    sleep 0.5 ;; # mqtt-sub has subscribed well before this
  "mqtt-pub -V 5 -t req -m ping -D publish response-topic reply -D publish correlation-data 42")
    start_broker
    "$bin/mqtt-pub" -V 5 -t req -m ping -D publish response-topic reply -D publish correlation-data 42
    wait "$sub5_pid" || { echo "mqtt-sub -V 5 failed:"; cat "$work/sub5.out"; exit 1; }
    [ "$(cat "$work/sub5.out")" = "req ping reply to reply (42) " ] || { echo "mqtt-sub -V 5 printed:"; cat "$work/sub5.out"; exit 1; } ;;
  "go list -deps ./client/... ./store/... ./packets/... | grep -E 'mochi-mqtt|testify|goleak|jennifer'")
    # The README says this prints nothing: grep finding a line is the failure.
    deps=$(go list -deps ./client/... ./store/... ./packets/...)
    if grep -E 'mochi-mqtt|testify|goleak|jennifer' <<<"$deps"; then
      echo "a library package depends on the modules above"; exit 1
    fi ;;
  "bench/client/run.sh")
    bench/client/run.sh ;;
  "cd bench && go run ./cmd/ratios")
    (cd bench && go run ./cmd/ratios) ;;
  "cd bench && go run ./cmd/idle")
    (cd bench && go run ./cmd/idle) ;;
  "cd bench && grep '/feedmq' results/mqtt5-client-2026-11-27.txt | sed 's|/feedmq-mqtt5-|/v5-|' | go run ./cmd/ratios -in -")
    # Reads a saved run: no benchmark runs, so quick mode does not apply.
    (cd bench && grep '/feedmq' results/mqtt5-client-2026-11-27.txt | sed 's|/feedmq-mqtt5-|/v5-|' | go run ./cmd/ratios -in -) ;;
  "go generate ./packets")
    go generate ./packets
    git diff --exit-code --stat -- packets || { echo "go generate changed packets/"; exit 1; } ;;
  "go run ./gen -out packets -check")
    go run ./gen -out packets -check ;;
  *)
    echo "README.md has a command scripts/readme.sh does not run: $cmd"; exit 1 ;;
  esac
}

# Every line of every ```sh block, without trailing comments.
mapfile -t cmds < <(awk '/^```sh$/{on=1;next} /^```$/{on=0} on' README.md | sed -E 's/[[:space:]]+#.*$//; /^[[:space:]]*$/d')
[ ${#cmds[@]} -gt 0 ] || { echo "no commands found in README.md"; exit 1; }
for c in "${cmds[@]}"; do run "$c"; done
echo "all ${#cmds[@]} README commands ran"
