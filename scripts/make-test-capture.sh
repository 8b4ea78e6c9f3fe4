#!/usr/bin/env bash
# Records tests/fixtures/captures/loopback-sll2.{pcap,pcapng} and the tshark views of them that
# tests/analyze/fixture_capture_test.ts compares against: real HTTP (curl), DNS-like UDP and two
# FTP sessions (EPSV and PASV, with data connections) on 127.77.0.1, captured by tcpdump on the
# "any" interface (Linux SLL2) with a 128-byte snap length, so the file stays small (~15 kB).
# Needs root, tcpdump, tshark (editcap) and curl. Usage: scripts/make-test-capture.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=tests/fixtures/captures
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tcpdump -i any -s 128 -n -U --immediate-mode -w "$tmp/cap.pcap" host 127.77.0.1 2>"$tmp/tcpdump.log" &
td=$!
for _ in $(seq 1 100); do grep -q "listening on" "$tmp/tcpdump.log" && break; sleep 0.1; done
npx -y deno@2.9.6 run --allow-net=127.77.0.1 --allow-run=curl tests/analyze/_loopback_traffic.ts
sleep 1 # a fixture script, not a test: let the last packets reach the file
kill -INT "$td"
wait "$td" || true
cp "$tmp/cap.pcap" "$out/loopback-sll2.pcap"
editcap -F pcapng "$out/loopback-sll2.pcap" "$out/loopback-sll2.pcapng"
editcap -F nsecpcap "$out/loopback-sll2.pcap" "$out/loopback-sll2.nsec.pcap"
tshark -r "$out/loopback-sll2.pcap" -q -z conv,tcp -z conv,udp >"$out/loopback-sll2.conv.txt" 2>/dev/null
tshark -r "$out/loopback-sll2.pcap" -Y "(tcp or udp) and not icmp" -T fields -E separator=, \
  -e ip.src -e ip.dst -e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport -e frame.len \
  >"$out/loopback-sll2.fields.txt" 2>/dev/null
ls -la "$out"
