#!/usr/bin/env bash
# Records tests/fixtures/captures/out-of-domain.pcap.gz for tests/analyzer/classify/unknown_flows_test.ts:
# real traffic outside the ISCX VPN-nonVPN training domain on 127.0.0.1 (nginx access-log
# syslog to :5140 while curl browses it, `logger` syslog to :514, DNS over loopback to :53, a
# memcached session), made by tests/analyzer/classify/_ood_traffic.ts inside a fresh network
# namespace (so nothing else on the host's lo gets in) and captured there by tcpdump on lo with a
# 128-byte snap length so the file stays small.
# Needs root, iproute2, tcpdump, nginx, memcached, curl and bsdutils' logger.
# Usage: scripts/make-ood-capture.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=tests/fixtures/captures
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
deno=$(npx -y deno@2.9.6 eval 'console.log(Deno.execPath())')
ns="qts-ood-$$"
ip netns add "$ns"
trap 'ip netns del "$ns" 2>/dev/null || true; rm -rf "$tmp"' EXIT
ip -n "$ns" link set lo up
touch "$tmp/tcpdump.log"
ip netns exec "$ns" tcpdump -i lo -s 128 -n -U --immediate-mode -w "$tmp/cap.pcap" \
  2>"$tmp/tcpdump.log" &
td=$!
for _ in $(seq 1 100); do grep -q "listening on" "$tmp/tcpdump.log" && break; sleep 0.1; done
ip netns exec "$ns" "$deno" run -A tests/analyzer/classify/_ood_traffic.ts "$tmp"
sleep 1 # a fixture script, not a test: let the last packets reach the file
kill -INT "$td"
wait "$td" || true
gzip -9 -n -c "$tmp/cap.pcap" >"$out/out-of-domain.pcap.gz"
ls -la "$out/out-of-domain.pcap.gz"
