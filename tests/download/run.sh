#!/usr/bin/env bash
# run.sh BUILD_DIR — `voxtts download` against a loopback stand-in of the hub
# (tests/download/server.py) serving the tiny checkpoint tests/models/tiny-a:
# a fresh download, a resumed one after a dropped connection (in a later run, and
# within one run by the retries), skipping complete files, --dry-run, a gated
# repository without and with HF_TOKEN, a missing repository, and the failures a
# network gives: a server that accepts and never answers, a refused connection,
# an unresolvable name; a failed first download leaves no directory behind.
set -u
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VOX="$ROOT/$BUILD/voxtts"
MODEL="$ROOT/tests/models/tiny-a"
PY=/usr/bin/python3
pass=0; fail=0
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL download: $1"; fi; }
tmp=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

start_server() { # args for server.py
    rm -f "$tmp/port"
    "$PY" "$HERE/server.py" --dir "$MODEL" --port-file "$tmp/port" --log "$tmp/log" "$@" &
    pid=$!
    for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
    export HF_ENDPOINT="http://127.0.0.1:$(cat "$tmp/port")"
}
stop_server() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=""; }
# encoder.safetensors (the codec encoder for the cloning tests) is not part of the
# official layout: the downloader rightly leaves it
same_tree() { diff -r -x encoder.safetensors "$MODEL" "$1" >/dev/null; }

# 1. fresh download, interrupted once in the middle of the safetensors file, then resumed
: > "$tmp/log"
start_server --fail-after 1000
unset HF_TOKEN
"$VOX" download --retries 1 "$tmp/m1" > "$tmp/out1" 2>&1; rc1=$?
check "interrupted download exits non-zero" '[ $rc1 -ne 0 ] && grep -q "broke off" "$tmp/out1"'
check "interrupted download keeps the partial file" '[ -s "$tmp/m1/consolidated.safetensors.part" ]'
check "no final file after an interrupted download" '[ ! -e "$tmp/m1/consolidated.safetensors" ]'
"$VOX" download "$tmp/m1" > "$tmp/out2" 2>&1; rc2=$?
check "second run succeeds" '[ $rc2 -eq 0 ]'
check "second run resumed with a range request" 'grep -q "range consolidated.safetensors [1-9]" "$tmp/log"'
check "downloaded tree identical to the served one" 'same_tree "$tmp/m1"'
check "no leftover .part or listing files" '[ -z "$(find "$tmp/m1" -name "*.part" -o -name ".voxtts-*")" ]'
"$VOX" download "$tmp/m1" > "$tmp/out3" 2>&1; rc3=$?
check "third run skips complete files" '[ $rc3 -eq 0 ] && grep -q "already complete" "$tmp/out3"'
"$VOX" download --dry-run "$tmp/m1" > "$tmp/out3b" 2>&1; rc3b=$?
check "dry run on a complete model lists every file as present" \
    '[ $rc3b -eq 0 ] && grep -q "^present .*consolidated.safetensors" "$tmp/out3b" && ! grep -q "^fetch" "$tmp/out3b"'
"$VOX" download --dry-run "$tmp/m-dry" > "$tmp/out3c" 2>&1; rc3c=$?
check "dry run on a new directory lists files to fetch and creates nothing" \
    '[ $rc3c -eq 0 ] && grep -q "^fetch .*params.json" "$tmp/out3c" && [ ! -e "$tmp/m-dry" ]'
stop_server
# 1b. the same interruption is recovered within one run by a retry (range request)
: > "$tmp/log"
start_server --fail-after 1000
"$VOX" download "$tmp/m1b" > "$tmp/out1b" 2>&1; rc1b=$?
check "a dropped connection is retried and resumed in the same run" \
    '[ $rc1b -eq 0 ] && grep -q "retrying" "$tmp/out1b" && grep -q "range consolidated.safetensors [1-9]" "$tmp/log" && same_tree "$tmp/m1b"'
stop_server

# 2. gated repository: without a token a clear error, with it a full download
start_server --token s3cret
"$VOX" download "$tmp/m2" > "$tmp/out4" 2>&1; rc4=$?
check "gated repo without HF_TOKEN fails" '[ $rc4 -ne 0 ] && grep -q "401/403.*HF_TOKEN" "$tmp/out4"'
check "the failed first download left no directory" '[ ! -e "$tmp/m2" ]'
HF_TOKEN=wrong "$VOX" download "$tmp/m2" > "$tmp/out4b" 2>&1; rc4b=$?
check "a wrong HF_TOKEN is reported as not accepted" '[ $rc4b -ne 0 ] && grep -q "not accepted" "$tmp/out4b"'
HF_TOKEN=s3cret "$VOX" download "$tmp/m2" > "$tmp/out5" 2>&1; rc5=$?
check "gated repo with HF_TOKEN succeeds" '[ $rc5 -eq 0 ] && same_tree "$tmp/m2"'
check "token file removed" '[ -z "$(find "$tmp/m2" -name ".voxtts-auth*")" ]'
# 3. wrong repository name
HF_TOKEN=s3cret "$VOX" download --repo nobody/nothing "$tmp/m3" > "$tmp/out6" 2>&1; rc6=$?
check "unknown repository fails cleanly" '[ $rc6 -ne 0 ] && grep -q "cannot list.*404" "$tmp/out6"'
stop_server

# 4. network failures, each a clear message, bounded in time, no directory left
# a server that accepts the connection and never answers
"$PY" -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
conns = []
end = time.time() + 60
while time.time() < end:
    s.settimeout(1)
    try: conns.append(s.accept()[0])
    except OSError: pass
' "$tmp/silent-port" &
spid=$!
for _ in $(seq 100); do [ -s "$tmp/silent-port" ] && break; sleep 0.05; done
t0=$(date +%s)
HF_ENDPOINT="http://127.0.0.1:$(cat "$tmp/silent-port")" "$VOX" download --stall-timeout 2 --retries 1 "$tmp/m4" > "$tmp/out7" 2>&1; rc7=$?
t1=$(date +%s)
kill $spid 2>/dev/null; wait $spid 2>/dev/null
check "a silent server times out with a clear error" '[ $rc7 -ne 0 ] && grep -q "timed out" "$tmp/out7"'
check "... within seconds, not forever ($((t1 - t0)) s)" '[ $((t1 - t0)) -lt 30 ]'
check "... leaving no directory" '[ ! -e "$tmp/m4" ]'
# a refused connection: a port nobody listens on (bind, note, close)
port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
HF_ENDPOINT="http://127.0.0.1:$port" "$VOX" download --retries 2 "$tmp/m5" > "$tmp/out8" 2>&1; rc8=$?
check "a refused connection is named as such, after a retry" \
    '[ $rc8 -ne 0 ] && grep -q "connection refused" "$tmp/out8" && grep -q "retrying" "$tmp/out8" && ! grep -q HF_TOKEN "$tmp/out8"'
# a name that cannot resolve (.invalid is reserved and never resolves)
HF_ENDPOINT="http://voxtts-test.invalid" "$VOX" download --retries 1 "$tmp/m6" > "$tmp/out9" 2>&1; rc9=$?
check "an unresolvable name is reported as a DNS failure" '[ $rc9 -ne 0 ] && grep -q "cannot resolve" "$tmp/out9" && [ ! -e "$tmp/m6" ]'

echo "download: $pass passed, $fail failed"
[ $fail -eq 0 ]
