#!/usr/bin/env bash
# load.sh BUILD_DIR — a bounded load test of `voxtts serve` on tests/models/tiny-a:
# CLIENTS (default 8) concurrent clients for SECONDS (default 60) seconds
# (tests/server/load.mjs: every voice, format and stream format in turn), then
# checks 0 failed requests, a bounded RSS (sampled from /proc every 0.5 s; the
# peak must stay under RSS_LIMIT_MB, default 512) and no descriptor leak (the
# server's open descriptors after the run, its connections closed, equal those
# before).  tests/run.sh runs a 10-second version; the 60-second one runs when
# LOAD_TEST=1.
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/../.."
VOX="$BUILD/voxtts"
MODEL=tests/models/tiny-a
SECONDS_RUN=${SECONDS_RUN:-60}
CLIENTS=${CLIENTS:-8}
RSS_LIMIT_MB=${RSS_LIMIT_MB:-512}
pass=0; fail=0
tmp=$(mktemp -d)
cleanup() { [ -n "${load_pid:-}" ] && kill -KILL "$load_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL load: $1"; fi; }
. tests/server/lib.sh

VOICES=$("$VOX" -m "$MODEL" --list-voices | paste -sd, -)
start_server load --batch 4 --max-queue 16 --max-frames 150
check "server starts" '[ -n "$SRV_PORT" ]'
load_pid=$SRV_PID
URL="http://127.0.0.1:$SRV_PORT"
curl -s -o /dev/null -d '{"input":"warm up","response_format":"wav"}' "$URL/v1/audio/speech"
sleep 0.3
fd0=$(n_fds "$load_pid"); rss0=$(rss_kb "$load_pid")
node tests/server/load.mjs "$URL" "$CLIENTS" "$SECONDS_RUN" "$VOICES" > "$tmp/result.json" 2> "$tmp/node.err" &
node_pid=$!
peak=$rss0; samples=0
while kill -0 "$node_pid" 2>/dev/null; do
    r=$(rss_kb "$load_pid"); [ -n "$r" ] && [ "$r" -gt "$peak" ] && peak=$r
    samples=$((samples+1))
    sleep 0.5
done
wait "$node_pid"; rc=$?
sleep 0.5 # connections close
fd1=$(n_fds "$load_pid"); rss1=$(rss_kb "$load_pid")
metrics=$(curl -s "$URL/metrics")
result=$(cat "$tmp/result.json")
echo "load: $CLIENTS clients, $SECONDS_RUN s: $result"
echo "load: RSS before ${rss0} kB, peak ${peak} kB ($samples samples), after ${rss1} kB; fds before $fd0, after $fd1"
echo "$metrics" | grep -E '^voxtts_(frames_total|audio_seconds_total|compute_seconds_total|rtf|ttfa_seconds_(sum|count)|request_rtf_(sum|count)) '
check "the load client ran" '[ $rc -eq 0 ] && [ -n "$result" ]'
ok=$(echo "$result" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ok"])' 2>/dev/null || echo 0)
failed=$(echo "$result" | python3 -c 'import json,sys; print(json.load(sys.stdin)["failed"])' 2>/dev/null || echo 1)
check "requests succeeded ($ok)" '[ "$ok" -gt 0 ]'
check "0 failed requests ($failed)" '[ "$failed" = 0 ]'
check "peak RSS ${peak} kB under ${RSS_LIMIT_MB} MB" '[ "$peak" -lt $((RSS_LIMIT_MB * 1024)) ]'
check "no descriptor leak ($fd0 before, $fd1 after)" '[ "$fd1" -le "$fd0" ]'
check "every request counted as a 200" 'echo "$metrics" | grep -qE "^voxtts_http_requests_total\{code=\"200\"\} [0-9]+" && [ "$(echo "$metrics" | sed -nE "s/^voxtts_http_requests_total\{code=\"200\"\} ([0-9]+)/\1/p")" -ge "$ok" ]'
stop_server "$load_pid"; code=$STOP_RC; load_pid=""
check "SIGTERM after the load: exit 0 ($code)" '[ "$code" = 0 ]'
echo "load: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
