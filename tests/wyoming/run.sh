#!/usr/bin/env bash
# run.sh BUILD_DIR — `voxtts wyoming` end to end on the tiny checkpoint
# tests/models/tiny-a over loopback: a server on a free TCP port driven by
# tests/wyoming/client.py (describe/info, plain and streaming synthesis checked
# against `voxtts -o x.pcm`, malformed input, two clients at once, --max-clients,
# SIGTERM with a request in flight -> exit 0), a client that never reads
# (others are served meanwhile), a server on a unix:// socket,
# and bad options.  Every wait is bounded.
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/../.."
VOX="$BUILD/voxtts"
MODEL=tests/models/tiny-a
FRAMES=12
pass=0; fail=0
tmp=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
[ -n "${KEEP_LOGS:-}" ] && trap 'for p in $pids; do kill -9 "$p" 2>/dev/null; done; echo logs in $tmp' EXIT
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL wyoming: $1"; fi; }

# start_server LOG ARGS... : runs the server in the background (one model thread:
# the spinning pool of -t 2 is slow on a loaded 2-core machine); sets SPID and
# URI (from its "listening on" line, so port 0 can pick a free port)
start_server() {
    local log=$1; shift
    "$VOX" wyoming -m "$MODEL" --max-frames "$FRAMES" -t 1 "$@" 2> "$log" &
    SPID=$!
    pids="$pids $SPID"
    URI=""
    for _ in $(seq 1 300); do
        URI=$(sed -nE 's/.*listening on ([^ ]+) .*/\1/p' "$log" | head -n 1)
        [ -n "$URI" ] && return 0
        kill -0 "$SPID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
# wait_exit PID SECONDS: the exit status, or 124 after SECONDS (then killed)
wait_exit() {
    local p=$1 s=$2
    for _ in $(seq 1 $((s * 10))); do
        if ! kill -0 "$p" 2>/dev/null; then wait "$p"; return $?; fi
        sleep 0.1
    done
    kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; return 124
}

VOICES=$("$VOX" -m "$MODEL" --list-voices | paste -sd, -)
V0=${VOICES%%,*}
"$VOX" -m "$MODEL" -v "$V0" --max-frames "$FRAMES" -t 1 -q -o "$tmp/ref.pcm" "Hello world." 2>/dev/null
check "reference audio from the command line" '[ -s "$tmp/ref.pcm" ]'

# --- TCP server + the protocol client ------------------------------------------
start_server "$tmp/tcp.log" --uri tcp://127.0.0.1:0 --max-clients 2 --voice "$V0"; ok=$?
check "server starts and listens on a free port" '[ $ok -eq 0 ] && [[ "$URI" == tcp://127.0.0.1:* ]]'
if [ $ok -eq 0 ]; then
    timeout 240 python3 tests/wyoming/client.py "$URI" "$SPID" "$VOICES" "$FRAMES" "$tmp/ref.pcm" > "$tmp/client.out" 2>&1
    crc=$?
    cat "$tmp/client.out"
    cp=$(sed -nE 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\1/p' "$tmp/client.out")
    cf=$(sed -nE 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\2/p' "$tmp/client.out")
    pass=$((pass + ${cp:-0})); fail=$((fail + ${cf:-0}))
    check "protocol client ran to the end" '[ $crc -eq 0 ] || [ -n "$cf" ]'
    wait_exit "$SPID" 30; rc=$?
    check "SIGTERM: the server exits 0 after the request in flight" '[ $rc -eq 0 ]'
    check "SIGTERM: logged stopped" 'grep -q "voxtts wyoming: stopped" "$tmp/tcp.log"'
    [ $rc -ne 0 ] && tail -n 30 "$tmp/tcp.log"
fi

# --- unix socket -------------------------------------------------------------------
sock="$tmp/voxtts.sock"
start_server "$tmp/unix.log" --uri "unix://$sock" -q; ok=$?
check "unix:// server starts" '[ $ok -eq 0 ] && [ "$URI" = "unix://$sock" ] && [ -S "$sock" ]'
if [ $ok -eq 0 ]; then
    out=$(timeout 60 python3 - "$sock" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(30)
f = s.makefile("rb")
body = json.dumps({"text": "Hello world."}).encode()
s.sendall(b'{"type": "describe"}\n' + json.dumps({"type": "synthesize", "data_length": len(body)}).encode() + b"\n" + body)
types = []
while True:
    h = json.loads(f.readline())
    if h.get("data_length"): f.read(h["data_length"])
    if h.get("payload_length"): f.read(h["payload_length"])
    types.append(h["type"])
    if h["type"] == "audio-stop": break
print(" ".join(t for i, t in enumerate(types) if i == 0 or t != types[i - 1]))
EOF
)
    check "unix socket: describe and synthesize" '[ "$out" = "info audio-start audio-chunk audio-stop" ]'
    kill -TERM "$SPID"; wait_exit "$SPID" 30; rc=$?
    check "unix socket: SIGTERM exits 0 and removes the socket" '[ $rc -eq 0 ] && [ ! -e "$sock" ]'
fi

# --- a client that never reads delays nobody ---------------------------------------
start_server "$tmp/slow.log" --uri tcp://127.0.0.1:0 --write-timeout 60 --drain-timeout 2; ok=$?
if [ $ok -eq 0 ]; then
    out=$(timeout 90 python3 - "$URI" "$tmp/slow.log" <<'EOF'
import json, socket, sys, time
host, port = sys.argv[1][6:].rsplit(":", 1)
def ev(t, d):
    b = json.dumps(d).encode()
    return json.dumps({"type": t, "data_length": len(b)}).encode() + b"\n" + b
x = socket.socket()
x.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
x.connect((host, int(port)))
x.sendall(ev("synthesize", {"text": "Hello world. " * 1000}))  # and never read
time.sleep(1)
y = socket.create_connection((host, int(port)))
y.settimeout(30)
y.sendall(ev("synthesize", {"text": "Hello world. Hello world. Hello world."}))
f = y.makefile("rb")
n = 0
while True:
    h = json.loads(f.readline())
    if h.get("data_length"): f.read(h["data_length"])
    if h.get("payload_length"): n += len(f.read(h["payload_length"]))
    if h["type"] == "audio-stop": break
# x, whose kernel buffers filled long ago, is still connected: it did not hold the worker
x.setblocking(False)
try:
    alive = x.recv(1) != b""
except BlockingIOError:
    alive = True
print("served" if n > 0 else "no-audio", "x-connected" if alive else "x-gone")
EOF
)
    check "a client that never reads does not hold up another one" '[ "$out" = "served x-connected" ]'
    kill -TERM "$SPID"; wait_exit "$SPID" 30; rc=$?
    check "SIGTERM with a request stuck on a client that never reads: cancelled after --drain-timeout, exit 0" '[ $rc -eq 0 ]'
else
    check "slow-reader server starts" false
fi

# --- bad options: clear message, exit 2, nothing listening --------------------------
"$VOX" wyoming -m "$MODEL" --uri ftp://127.0.0.1:1 2> "$tmp/e1"; rc=$?
check "unsupported --uri scheme: exit 2, names the URI" '[ $rc -eq 2 ] && grep -q "ftp://127.0.0.1:1" "$tmp/e1"'
"$VOX" wyoming -m "$MODEL" --uri tcp://127.0.0.1:99999 2> "$tmp/e2"; rc=$?
check "port out of range: exit 2" '[ $rc -eq 2 ] && grep -q "99999" "$tmp/e2"'
"$VOX" wyoming -m "$MODEL" --uri tcp://127.0.0.1 2> "$tmp/e3"; rc=$?
check "tcp:// without a port: exit 2" '[ $rc -eq 2 ] && grep -q "HOST:PORT" "$tmp/e3"'
"$VOX" wyoming -m "$MODEL" --voice no_such_voice --uri tcp://127.0.0.1:0 2> "$tmp/e4"; rc=$?
check "unknown --voice: exit 2, lists the voices" '[ $rc -eq 2 ] && grep -q "no_such_voice" "$tmp/e4" && grep -q "$V0" "$tmp/e4"'
"$VOX" wyoming -m "$MODEL" --max-clients 0 2> "$tmp/e5"; rc=$?
check "--max-clients 0: exit 2" '[ $rc -eq 2 ] && grep -q -- "--max-clients" "$tmp/e5"'
"$VOX" wyoming -m tests/no-such-model --uri tcp://127.0.0.1:0 2> "$tmp/e6"; rc=$?
check "missing model: exit 1, names it" '[ $rc -eq 1 ] && grep -q "no-such-model" "$tmp/e6"'
"$VOX" wyoming -m "$MODEL" stray 2> "$tmp/e7"; rc=$?
check "stray argument: exit 2" '[ $rc -eq 2 ] && grep -q stray "$tmp/e7"'
: > "$tmp/notasocket"
"$VOX" wyoming -m "$MODEL" --uri "unix://$tmp/notasocket" 2> "$tmp/e8"; rc=$?
check "unix:// path that is a regular file: exit 2, file kept" '[ $rc -eq 2 ] && [ -f "$tmp/notasocket" ] && grep -q "not a socket" "$tmp/e8"'
start_server "$tmp/busy.log" --uri tcp://127.0.0.1:0 -q; ok=$?
if [ $ok -eq 0 ]; then
    "$VOX" wyoming -m "$MODEL" --uri "$URI" 2> "$tmp/e9"; rc=$?
    check "port in use: exit 2, says why" '[ $rc -eq 2 ] && grep -qi "in use" "$tmp/e9"'
    kill -TERM "$SPID"; wait_exit "$SPID" 30; rc=$?
    check "idle server: SIGTERM exits 0" '[ $rc -eq 0 ]'
else
    check "second server starts" false
fi
"$VOX" wyoming --help > "$tmp/help"; rc=$?
check "--help documents --uri and --max-clients" '[ $rc -eq 0 ] && grep -q -- "--uri" "$tmp/help" && grep -q -- "--max-clients" "$tmp/help"'

check "no sanitizer or crash report from any server run" '! grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error|Segmentation" "$tmp"/*.log "$tmp"/e[0-9]'

echo "wyoming: $pass passed, $fail failed"
[ $fail -eq 0 ]
