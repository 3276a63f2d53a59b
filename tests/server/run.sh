#!/usr/bin/env bash
# run.sh BUILD_DIR — `voxtts serve` end to end on tests/models/tiny-a, loopback
# only: every endpoint with curl; every response_format whole, streamed and as
# server-sent events, decoded (tools/audio_probe) and compared with the command
# line's output for the same text and voice; every bad request answered with
# the right 4xx and an OpenAI-shaped JSON error; the API key; 429 past the
# queue limit; concurrent requests (each the same bytes as alone); the per-request
# timeout; SIGTERM draining a request in flight; the official `openai` npm
# package (installed into a temporary directory); and a 10-second load test
# (tests/server/load.sh; LOAD_SECONDS changes it).  nginx in front of two
# instances is tests/server/nginx.sh, a part of its own in tests/run.sh.
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/../.."
VOX="$BUILD/voxtts"
PROBE="$BUILD/tools/audio_probe"
MODEL=tests/models/tiny-a
pass=0; fail=0
tmp=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL server: $1"; fi; }
. tests/server/lib.sh
# post FILE BODY [CURL ARGS...]: prints the status code; headers in FILE.h
post() { local f=$1 b=$2; shift 2; curl -s -o "$f" -D "$f.h" -w '%{http_code}' "$@" -H 'Content-Type: application/json' -d "$b" "$URL/v1/audio/speech"; }
ctype() { sed -nE 's/^[Cc]ontent-[Tt]ype: ([^;\r]*).*/\1/p' "$1.h" | head -n 1; }
# is_error FILE PARAM CODE: OpenAI's {"error":{"message","type","param","code"}}
is_error() {
    python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
e = json.load(open(sys.argv[1]))["error"]
assert isinstance(e["message"], str) and e["message"], "message"
assert isinstance(e["type"], str) and e["type"], "type"
assert set(e) == {"message", "type", "param", "code"}, sorted(e)
want_param = None if sys.argv[2] == "-" else sys.argv[2]
assert e["param"] == want_param, (e["param"], want_param)
assert e["code"] == sys.argv[3], (e["code"], sys.argv[3])
EOF
}
# sse_join FILE OUT: the base64 audio of every speech.audio.delta joined into OUT;
# fails unless the stream ends with one speech.audio.done carrying usage
sse_join() {
    python3 - "$1" "$2" <<'EOF'
import base64, json, sys
text = open(sys.argv[1]).read()
events = [b for b in text.split("\n\n") if b.strip()]
audio, done = b"", 0
for i, block in enumerate(events):
    lines = block.split("\n")
    assert all(l.startswith("data: ") for l in lines), block[:80]
    ev = json.loads("".join(l[6:] for l in lines))
    if ev["type"] == "speech.audio.delta":
        assert done == 0, "delta after done"
        audio += base64.b64decode(ev["audio"], validate=True)
    elif ev["type"] == "speech.audio.done":
        u = ev["usage"]
        assert u["input_tokens"] > 0 and u["output_tokens"] > 0 and u["total_tokens"] == u["input_tokens"] + u["output_tokens"], u
        done += 1
    else:
        raise AssertionError("unknown event " + ev["type"])
assert done == 1 and i == len(events) - 1, "done last"
assert len(events) >= 2
open(sys.argv[2], "wb").write(audio)
EOF
}

VOICES=$("$VOX" -m "$MODEL" --list-voices)
V1=$(echo "$VOICES" | sed -n 1p); V2=$(echo "$VOICES" | sed -n 2p); V3=$(echo "$VOICES" | sed -n 3p)
TEXT="Hello there, this is the server test."
# the command line's audio for the same text and voice (seed 42 both)
"$VOX" -m "$MODEL" -t 1 -v "$V1" -o "$tmp/cli.wav" "$TEXT" 2>/dev/null
"$VOX" -m "$MODEL" -t 1 -v "$V1" -o "$tmp/cli.flac" "$TEXT" 2>/dev/null
check "reference audio from the command line" '[ -s "$tmp/cli.wav" ] && [ -s "$tmp/cli.flac" ]'

# --- options checked before anything loads --------------------------------
"$VOX" serve --help > "$tmp/help" 2>&1; rc=$?
check "serve --help exits 0 and documents --api-key" '[ $rc -eq 0 ] && grep -q -- "--api-key" "$tmp/help"'
"$VOX" serve --port 70000 > "$tmp/o" 2>&1; rc=$?
check "--port 70000: clear error, exit 2" '[ $rc -eq 2 ] && grep -q -- "--port" "$tmp/o"'
"$VOX" serve -m "$tmp/none" --port 0 > "$tmp/o" 2>&1; rc=$?
check "a missing model: exit 1 naming it" '[ $rc -eq 1 ] && grep -q "$tmp/none" "$tmp/o"'
"$VOX" serve -m "$MODEL" --host no.such.host.invalid --port 0 > "$tmp/o" 2>&1; rc=$?
check "a bad --host: exit 1 naming it" '[ $rc -eq 1 ] && grep -q "no.such.host.invalid" "$tmp/o"'

# --- the main server ------------------------------------------------------
start_server main --api-key sekrit --max-input 200 --max-body 4096
pids="$pids $SRV_PID"
MAIN=$SRV_PID
URL="http://127.0.0.1:$SRV_PORT"
AUTH=(-H "Authorization: Bearer sekrit")
check "server starts on a loopback port" '[ -n "$SRV_PORT" ]'

code=$(curl -s -o "$tmp/h" -w '%{http_code}' "$URL/health")
check "GET /health: 200 ok" '[ "$code" = 200 ] && grep -q "\"ok\"" "$tmp/h"'
code=$(curl -s -o "$tmp/m" -w '%{http_code}' "${AUTH[@]}" "$URL/v1/models")
check "GET /v1/models: one model, voxtral-4b-tts" '[ "$code" = 200 ] && python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d[\"object\"]==\"list\" and [m[\"id\"] for m in d[\"data\"]]==[\"voxtral-4b-tts\"]" "$tmp/m"'
code=$(curl -s -o "$tmp/v" -w '%{http_code}' "${AUTH[@]}" "$URL/v1/audio/voices")
check "GET /v1/audio/voices: the model's voices" '[ "$code" = 200 ] && [ "$(python3 -c "import json,sys; print(chr(10).join(json.load(open(sys.argv[1]))[\"voices\"]))" "$tmp/v")" = "$VOICES" ]'

# --- every format: whole, streamed (audio), SSE ---------------------------
for fmt in wav pcm flac mp3 opus; do
    case $fmt in wav) ct=audio/wav ;; pcm) ct=audio/pcm ;; flac) ct=audio/flac ;; mp3) ct=audio/mpeg ;; opus) ct=audio/ogg ;; esac
    body="{\"model\":\"tts-1\",\"input\":\"$TEXT\",\"voice\":\"$V1\",\"response_format\":\"$fmt\"}"
    code=$(post "$tmp/a.$fmt" "$body" "${AUTH[@]}")
    check "$fmt: 200, Content-Type $ct" '[ "$code" = 200 ] && [ "$(ctype "$tmp/a.$fmt")" = "$ct" ]'
    check "$fmt: chunked transfer" 'grep -qi "^transfer-encoding: chunked" "$tmp/a.$fmt.h"'
    bodys="{\"model\":\"voxtral-4b-tts\",\"input\":\"$TEXT\",\"voice\":\"$(echo "$V1" | tr a-z A-Z)\",\"response_format\":\"$fmt\",\"stream_format\":\"audio\",\"speed\":1.0}"
    code=$(post "$tmp/s.$fmt" "$bodys" "${AUTH[@]}" -N)
    check "$fmt stream_format audio (voice in capitals): 200" '[ "$code" = 200 ]'
    bodye="{\"model\":\"gpt-4o-mini-tts\",\"input\":\"$TEXT\",\"voice\":\"$V1\",\"response_format\":\"$fmt\",\"stream_format\":\"sse\"}"
    code=$(post "$tmp/e.$fmt" "$bodye" "${AUTH[@]}" -N)
    check "$fmt sse: 200, text/event-stream" '[ "$code" = 200 ] && [ "$(ctype "$tmp/e.$fmt")" = text/event-stream ]'
    check "$fmt sse: delta events then done, valid base64" 'sse_join "$tmp/e.$fmt" "$tmp/ej.$fmt"'
    if [ "$fmt" = opus ]; then
        # Ogg stream serial numbers are random: compare the decoded audio
        for f in a s ej; do
            out=$("$PROBE" "$tmp/$f.opus" 2>&1)
            check "opus ($f) decodes: 24000 Hz mono, as many samples as the WAV" 'echo "$out" | grep -q "rate=24000 channels=1" && [ "$(echo "$out" | sed -nE "s/.* n=([0-9]+) .*/\1/p")" = "$(( ($(stat -c %s "$tmp/cli.wav") - 44) / 2 ))" ]'
        done
    else
        check "$fmt: streamed and SSE bytes equal the whole response" 'cmp -s "$tmp/a.$fmt" "$tmp/s.$fmt" && cmp -s "$tmp/a.$fmt" "$tmp/ej.$fmt"'
    fi
done
check "wav: the command line's samples, streamed header (unknown length)" 'cmp -s <(tail -c +45 "$tmp/a.wav") <(tail -c +45 "$tmp/cli.wav") && [ "$(od -An -tu4 -j40 -N4 "$tmp/a.wav" | tr -d " ")" = 4294967295 ]'
check "pcm: exactly the WAV's samples, no header" 'cmp -s "$tmp/a.pcm" <(tail -c +45 "$tmp/cli.wav")'
out=$("$PROBE" "$tmp/a.flac" 2>&1); ref=$("$PROBE" "$tmp/cli.flac" 2>&1)
check "flac decodes to the command line's audio" 'echo "$out" | grep -q "format=flac" && [ "$(echo "$out" | sed "s/frames=[0-9]* //")" = "$(echo "$ref" | sed "s/frames=[0-9]* //")" ]'
out=$("$PROBE" "$tmp/a.mp3" 2>&1)
n=$(echo "$out" | sed -nE 's/.* n=([0-9]+) .*/\1/p'); nw=$(( ($(stat -c %s "$tmp/cli.wav") - 44) / 2 ))
check "mp3 decodes: 24000 Hz mono, the WAV's length within 3 frames" 'echo "$out" | grep -q "rate=24000 channels=1 .*format=mp3" && [ "$n" -ge "$nw" ] && [ "$n" -le $((nw + 3 * 1152)) ]'
code=$(post "$tmp/d.mp3" "{\"input\":\"$TEXT\",\"voice\":\"$V1\"}" "${AUTH[@]}")
check "defaults: response_format mp3, model optional" '[ "$code" = 200 ] && [ "$(ctype "$tmp/d.mp3")" = audio/mpeg ] && cmp -s "$tmp/d.mp3" "$tmp/a.mp3"'

# --- bad requests ---------------------------------------------------------
err() { # name, status, param, code, curl args...
    local name=$1 want=$2 param=$3 ecode=$4; shift 4
    local got; got=$(curl -s -o "$tmp/err" -w '%{http_code}' "$@")
    check "$name: $want, JSON error (param $param, code $ecode)" '[ "$got" = "$want" ] && is_error "$tmp/err" "$param" "$ecode"'
}
S="$URL/v1/audio/speech"
err "malformed JSON" 400 - invalid_json "${AUTH[@]}" -d '{"input": "hi",' "$S"
err "a JSON array" 400 - invalid_json "${AUTH[@]}" -d '["hi"]' "$S"
err "empty input" 400 input empty_input "${AUTH[@]}" -d '{"input":"  ","voice":"'"$V1"'"}' "$S"
err "missing input" 400 input missing_required_parameter "${AUTH[@]}" -d '{"voice":"'"$V1"'"}' "$S"
err "input not a string" 400 input invalid_type "${AUTH[@]}" -d '{"input":5}' "$S"
printf '{"input":"caf\xe9 \xff"}' > "$tmp/badutf8"
err "input not UTF-8 (refused by the engine)" 400 input invalid_input "${AUTH[@]}" --data-binary @"$tmp/badutf8" "$S"
check "the UTF-8 message says so" 'grep -qi "utf-8" "$tmp/err"'
err "input over --max-input" 400 input string_above_max_length "${AUTH[@]}" -d "{\"input\":\"$(head -c 201 /dev/zero | tr '\0' x)\"}" "$S"
check "the --max-input message names the limit" 'grep -q "200" "$tmp/err"'
err "unknown voice" 400 voice invalid_voice "${AUTH[@]}" -d '{"input":"hi","voice":"alloy"}' "$S"
check "the unknown-voice message lists the voices" 'grep -q "$V2" "$tmp/err"'
err "unknown response_format" 400 response_format invalid_response_format "${AUTH[@]}" -d '{"input":"hi","response_format":"ogg"}' "$S"
err "aac" 400 response_format unsupported_response_format "${AUTH[@]}" -d '{"input":"hi","response_format":"aac"}' "$S"
err "speed 1.5" 400 speed unsupported_speed "${AUTH[@]}" -d '{"input":"hi","speed":1.5}' "$S"
check "the speed message says it is not supported" 'grep -q "speed is not supported" "$tmp/err"'
err "speed a string" 400 speed invalid_type "${AUTH[@]}" -d '{"input":"hi","speed":"fast"}' "$S"
err "unknown stream_format" 400 stream_format invalid_stream_format "${AUTH[@]}" -d '{"input":"hi","stream_format":"ws"}' "$S"
err "unknown model" 400 model model_not_found "${AUTH[@]}" -d '{"input":"hi","model":"whisper-1"}' "$S"
err "instructions" 400 instructions unsupported_parameter "${AUTH[@]}" -d '{"input":"hi","instructions":"whisper"}' "$S"
head -c 5000 /dev/zero | tr '\0' ' ' > "$tmp/big"
err "body over --max-body (Content-Length)" 413 - request_too_large "${AUTH[@]}" --data-binary @"$tmp/big" "$S"
err "body over --max-body (chunked)" 413 - request_too_large "${AUTH[@]}" -H "Transfer-Encoding: chunked" --data-binary @"$tmp/big" "$S"
err "no API key" 401 - invalid_api_key -d '{"input":"hi"}' "$S"
err "wrong API key" 401 - invalid_api_key -H "Authorization: Bearer wrong" -d '{"input":"hi"}' "$S"
err "wrong API key on /v1/models" 401 - invalid_api_key -H "Authorization: Bearer sekri" "$URL/v1/models"
err "GET on the speech endpoint" 405 - method_not_allowed "${AUTH[@]}" "$S"
err "POST on /v1/models" 405 - method_not_allowed "${AUTH[@]}" -d x "$URL/v1/models"
err "unknown path" 404 - not_found "${AUTH[@]}" "$URL/v1/nothing"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")
check "the server is healthy after the bad requests" '[ "$code" = 200 ]'

# --- concurrent requests: each the same bytes as alone --------------------
i=0
for v in "$V1" "$V2" "$V3" "$V1" "$V2" "$V3"; do
    i=$((i+1))
    post "$tmp/seq$i.wav" "{\"input\":\"Sentence number $i for the batch.\",\"voice\":\"$v\",\"response_format\":\"wav\"}" "${AUTH[@]}" > "$tmp/seq$i.code"
done
i=0; par=""
for v in "$V1" "$V2" "$V3" "$V1" "$V2" "$V3"; do
    i=$((i+1))
    post "$tmp/par$i.wav" "{\"input\":\"Sentence number $i for the batch.\",\"voice\":\"$v\",\"response_format\":\"wav\"}" "${AUTH[@]}" > "$tmp/par$i.code" &
    par="$par $!"
done
wait $par
same=0; ok=0
for i in 1 2 3 4 5 6; do
    [ "$(cat "$tmp/par$i.code")" = 200 ] && ok=$((ok+1))
    cmp -s "$tmp/seq$i.wav" "$tmp/par$i.wav" && [ -s "$tmp/seq$i.wav" ] && same=$((same+1))
done
check "6 concurrent requests: all 200" '[ $ok = 6 ]'
check "6 concurrent requests: each byte-identical to the request alone" '[ $same = 6 ]'
metrics=$(curl -s "$URL/metrics")
for m in voxtts_http_requests_total voxtts_errors_total voxtts_queue_depth voxtts_frames_per_second voxtts_rtf voxtts_ttfa_seconds_bucket voxtts_frames_total; do
    check "/metrics has $m" 'echo "$metrics" | grep -q "^$m"'
done
n401=$(echo "$metrics" | sed -nE 's/^voxtts_http_requests_total\{code="401"\} ([0-9]+)/\1/p')
n413=$(echo "$metrics" | sed -nE 's/^voxtts_http_requests_total\{code="413"\} ([0-9]+)/\1/p')
nttfa=$(echo "$metrics" | sed -nE 's/^voxtts_ttfa_seconds_count ([0-9]+)/\1/p')
check "/metrics counts requests by status (3 x 401, 2 x 413)" '[ "$n401" = 3 ] && [ "$n413" = 2 ]'
check "/metrics TTFA histogram counts the syntheses" '[ "$nttfa" -ge 27 ]'

# --- the official openai npm package --------------------------------------
mkdir -p "$tmp/npm" "$tmp/js"
(cd "$tmp/npm" && timeout 180 npm install --silent --no-audit --no-fund openai > "$tmp/npm.log" 2>&1); rc=$?
check "npm install openai" '[ $rc -eq 0 ] && [ -d "$tmp/npm/node_modules/openai" ]'
NODE_PATH="$tmp/npm/node_modules" timeout 120 node tests/server/openai_client.cjs "$URL/v1" sekrit "$V1" "$tmp/js" > "$tmp/js.out" 2>&1; rc=$?
check "openai client ran every format" '[ $rc -eq 0 ] && [ "$(grep -c "^ok " "$tmp/js.out")" = 15 ]' || cat "$tmp/js.out"
check "openai client: an unknown voice raises a 400 BadRequestError (param voice)" 'grep -q "^error 400 voice invalid_voice" "$tmp/js.out"'
for fmt in wav pcm flac mp3 opus; do
    check "openai client $fmt: whole, streamed and SSE non-empty" '[ -s "$tmp/js/whole.$fmt" ] && [ -s "$tmp/js/stream.$fmt" ] && [ -s "$tmp/js/sse.$fmt" ]'
    if [ "$fmt" != opus ]; then
        check "openai client $fmt: the three readings are the same bytes" 'cmp -s "$tmp/js/whole.$fmt" "$tmp/js/stream.$fmt" && cmp -s "$tmp/js/whole.$fmt" "$tmp/js/sse.$fmt"'
    fi
    if [ "$fmt" != pcm ]; then
        check "openai client $fmt: decodes at 24000 Hz" '"$PROBE" "$tmp/js/whole.$fmt" | grep -q "rate=24000 channels=1" && "$PROBE" "$tmp/js/sse.$fmt" | grep -q "rate=24000"'
    fi
done
check "openai client: several chunks while streaming" '[ "$(sed -nE "s/^ok wav stream [0-9]+ ([0-9]+)$/\1/p" "$tmp/js.out")" -ge 2 ]'

stop_server "$MAIN"; code=$STOP_RC
check "main server: SIGTERM, exit 0" '[ "$code" = 0 ]'

# --- 429 past the queue limit, the timeout, SIGTERM draining --------------
# slow_client.py reads its ~470 kB WAV at 150 kB/s through a small receive
# buffer: the request stays in flight for about 3 s.
LONG="$(printf 'A long sentence to keep the stream busy. %.0s' 1 2 3)"
SLOW=tests/server/slow_client.py
start_server q --batch 1 --max-queue 0
pids="$pids $SRV_PID"
Q=$SRV_PID; URL="http://127.0.0.1:$SRV_PORT"
python3 "$SLOW" "$SRV_PORT" "{\"input\":\"$LONG\",\"response_format\":\"wav\"}" "$tmp/slow.wav" > "$tmp/slow.out" &
slow=$!
sleep 0.7
inflight=$(curl -s "$URL/metrics" | sed -nE 's/^voxtts_in_flight ([0-9]+)/\1/p')
code=$(post "$tmp/q" '{"input":"hi"}')
check "429 past --batch 1 --max-queue 0 (1 in flight: $inflight)" '[ "$inflight" = 1 ] && [ "$code" = 429 ] && is_error "$tmp/q" - queue_full'
check "the 429 error is a rate_limit_error" 'grep -q rate_limit_error "$tmp/q"'
# SIGTERM while the slow client is still reading: it gets every byte, then exit 0
kill -TERM "$Q"
sleep 0.3
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/health")
check "after SIGTERM no new connection is accepted" '[ "$code" = 000 ]'
check "after SIGTERM the server waits for the request in flight" 'kill -0 "$Q" 2>/dev/null'
wait "$slow"
wait "$Q"; qrc=$?
check "SIGTERM drains: the request in flight completes (200, whole chunked body)" '[ "$(cat "$tmp/slow.out")" = "200 1" ]'
size=$(stat -c %s "$tmp/slow.wav")
check "SIGTERM drains: its WAV is whole ($size bytes)" '"$PROBE" "$tmp/slow.wav" > /dev/null 2>&1 && [ "$size" -gt 200000 ] && [ $(( (size - 44) % 3840 )) = 0 ]'
check "SIGTERM drains: then exit 0" '[ "$qrc" = 0 ] && grep -q "drained" "$tmp/q.log"'

start_server t --timeout 1
pids="$pids $SRV_PID"
T=$SRV_PID; URL="http://127.0.0.1:$SRV_PORT"
out=$(python3 "$SLOW" "$SRV_PORT" "{\"input\":\"$LONG\",\"response_format\":\"wav\"}" "$tmp/to.wav" 50000)
check "--timeout 1: a stream still going after 1 s is cut ($out, $(stat -c %s "$tmp/to.wav") bytes)" '[ "$out" = "200 0" ] && [ "$(stat -c %s "$tmp/to.wav")" -lt 400000 ]'
code=$(post "$tmp/t2" '{"input":"hi","response_format":"pcm"}')
check "--timeout 1: the server goes on serving" '[ "$code" = 200 ] && [ -s "$tmp/t2" ]'
stop_server "$T"; code=$STOP_RC
check "timeout server: exit 0" '[ "$code" = 0 ]'

# --- the API key from the environment -------------------------------------
VOXTTS_API_KEY=envkey start_server env
pids="$pids $SRV_PID"
E=$SRV_PID; URL="http://127.0.0.1:$SRV_PORT"
c1=$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/models")
c2=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer envkey" "$URL/v1/models")
check "VOXTTS_API_KEY: 401 without, 200 with" '[ "$c1" = 401 ] && [ "$c2" = 200 ]'
stop_server "$E"

# --- a voice of one's own from the voices directory ------------------------
mkdir -p "$tmp/voices"
"$VOX" -m "$MODEL" -q --max-frames 16 -o "$tmp/ownref.wav" "Some speech to make a voice from." 2>/dev/null
"$VOX" clone -m "$MODEL" --encoder "$MODEL/encoder.safetensors" --audio "$tmp/ownref.wav" --name mine \
    --voices-dir "$tmp/voices" -q 2>/dev/null
check "fixture: a cloned voice in the voices directory" '[ -s "$tmp/voices/mine.voxv" ]'
if start_server own --voices-dir "$tmp/voices"; then
    OWN=$SRV_PID
    URL="http://127.0.0.1:$SRV_PORT"
    curl -s "$URL/v1/audio/voices" > "$tmp/own_voices.json"
    check "GET /v1/audio/voices lists the voice of one's own" 'grep -q "\"mine\"" "$tmp/own_voices.json"'
    code=$(curl -s -o "$tmp/own.wav" -w '%{http_code}' "$URL/v1/audio/speech" \
        -d '{"input":"Spoken in my own voice.","voice":"mine","response_format":"wav"}')
    "$VOX" -m "$MODEL" -q -v "$tmp/voices/mine.voxv" -o "$tmp/own_cli.wav" "Spoken in my own voice." 2>/dev/null
    check "synthesis with it over HTTP equals the CLI's -v FILE (HTTP $code)" '[ "$code" = 200 ] && cmp -s <(tail -c +45 "$tmp/own.wav") <(tail -c +45 "$tmp/own_cli.wav") && [ $(stat -c %s "$tmp/own.wav") -gt 1000 ]'
    stop_server "$OWN"
fi

# --- a short load test, and nginx in front of two instances ---------------
SECONDS_RUN=${LOAD_SECONDS:-10} tests/server/load.sh "$BUILD" > "$tmp/load.out" 2>&1; rc=$?
grep -E "^load: [0-9]+ clients|^load: RSS|FAIL" "$tmp/load.out"
check "load test ($(sed -nE 's/^load: ([0-9]+ passed, [0-9]+ failed)/\1/p' "$tmp/load.out"))" '[ $rc -eq 0 ]'

echo "server: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
