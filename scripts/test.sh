#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need
# (mosquitto, RabbitMQ, aedes, MQTT.js, the Paho C samples), checks
# formatting, vet and generated code, runs every test with the race
# detector, runs each fuzz target briefly, and builds the benchmark module.
# README.md names this script; .ci/run runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s\n' "$*"; }

# What the tests need beyond Go: a real broker, mosquitto's own clients (the
# CLIs are compared with them), and unshare/ip for the private network
# namespace the WebSocket tests run in.
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || need+=(iproute2)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
# The broker matrix (internal/brokers): RabbitMQ with its MQTT plugins, and
# node/npm for aedes and MQTT.js.
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need+=(rabbitmq-server)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
# The cross-client interop checks (internal/brokers TestInterop): the Paho C
# client's sample programs, besides MQTT.js.
{ command -v paho_c_pub && command -v paho_c_sub; } >/dev/null 2>&1 || need+=(paho.mqtt.c-examples)
if [ ${#need[@]} -gt 0 ]; then
  step "installing ${need[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
# aedes and MQTT.js, pinned in internal/brokers/node/package.json, go into a
# cache outside the repository (internal/brokers reads FEEDMQ_NODE_MODULES).
node_dir="${XDG_CACHE_HOME:-$HOME/.cache}/feedmq/node"
export FEEDMQ_NODE_MODULES="$node_dir/node_modules"
if ! cmp -s internal/brokers/node/package.json "$node_dir/package.json" || [ ! -d "$node_dir/node_modules/aedes" ]; then
  step "npm install (aedes, MQTT.js) into $node_dir"
  mkdir -p "$node_dir"
  cp internal/brokers/node/package.json "$node_dir/package.json"
  (cd "$node_dir" && npm install --no-audit --no-fund --loglevel=error)
fi
# A missing broker fails the integration tests instead of skipping them.
export FEEDMQ_REQUIRE_BROKER=1

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt needed: $unformatted"; exit 1; fi

step "go.mod and go.sum are tidy"
# Both modules: the root one and bench/, which is a module of its own. A
# requirement marked // indirect that is imported directly, or a missing sum,
# would otherwise be rewritten by the first go mod tidy a user runs.
for mod in . bench; do
  [ -f "$mod/go.mod" ] || continue
  if ! (cd "$mod" && go mod tidy -diff); then
    echo "go mod tidy would change $mod/go.mod or $mod/go.sum: run it there and commit"; exit 1
  fi
done

step "the library packages compile none of the examples', tests' or generator's dependencies"
# go.mod lists mochi-mqtt (internal/embedbroker, for the quick start),
# testify and goleak (tests) and jennifer (gen). A user's program compiles
# only what client, store and packets import, so none of them may appear
# there; README.md says so and shows this command.
leaked=$(go list -deps ./client/... ./store/... ./packets/... | grep -E 'mochi-mqtt|testify|goleak|jennifer' || true)
if [ -n "$leaked" ]; then echo "a library package depends on: $leaked"; exit 1; fi

step "go vet"
go vet ./...

step "generated code is up to date"
go generate ./...
# .git is a file, not a directory, in a git worktree: ask git instead.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1 && ! git diff --exit-code --stat -- '*.go'; then
  echo "go generate changed files: commit the regenerated code"; exit 1
fi
go run ./gen -out packets -check

step "go test -race"
# The broker matrix runs on its own afterwards: its RabbitMQ nodes would
# otherwise load the machine under the client's timing tests.
go test -race -count=1 $(go list ./... | grep -v '/internal/brokers$')

step "broker matrix: mosquitto, mochi, RabbitMQ (one node and a cluster), aedes; interop with MQTT.js and Paho C"
go test -race -count=1 ./internal/brokers

step "fuzz targets (briefly, on top of the seed corpus)"
for target in $(go test -list '^Fuzz' ./packets | grep '^Fuzz'); do
  # A count, not a duration: with a duration, go1.26's fuzz coordinator
  # can report its own deadline as a failure (golang/go#75804).
  go test -run='^$' -fuzz="^${target}\$" -fuzztime="${FUZZTIME:-20000x}" -fuzzminimizetime=200x ./packets
done

step "everything builds"
go build ./...

step "every command in README.md"
./scripts/readme.sh

if [ -f bench/go.mod ]; then
  step "benchmark module: its tools' tests, and every benchmark once"
  (cd bench && go vet ./... && go mod tidy -diff &&
    go test -race -count=1 ./cmd/... ./internal/... &&
    go test -run='^$' -bench=. -benchtime=1x ./... >/dev/null)
fi
echo
echo "all checks passed"
