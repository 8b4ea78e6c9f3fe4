#!/usr/bin/env bash
# Records tests/fixtures/captures/http-clients.pcap.gz: real HTTP/1.1 between curl and nginx on
# loopback, captured by tcpdump on lo (full snap length), from four client addresses that an
# analyst should tell apart on the TrActor page:
#   127.78.0.2  a crawler: 200 requests on ONE keep-alive connection (one flow), one User-Agent
#   127.78.0.3  a casual browser: 4 connections, one request each (one 404), one User-Agent
#   127.78.0.4  a User-Agent rotator: 30 connections, one request each, 10 User-Agents × 3
#   127.78.0.5  a legacy client: 3 requests on one connection to a redirect (301) and a POST (405)
# spread over ~12 s so the timeline has several buckets. Bodies are tiny so the file stays small.
# Needs root (tcpdump), nginx, curl, gzip. Usage: scripts/make-http-clients-capture.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=tests/fixtures/captures/http-clients.pcap.gz
server=127.78.0.1
port=18080
base="http://$server:$port"
tmp=$(mktemp -d)
chmod 755 "$tmp"
ngx=""
td=""
cleanup() {
  [ -n "$td" ] && kill -INT "$td" 2>/dev/null || true
  [ -n "$ngx" ] && kill "$ngx" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/www/api" "$tmp/logs"
echo '<!doctype html><title>qts</title><p>hello' >"$tmp/www/index.html"
echo 'body{margin:0}' >"$tmp/www/style.css"
echo 'console.log(1)' >"$tmp/www/app.js"
echo '{"items":[1,2,3]}' >"$tmp/www/api/items"
cat >"$tmp/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/logs/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $tmp/body;
  proxy_temp_path $tmp/proxy;
  fastcgi_temp_path $tmp/fastcgi;
  uwsgi_temp_path $tmp/uwsgi;
  scgi_temp_path $tmp/scgi;
  keepalive_requests 1000;
  server_tokens off;
  server {
    listen $server:$port;
    server_name www.qts.test;
    root $tmp/www;
    location = /old { return 301 /index.html; }
  }
}
EOF
nginx -c "$tmp/nginx.conf" -p "$tmp" &
ngx=$!
for _ in $(seq 1 50); do curl -s -o /dev/null "$base/" && break; sleep 0.1; done

tcpdump -i lo -s 0 -n -U --immediate-mode -w "$tmp/cap.pcap" "host $server and tcp port $port" \
  2>"$tmp/tcpdump.log" &
td=$!
for _ in $(seq 1 100); do grep -q "listening on" "$tmp/tcpdump.log" && break; sleep 0.1; done

get() { # get CLIENT_IP USER_AGENT URL… (one curl: one keep-alive connection for all URLs)
  local ip="$1" ua="$2"
  shift 2
  curl -s --interface "$ip" -H "Host: www.qts.test" -A "$ua" "$@" >/dev/null
}

# The casual browser opens the site.
browser="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
get 127.78.0.3 "$browser" "$base/"
sleep 1
get 127.78.0.3 "$browser" "$base/style.css"
get 127.78.0.3 "$browser" "$base/app.js"
sleep 1
# The crawler: 200 requests, one connection.
get 127.78.0.2 "qts-crawler/2.0 (+https://qts.test/bot)" "$base/api/items?page=[1-200]"
sleep 2
# The rotator: a new User-Agent (and a new connection) per request, 10 agents three times.
for round in 1 2 3; do
  for n in $(seq 1 10); do
    get 127.78.0.4 "Mozilla/5.0 (Windows NT 10.0; Win64; x64) rotator/$n.0" "$base/?r=$round"
  done
  sleep 1
done
# The legacy client: a redirect, the page it points to, and a POST nginx refuses (405).
get 127.78.0.5 "LegacyFetcher/0.9" "$base/old" "$base/index.html" --next \
  -s --interface 127.78.0.5 -H "Host: www.qts.test" -A "LegacyFetcher/0.9" -d 'q=1' "$base/index.html"
sleep 2
get 127.78.0.3 "$browser" "$base/missing.png"
sleep 1 # a fixture script, not a test: let the last packets reach the file
kill -INT "$td"
wait "$td" || true
td=""
gzip -9 -n -c "$tmp/cap.pcap" >"$out"
ls -la "$out"
