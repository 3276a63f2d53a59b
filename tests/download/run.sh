#!/usr/bin/env bash
# run.sh BUILD_DIR — `voxtts download` against a loopback stand-in of the hub
# (tests/download/server.py) serving the tiny checkpoint tests/models/tiny-a:
# a fresh download, a resumed one after a dropped connection, skipping complete
# files, a gated repository without and with HF_TOKEN, and a missing repository.
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
"$VOX" download "$tmp/m1" > "$tmp/out1" 2>&1; rc1=$?
check "interrupted download exits non-zero" '[ $rc1 -ne 0 ]'
check "interrupted download keeps the partial file" '[ -s "$tmp/m1/consolidated.safetensors.part" ]'
check "no final file after an interrupted download" '[ ! -e "$tmp/m1/consolidated.safetensors" ]'
"$VOX" download "$tmp/m1" > "$tmp/out2" 2>&1; rc2=$?
check "second run succeeds" '[ $rc2 -eq 0 ]'
check "second run resumed with a range request" 'grep -q "range consolidated.safetensors [1-9]" "$tmp/log"'
check "downloaded tree identical to the served one" 'same_tree "$tmp/m1"'
check "no leftover .part or listing files" '[ -z "$(find "$tmp/m1" -name "*.part" -o -name ".voxtts-*")" ]'
"$VOX" download "$tmp/m1" > "$tmp/out3" 2>&1; rc3=$?
check "third run skips complete files" '[ $rc3 -eq 0 ] && grep -q "already complete" "$tmp/out3"'
stop_server

# 2. gated repository: without a token a clear error, with it a full download
start_server --token s3cret
"$VOX" download "$tmp/m2" > "$tmp/out4" 2>&1; rc4=$?
check "gated repo without HF_TOKEN fails" '[ $rc4 -ne 0 ] && grep -q "HF_TOKEN" "$tmp/out4"'
HF_TOKEN=s3cret "$VOX" download "$tmp/m2" > "$tmp/out5" 2>&1; rc5=$?
check "gated repo with HF_TOKEN succeeds" '[ $rc5 -eq 0 ] && same_tree "$tmp/m2"'
check "token file removed" '[ -z "$(find "$tmp/m2" -name ".voxtts-auth*")" ]'
# 3. wrong repository name
HF_TOKEN=s3cret "$VOX" download --repo nobody/nothing "$tmp/m3" > "$tmp/out6" 2>&1; rc6=$?
check "unknown repository fails cleanly" '[ $rc6 -ne 0 ] && grep -q "cannot list" "$tmp/out6"'
stop_server

echo "download: $pass passed, $fail failed"
[ $fail -eq 0 ]
