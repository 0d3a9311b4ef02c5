#!/usr/bin/env bash
# Lists which client statements of a conformance list no test names.
#   scripts/conformance.sh ../shared/conformance-311.md   # MQTT-x.y.z-n
#   scripts/conformance.sh ../shared/conformance-50.md    # MQTT5-x.y.z-n
# A 5.0 list is read up to its second table (the server statements); its
# IDs are searched as MQTT5-…, a 3.1.1 list's as MQTT-….
set -euo pipefail
list=${1:?usage: scripts/conformance.sh CONFORMANCE-LIST.md}
cd "$(dirname "$0")/.."
prefix=MQTT
rows=$(cat "$list")
if grep -q 'MQTT 5.0' <<<"$(head -1 "$list")"; then
  prefix=MQTT5
  rows=$(awk '/^## 1\./,/^## 2\./' "$list")
fi
ids=$(awk -F'|' '/^\|/ {gsub(/ /,"",$3); print $3}' <<<"$rows" | grep -E '^[0-9]' | sed 's|/.*||' | sort -u)
named=$(grep -rhoE "$prefix-[0-9]+\.[0-9]+\.[0-9]+-[0-9]+" --include='*_test.go' . | sed "s/^$prefix-//" | sort -u)
missing=$(comm -23 <(echo "$ids") <(echo "$named"))
echo "$(wc -l <<<"$ids") statements, $(comm -12 <(echo "$ids") <(echo "$named") | wc -l) named in tests as $prefix-…"
[ -z "$missing" ] || echo "not named: $(echo $missing)"
