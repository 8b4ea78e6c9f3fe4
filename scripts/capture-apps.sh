#!/usr/bin/env bash
# Records one training capture per application, the TrActor way ("Подготовка данных для
# обучения"): each application runs in its own pair of network namespaces (client and server,
# joined by a veth pair, addresses 10.200.N.0/24, no route out), tcpdump records the client's
# interface, and `qts analyze --label APP` turns the capture into labelled training rows.
# It then checks what the signatures say about each flow against the application's label.
#
# Usage: scripts/capture-apps.sh [--out DIR] [--keep] [APP…]
#   APPs: http tls vk facebook dns ftp ssh telnet socks5 bittorrent openvpn wireguard (default all)
#   --out DIR   where APP.pcap.gz, APP.csv and APP.json go (default tests/fixtures/captures/apps)
#   --keep      keep the work directory (configs, logs) under /tmp
# Needs root and Debian packages: tcpdump iproute2 nginx curl openssl vsftpd tnftp openssh-server
#   openssh-client inetutils-inetd inetutils-telnetd telnet dante-server aria2 dnsmasq dnsutils
#   openvpn wireguard-tools wireguard-go iputils-ping python3.
# QTS overrides the qts command (default: deno from npm running main.ts).
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
out="$here/tests/fixtures/captures/apps"
keep=0
apps=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) apps+=("$1"); shift ;;
  esac
done
[ ${#apps[@]} -gt 0 ] || apps=(http tls vk facebook dns ftp ssh telnet socks5 bittorrent openvpn wireguard)
[ "$(id -u)" = 0 ] || { echo "capture-apps.sh: needs root (network namespaces)" >&2; exit 2; }
QTS="${QTS:-npx -y deno@2.9.6 run --allow-read --allow-write --allow-env --allow-sys $here/main.ts}"
mkdir -p "$out"
work="$(mktemp -d /tmp/qts-capture-apps.XXXXXX)"
chmod 755 "$work"
pids=()
namespaces=()

cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
  for ns in "${namespaces[@]}"; do
    # Anything still running inside (daemons that forked) goes with its namespace.
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "/etc/netns/$ns"
  done
  namespaces=()
}
finish() {
  cleanup
  if [ "$keep" = 1 ]; then echo "work directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap finish EXIT

# net N: namespaces qa-N-c (10.200.N.2) and qa-N-s (10.200.N.1) joined by a veth pair.
net() {
  local n="$1" c="qa-$1-c" s="qa-$1-s"
  ip netns add "$c"
  namespaces+=("$c")
  ip netns add "$s"
  namespaces+=("$s")
  ip link add "qa${n}c" netns "$c" type veth peer name "qa${n}s" netns "$s"
  for ns in "$c" "$s"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip netns exec "$ns" ip link set lo up
  done
  ip -n "$c" addr add "10.200.$n.2/24" dev "qa${n}c"
  ip -n "$s" addr add "10.200.$n.1/24" dev "qa${n}s"
  ip -n "$c" link set "qa${n}c" up
  ip -n "$s" link set "qa${n}s" up
}

# bg NS CMD…: runs CMD in namespace NS in the background, remembering its pid.
bg() {
  local ns="$1"; shift
  ip netns exec "$ns" "$@" >>"$work/daemons.log" 2>&1 &
  pids+=($!)
}

# wait_port NS PROTO PORT: until something listens there (at most 10 s).
wait_port() {
  local flag=-ltn
  [ "$2" = udp ] && flag=-lun
  for _ in $(seq 1 100); do
    ip netns exec "$1" ss "$flag" | grep -q ":$3 " && return 0
    sleep 0.1
  done
  echo "capture-apps.sh: nothing listens on $2 port $3 in $1" >&2
  return 1
}

# web NS CURL-ARGS…: curl in namespace NS, every response body discarded.
web() {
  local ns="$1"; shift
  ip netns exec "$ns" curl "$@" >/dev/null
}

capture_start() {
  local n="$1" app="$2"
  ip netns exec "qa-$n-c" tcpdump -q -n -U -s 0 -i "qa${n}c" -w "$work/$app.pcap" ip \
    2>>"$work/tcpdump.log" &
  tcpdump_pid=$!
  for _ in $(seq 1 50); do
    grep -q "listening on qa${n}c" "$work/tcpdump.log" 2>/dev/null && break
    sleep 0.1
  done
}

capture_stop() {
  local app="$1" label="$2"
  sleep 1 # let the last FIN/ACKs reach the capture
  kill "$tcpdump_pid"
  wait "$tcpdump_pid" || true
  cleanup
  gzip -9 -n -c "$work/$app.pcap" >"$out/$app.pcap.gz"
  $QTS analyze --quiet --label "$label" --csv "$out/$app.csv" --json "$work/$app.json" \
    "$out/$app.pcap.gz"
  /usr/bin/python3 - "$work/$app.json" "$label" "$app" <<'EOF'
import json, sys
flows = json.load(open(sys.argv[1]))
label = sys.argv[2]
right = sum(1 for f in flows if f.get("detected") == label)
print(f"{sys.argv[3]}: {len(flows)} flows, signature label {label!r} on {right} "
      f"({100 * right / max(1, len(flows)):.1f} %), sessions {len({f['session'] for f in flows})}")
for f in flows:
    if f.get("detected") != label:
        print(f"  not {label}: {f['protocol']} {f['src']}:{f['srcPort']} -> {f['dst']}:{f['dstPort']}"
              f" detected {f.get('detected')!r} ({f.get('detectedSource')})")
EOF
}

web_root() {
  mkdir -p "$work/www"
  echo "<html><body>qts capture</body></html>" >"$work/www/index.html"
  head -c 6000 /dev/urandom | base64 >"$work/www/page.txt"
  chmod -R a+rX "$work/www"
}

# nginx_conf FILE LISTEN… : nginx serving $work/www on the given listen directives.
nginx_conf() {
  local file="$1"; shift
  web_root
  [ -f "$work/tls.key" ] || openssl req -x509 -newkey rsa:2048 -nodes -days 3 -subj "/CN=qts.test" \
    -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
  {
    echo "daemon off; master_process off; worker_processes 1; pid $file.pid;"
    echo "error_log $work/nginx-error.log; events { worker_connections 64; }"
    echo "http { access_log off; client_body_temp_path $work; proxy_temp_path $work;"
    echo "  fastcgi_temp_path $work; uwsgi_temp_path $work; scgi_temp_path $work;"
    echo "  server { root $work/www; ssl_certificate $work/tls.crt; ssl_certificate_key $work/tls.key;"
    for l in "$@"; do echo "    listen $l;"; done
    echo "  }"
    echo "}"
  } >"$file"
}

app_http() { # 1: nginx + curl, plain HTTP/1.1 to a host name that names no application
  net 1
  nginx_conf "$work/nginx1.conf" "10.200.1.1:80"
  bg qa-1-s nginx -c "$work/nginx1.conf"
  wait_port qa-1-s tcp 80
  capture_start 1 http
  local r="--resolve www.qts.test:80:10.200.1.1"
  web qa-1-c -s $r http://www.qts.test/
  web qa-1-c -s $r -A "Mozilla/5.0 (X11; Linux x86_64)" \
    http://www.qts.test/page.txt http://www.qts.test/index.html
  web qa-1-c -s $r -d "a=1&b=2" http://www.qts.test/index.html
  web qa-1-c -s $r -I http://www.qts.test/missing
  web qa-1-c -s -H "Host: static.qts.test" http://10.200.1.1/page.txt
  capture_stop http http
}

app_tls() { # 2: nginx + curl over TLS (SNI of a host name that names no application)
  net 2
  nginx_conf "$work/nginx2.conf" "10.200.2.1:443 ssl"
  bg qa-2-s nginx -c "$work/nginx2.conf"
  wait_port qa-2-s tcp 443
  capture_start 2 tls
  for host in www.qts.test api.qts.test cdn.qts.test; do
    web qa-2-c -sk --resolve "$host:443:10.200.2.1" \
      "https://$host/" "https://$host/page.txt"
  done
  web qa-2-c -sk --tlsv1.2 --tls-max 1.2 \
    --resolve www.qts.test:443:10.200.2.1 https://www.qts.test/
  capture_stop tls tls
}

# A social network's web client: DNS lookups, then HTTP and HTTPS to its domains.
social() {
  local n="$1" app="$2"; shift 2
  net "$n"
  mkdir -p "/etc/netns/qa-$n-c"
  echo "nameserver 10.200.$n.1" >"/etc/netns/qa-$n-c/resolv.conf"
  local addr=()
  for d in "$@"; do addr+=("--address=/$d/10.200.$n.1"); done
  bg "qa-$n-s" dnsmasq -k --no-resolv --no-hosts --bind-interfaces --listen-address="10.200.$n.1" \
    --user=root --pid-file="$work/dnsmasq$n.pid" "${addr[@]}"
  nginx_conf "$work/nginx$n.conf" "10.200.$n.1:80" "10.200.$n.1:443 ssl"
  bg "qa-$n-s" nginx -c "$work/nginx$n.conf"
  wait_port "qa-$n-s" tcp 443
  wait_port "qa-$n-s" udp 53
  capture_start "$n" "$app"
  for d in "$@"; do
    web "qa-$n-c" -s "http://$d/" || true
    web "qa-$n-c" -sk "https://www.$d/" "https://$d/page.txt" || true
  done
  capture_stop "$app" "$app"
}
app_vk() { social 3 vk vk.com userapi.com; } # 3
app_facebook() { social 4 facebook facebook.com fbcdn.net; } # 4

app_dns() { # 5: dnsmasq + dig, UDP and TCP, several types, an NXDOMAIN
  net 5
  bg qa-5-s dnsmasq -k --no-resolv --no-hosts --bind-interfaces --listen-address=10.200.5.1 \
    --user=root --pid-file="$work/dnsmasq5.pid" --address=/qts.test/10.200.5.1 \
    --mx-host=qts.test,mail.qts.test,10 --txt-record=qts.test,"v=spf1 -all" \
    --host-record=v6.qts.test,fd00::1
  wait_port qa-5-s udp 53
  capture_start 5 dns
  local q="ip netns exec qa-5-c dig +tries=1 +time=2 @10.200.5.1"
  $q www.qts.test A >/dev/null
  $q qts.test MX >/dev/null
  $q qts.test TXT >/dev/null
  $q v6.qts.test AAAA >/dev/null
  $q nowhere.invalid A >/dev/null || true
  $q +tcp www.qts.test A >/dev/null
  $q -x 10.200.5.1 >/dev/null || true
  capture_stop dns dns
}

app_ftp() { # 6: vsftpd + tnftp: EPSV, PASV and active (PORT) sessions
  net 6
  mkdir -p "$work/ftp/pub" /var/run/vsftpd/empty
  head -c 3000 /dev/urandom >"$work/ftp/pub/a.bin"
  head -c 9000 /dev/urandom >"$work/ftp/pub/b.bin"
  echo "hello over ftp" >"$work/ftp/pub/c.txt"
  chmod -R a+rX,go-w "$work/ftp"
  cat >"$work/vsftpd.conf" <<EOF
listen=YES
listen_address=10.200.6.1
background=NO
anonymous_enable=YES
anon_root=$work/ftp
no_anon_password=YES
local_enable=NO
write_enable=NO
pasv_enable=YES
pasv_min_port=40000
pasv_max_port=40100
port_enable=YES
connect_from_port_20=NO
seccomp_sandbox=NO
secure_chroot_dir=/var/run/vsftpd/empty
xferlog_enable=NO
EOF
  bg qa-6-s vsftpd "$work/vsftpd.conf"
  wait_port qa-6-s tcp 21
  capture_start 6 ftp
  local cd="$work/ftpget"
  mkdir -p "$cd"
  # tnftp's default: passive with EPSV first.
  (cd "$cd" && printf 'user anonymous x\nbinary\nls pub\nget pub/a.bin a.bin\nget pub/c.txt c.txt\nbye\n' |
    ip netns exec qa-6-c tnftp -n 10.200.6.1 >/dev/null)
  # PASV (no EPSV).
  (cd "$cd" && printf 'user anonymous x\nepsv4 off\nbinary\nget pub/b.bin b.bin\ndir\nbye\n' |
    ip netns exec qa-6-c tnftp -n 10.200.6.1 >/dev/null)
  # Active: PORT, the server connects back to the client.
  (cd "$cd" && printf 'user anonymous x\npassive off\nepsv4 off\nbinary\nget pub/a.bin a2.bin\nls\nbye\n' |
    ip netns exec qa-6-c tnftp -n 10.200.6.1 >/dev/null)
  capture_stop ftp ftp
}

app_ssh() { # 7: sshd + ssh with a key, three commands
  net 7
  mkdir -p /run/sshd "$work/ssh"
  ssh-keygen -q -t ed25519 -N "" -f "$work/ssh/host" <<<y >/dev/null
  ssh-keygen -q -t ed25519 -N "" -f "$work/ssh/client" <<<y >/dev/null
  cp "$work/ssh/client.pub" "$work/ssh/authorized_keys"
  chmod 600 "$work/ssh/authorized_keys"
  bg qa-7-s /usr/sbin/sshd -D -e -h "$work/ssh/host" -o ListenAddress=10.200.7.1 \
    -o PermitRootLogin=prohibit-password -o "AuthorizedKeysFile=$work/ssh/authorized_keys" \
    -o StrictModes=no -o UsePAM=no -o PidFile=none
  wait_port qa-7-s tcp 22
  capture_start 7 ssh
  local s=(ip netns exec qa-7-c ssh -q -i "$work/ssh/client" -o StrictHostKeyChecking=no
    -o UserKnownHostsFile=/dev/null -o BatchMode=yes root@10.200.7.1)
  "${s[@]}" 'echo hello' >/dev/null
  "${s[@]}" 'uname -a; ls /' >/dev/null
  "${s[@]}" 'head -c 20000 /dev/zero' >/dev/null
  capture_stop ssh ssh
}

app_telnet() { # 8: inetd + telnetd, telnet client logging in and typing
  net 8
  # telnetd looks the client's address up; without an answer it stalls for the DNS timeout.
  mkdir -p /etc/netns/qa-8-s
  printf '127.0.0.1 localhost\n10.200.8.2 client.qts.test\n' >/etc/netns/qa-8-s/hosts
  echo "10.200.8.1:telnet stream tcp nowait root /usr/sbin/telnetd telnetd" >"$work/inetd.conf"
  bg qa-8-s /usr/sbin/inetutils-inetd -d "$work/inetd.conf"
  wait_port qa-8-s tcp 23
  capture_start 8 telnet
  for _ in 1 2; do
    { sleep 2; echo root; sleep 1; echo wrong; sleep 3; } |
      ip netns exec qa-8-c telnet 10.200.8.1 23 >/dev/null 2>&1 || true
  done
  capture_stop telnet telnet
}

app_socks5() { # 9: dante SOCKS5 proxy in front of nginx on the server's loopback
  net 9
  mkdir -p /etc/netns/qa-9-s
  printf '127.0.0.1 localhost\n127.0.0.1 web.qts.test\n' >/etc/netns/qa-9-s/hosts
  nginx_conf "$work/nginx9.conf" "127.0.0.1:80"
  bg qa-9-s nginx -c "$work/nginx9.conf"
  cat >"$work/danted.conf" <<'EOF'
logoutput: stderr
internal: 10.200.9.1 port = 1080
external: lo
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }
socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }
EOF
  bg qa-9-s danted -f "$work/danted.conf"
  wait_port qa-9-s tcp 1080
  wait_port qa-9-s tcp 80
  capture_start 9 socks5
  web qa-9-c -s --socks5-hostname 10.200.9.1:1080 http://web.qts.test/
  web qa-9-c -s --socks5-hostname 10.200.9.1:1080 \
    http://web.qts.test/page.txt
  web qa-9-c -s --socks5 10.200.9.1:1080 http://127.0.0.1/
  capture_stop socks5 socks5
}

app_bittorrent() { # 10: aria2 seeder and leecher, HTTP tracker, DHT between them
  net 10
  mkdir -p "$work/seed" "$work/leech"
  head -c 40000 /dev/urandom >"$work/seed/qts-test.bin"
  /usr/bin/python3 - "$work/seed/qts-test.bin" "$work/qts-test.torrent" <<'EOF'
import hashlib, sys
def be(v):
    if isinstance(v, int): return b"i%de" % v
    if isinstance(v, str): v = v.encode()
    if isinstance(v, bytes): return b"%d:%s" % (len(v), v)
    if isinstance(v, list): return b"l" + b"".join(be(x) for x in v) + b"e"
    return b"d" + b"".join(be(k) + be(v[k]) for k in sorted(v)) + b"e"
data = open(sys.argv[1], "rb").read()
piece = 16384
pieces = b"".join(hashlib.sha1(data[i:i + piece]).digest() for i in range(0, len(data), piece))
meta = {"announce": "http://10.200.10.1:6969/announce",
        "info": {"name": "qts-test.bin", "length": len(data), "piece length": piece, "pieces": pieces}}
open(sys.argv[2], "wb").write(be(meta))
EOF
  # The tracker: nginx answering every announce with the seeder as the only peer (compact form:
  # 10.200.10.1 port 6881).
  nginx_conf "$work/nginx10.conf" "10.200.10.1:6969"
  printf 'd8:intervali1800e5:peers6:\x0a\xc8\x0a\x01\x1a\xe1e' >"$work/www/announce"
  bg qa-10-s nginx -c "$work/nginx10.conf"
  local common=(--enable-dht=true --bt-enable-lpd=false --enable-peer-exchange=false
    --bt-require-crypto=false --console-log-level=warn --summary-interval=0 --check-certificate=false)
  bg qa-10-s aria2c "${common[@]}" --dir="$work/seed" --dht-file-path="$work/dht-s.dat" --listen-port=6881 --dht-listen-port=6881 \
    --seed-ratio=0.0 --bt-seed-unverified=true "$work/qts-test.torrent"
  wait_port qa-10-s tcp 6881
  wait_port qa-10-s tcp 6969
  capture_start 10 bittorrent
  # aria2 opens peer connections with an encrypted (MSE) handshake, which no first-bytes
  # signature can read; qts names such a flow by its endpoint, which spoke DHT before.
  ip netns exec qa-10-c timeout 40 aria2c "${common[@]}" --dir="$work/leech" \
    --dht-file-path="$work/dht-c.dat" --listen-port=6891 --dht-listen-port=6891 \
    --dht-entry-point=10.200.10.1:6881 --seed-time=0 --bt-stop-timeout=30 \
    "$work/qts-test.torrent" >/dev/null || true
  cmp "$work/seed/qts-test.bin" "$work/leech/qts-test.bin"
  capture_stop bittorrent bittorrent
}

app_openvpn() { # 11: OpenVPN in TLS mode over UDP and over TCP, a ping through each tunnel
  net 11
  local p="$work/pki"
  mkdir -p "$p"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3 -subj "/CN=qts-ca" -keyout "$p/ca.key" \
    -out "$p/ca.crt" 2>/dev/null
  for who in server client; do
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$who" -keyout "$p/$who.key" \
      -out "$p/$who.csr" 2>/dev/null
    printf 'keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=%s\n' "$([ $who = server ] && echo serverAuth || echo clientAuth)" \
      >"$p/$who.ext"
    openssl x509 -req -in "$p/$who.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial \
      -days 3 -extfile "$p/$who.ext" -out "$p/$who.crt" 2>/dev/null
  done
  capture_start 11 openvpn
  local proto
  for proto in udp tcp; do
    local sp=udp cp=udp port=1194
    [ "$proto" = tcp ] && { sp=tcp-server; cp=tcp-client; port=1195; }
    local ovpn=(openvpn --verb 1 --dev-type tun --ca "$p/ca.crt" --data-ciphers AES-256-GCM
      --ping 1 --port "$port")
    bg qa-11-s "${ovpn[@]}" --dev "ovs$proto" --proto "$sp" --local 10.200.11.1 --tls-server \
      --dh none --cert "$p/server.crt" --key "$p/server.key" --ifconfig 10.200.111.1 10.200.111.2 \
      --writepid "$work/ovs$proto.pid"
    [ "$proto" = tcp ] && wait_port qa-11-s tcp "$port"
    bg qa-11-c "${ovpn[@]}" --dev "ovc$proto" --proto "$cp" --remote 10.200.11.1 --tls-client \
      --remote-cert-tls server --cert "$p/client.crt" --key "$p/client.key" \
      --ifconfig 10.200.111.2 10.200.111.1 --writepid "$work/ovc$proto.pid"
    for _ in $(seq 1 100); do
      ip netns exec qa-11-c ping -c 1 -W 1 10.200.111.1 >/dev/null 2>&1 && break
      sleep 0.2
    done
    ip netns exec qa-11-c ping -c 3 -i 0.2 10.200.111.1 >/dev/null
    kill "$(cat "$work/ovc$proto.pid")" "$(cat "$work/ovs$proto.pid")"
    sleep 1
  done
  capture_stop openvpn openvpn
}

app_wireguard() { # 12: wireguard-go (userspace; no kernel module needed) in both namespaces
  net 12
  local ns key
  for ns in c s; do
    (umask 077; wg genkey >"$work/wg-$ns.key")
    wg pubkey <"$work/wg-$ns.key" >"$work/wg-$ns.pub"
  done
  for ns in s c; do
    WG_PROCESS_FOREGROUND=1 bg "qa-12-$ns" wireguard-go "wg12$ns"
  done
  for _ in $(seq 1 50); do
    ip -n qa-12-c link show wg12c >/dev/null 2>&1 && ip -n qa-12-s link show wg12s >/dev/null 2>&1 &&
      break
    sleep 0.1
  done
  ip netns exec qa-12-s wg set wg12s private-key "$work/wg-s.key" listen-port 51820 \
    peer "$(cat "$work/wg-c.pub")" allowed-ips 10.200.112.2/32
  ip netns exec qa-12-c wg set wg12c private-key "$work/wg-c.key" \
    peer "$(cat "$work/wg-s.pub")" endpoint 10.200.12.1:51820 allowed-ips 10.200.112.1/32
  ip -n qa-12-s addr add 10.200.112.1/24 dev wg12s
  ip -n qa-12-c addr add 10.200.112.2/24 dev wg12c
  ip -n qa-12-s link set wg12s up
  ip -n qa-12-c link set wg12c up
  capture_start 12 wireguard
  ip netns exec qa-12-c ping -c 5 -i 0.2 10.200.112.1 >/dev/null
  capture_stop wireguard wireguard
}

for app in "${apps[@]}"; do
  if ! declare -F "app_$app" >/dev/null; then
    echo "capture-apps.sh: unknown application \"$app\"" >&2
    exit 2
  fi
  "app_$app"
done
