#!/usr/bin/env bash
# nginx.sh BUILD_DIR — scale-out: two `voxtts serve` instances on loopback ports
# behind nginx, with a configuration generated from the shipped
# deploy/nginx/voxtts.conf (only its ports changed, and the http/events frame a
# standalone nginx needs around it).  Checks that requests through nginx
# succeed — whole, streamed and as SSE — give the same audio as an instance
# directly, and reach both instances (their /metrics request counters).
# Needs /usr/sbin/nginx (Debian nginx-light; scripts/test.sh installs it).
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/../.."
VOX="$BUILD/voxtts"
MODEL=tests/models/tiny-a
NGINX=${NGINX:-/usr/sbin/nginx}
pass=0; fail=0
tmp=$(mktemp -d)
pids=""
cleanup() {
    [ -f "$tmp/nginx.pid" ] && kill -QUIT "$(cat "$tmp/nginx.pid")" 2>/dev/null && sleep 0.3
    for p in $pids; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL nginx: $1"; fi; }
. tests/server/lib.sh

check "nginx is installed ($NGINX)" '[ -x "$NGINX" ]'
[ -x "$NGINX" ] || { echo "nginx: $pass passed, $fail failed"; exit 1; }
start_server a --batch 2; pids="$pids $SRV_PID"; A=$SRV_PID; PA=$SRV_PORT
start_server b --batch 2; pids="$pids $SRV_PID"; B=$SRV_PID; PB=$SRV_PORT
check "two instances started" '[ -n "$PA" ] && [ -n "$PB" ]'
# a free port for nginx
PN=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# the shipped file with our ports, inside a minimal standalone nginx.conf
sed -e "s/127\.0\.0\.1:8001/127.0.0.1:$PA/" -e "s/127\.0\.0\.1:8002/127.0.0.1:$PB/" \
    -e "s/listen 8000;/listen 127.0.0.1:$PN;/" deploy/nginx/voxtts.conf > "$tmp/voxtts.conf"
check "the generated upstream names both instances" 'grep -q ":$PA " "$tmp/voxtts.conf" && grep -q ":$PB " "$tmp/voxtts.conf" && grep -q "proxy_buffering off" "$tmp/voxtts.conf"'
mkdir -p "$tmp/ngx"
cat > "$tmp/nginx.conf" <<EOF
daemon on;
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/error.log warn;
events { worker_connections 256; }
http {
    access_log $tmp/access.log;
    client_body_temp_path $tmp/ngx/body;
    proxy_temp_path $tmp/ngx/proxy;
    fastcgi_temp_path $tmp/ngx/fastcgi;
    uwsgi_temp_path $tmp/ngx/uwsgi;
    scgi_temp_path $tmp/ngx/scgi;
    include $tmp/voxtts.conf;
}
EOF
"$NGINX" -t -p "$tmp" -c "$tmp/nginx.conf" > "$tmp/t.out" 2>&1; rc=$?
check "nginx accepts the configuration" '[ $rc -eq 0 ]' || cat "$tmp/t.out"
"$NGINX" -p "$tmp" -c "$tmp/nginx.conf" 2> "$tmp/start.err"; rc=$?
check "nginx starts" '[ $rc -eq 0 ]' || cat "$tmp/start.err"
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PN/health" && break; sleep 0.1; done
URL="http://127.0.0.1:$PN"

code=$(curl -s -o "$tmp/h" -w '%{http_code}' "$URL/health")
check "GET /health through nginx" '[ "$code" = 200 ] && grep -q ok "$tmp/h"'
code=$(curl -s -o "$tmp/m" -w '%{http_code}' "$URL/v1/models")
check "GET /v1/models through nginx" '[ "$code" = 200 ] && grep -q voxtral-4b-tts "$tmp/m"'
BODY='{"model":"tts-1","input":"Through the proxy.","response_format":"wav"}'
curl -s -o "$tmp/direct.wav" -H 'Content-Type: application/json' -d "$BODY" "http://127.0.0.1:$PA/v1/audio/speech"
# 12 concurrent requests, 6 of each kind
ok=0; same=0; par=""
for i in $(seq 12); do
    case $((i % 3)) in
    0) curl -s -o "$tmp/r$i" -w '%{http_code}' -H 'Content-Type: application/json' -d "$BODY" "$URL/v1/audio/speech" > "$tmp/c$i" & ;;
    1) curl -s -N -o "$tmp/r$i" -w '%{http_code}' -H 'Content-Type: application/json' -d "${BODY%\}},\"stream_format\":\"audio\"}" "$URL/v1/audio/speech" > "$tmp/c$i" & ;;
    2) curl -s -N -o "$tmp/r$i" -w '%{http_code}' -H 'Content-Type: application/json' -d "${BODY%\}},\"stream_format\":\"sse\"}" "$URL/v1/audio/speech" > "$tmp/c$i" & ;;
    esac
    par="$par $!"
done
wait $par
sse_ok=0
for i in $(seq 12); do
    [ "$(cat "$tmp/c$i")" = 200 ] && ok=$((ok+1))
    if [ $((i % 3)) = 2 ]; then
        grep -q '"type":"speech.audio.done"' "$tmp/r$i" && sse_ok=$((sse_ok+1))
    else
        cmp -s "$tmp/r$i" "$tmp/direct.wav" && same=$((same+1))
    fi
done
check "12 concurrent requests through nginx: all 200" '[ $ok = 12 ]'
check "audio through nginx equals an instance's own" '[ $same = 8 ] && [ -s "$tmp/direct.wav" ]'
check "SSE through nginx ends with speech.audio.done" '[ $sse_ok = 4 ]'
err=$(curl -s -o "$tmp/e" -w '%{http_code}' -d '{"input":"hi","voice":"nobody"}' "$URL/v1/audio/speech")
check "errors pass through nginx (400 JSON)" '[ "$err" = 400 ] && grep -q invalid_voice "$tmp/e"'
na=$(curl -s "http://127.0.0.1:$PA/metrics" | sed -nE 's/^voxtts_http_requests_total\{code="200"\} ([0-9]+)/\1/p')
nb=$(curl -s "http://127.0.0.1:$PB/metrics" | sed -nE 's/^voxtts_http_requests_total\{code="200"\} ([0-9]+)/\1/p')
echo "nginx: instance A answered $na, instance B $nb requests with 200"
check "requests reached both instances (A $na, B $nb)" '[ "${na:-0}" -ge 3 ] && [ "${nb:-0}" -ge 3 ]'
kill -QUIT "$(cat "$tmp/nginx.pid")"; rm -f "$tmp/nginx.pid"
stop_server "$A"; ca=$STOP_RC
stop_server "$B"; cb=$STOP_RC
check "both instances exit 0 on SIGTERM" '[ "$ca" = 0 ] && [ "$cb" = 0 ]'
echo "nginx: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
