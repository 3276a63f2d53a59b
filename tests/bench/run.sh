#!/usr/bin/env bash
# run.sh BUILD_DIR — `voxtts bench` on small synthetic models (tests/data/
# params_bench_small.json: the official layout and voices at toy widths, 256 wide
# so that q4_k applies): for q8_0, best and bf16 the --json output is exactly one
# JSON object (parsed with node) with every required key, sane values
# (positive, efficiency in (0, 2), bytes read per frame below 8x the weights,
# the per-part bytes adding up, peak RSS above the weights) and weights that
# shrink from bf16 to q8_0 to best; the table form prints; a real model
# directory (tests/models/tiny-a) is benchmarked too; --batch 3 reports the batch,
# the audio of all three requests and per-step times three times the per-frame
# ones (the aggregate real-time factor); bad arguments fail with a
# clear message and exit status 2.  The full-size benchmark is not part of the
# suite (it needs 8 GB and minutes): see the README.
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/../.."
VOX="$BUILD/voxtts"
P=tests/data/params_bench_small.json
pass=0; fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL bench: $1"; fi; }

# check_json FILE TYPE FRAMES: prints nothing and exits 0 when the object is sane,
# else one line per problem.
check_json() {
    node -e '
const fs = require("fs");
const [file, type, frames] = process.argv.slice(1);
const text = fs.readFileSync(file, "utf8").trim();
const bad = [];
let o;
try { o = JSON.parse(text); } catch (e) { console.log("not one JSON object: " + e.message); process.exit(1); }
if (text.split("\n").length !== 1) bad.push("more than one line on stdout");
const num = ["rtf", "rtf_with_prefill", "ttfa_s", "prefill_s", "load_s", "peak_rss_bytes",
             "weight_bytes", "bytes_per_frame", "bandwidth_gbs", "floor_rtf", "efficiency",
             "audio_s", "total_s"];
for (const k of num)
    if (typeof o[k] !== "number" || !(o[k] > 0)) bad.push(k + " missing or not positive: " + o[k]);
for (const k of ["backbone", "acoustic", "codec", "total"])
    if (!o.ms_per_frame || typeof o.ms_per_frame[k] !== "number" || !(o.ms_per_frame[k] > 0))
        bad.push("ms_per_frame." + k + " missing or not positive");
for (const k of ["type", "kernels", "voice", "type_mix"])
    if (typeof o[k] !== "string" || !o[k]) bad.push(k + " missing");
if (o.type !== type) bad.push("type " + o.type + ", asked " + type);
if (o.frames !== Number(frames)) bad.push("frames " + o.frames);
if (!(Number.isInteger(o.threads) && o.threads >= 1)) bad.push("threads " + o.threads);
if (!(o.efficiency > 0 && o.efficiency < 2)) bad.push("efficiency " + o.efficiency);
if (!(Number.isInteger(o.bandwidth_samples) && o.bandwidth_samples >= 4))
    bad.push("bandwidth: median of " + o.bandwidth_samples + " passes (2 before, 2 after)");
if (!(o.bytes_per_frame < o.weight_bytes * 8)) bad.push("bytes_per_frame " + o.bytes_per_frame);
if (!(o.peak_rss_bytes > o.weight_bytes)) bad.push("peak RSS below the weights");
if (!(o.ttfa_s <= o.total_s)) bad.push("ttfa after the end");
const p = o.bytes_per_frame_parts || {};
const sum = ["backbone", "embeddings", "heads", "acoustic", "codec"].reduce((s, k) => s + (p[k] || 0), 0);
if (!(Math.abs(sum - o.bytes_per_frame) <= 1e-6 * o.bytes_per_frame + 5)) bad.push("parts sum " + sum);
if (!(p.acoustic > p.backbone)) bad.push("acoustic (7 steps) should read more than the backbone here");
const rtf = o.ms_per_frame.total / 80;
if (Math.abs(rtf - o.rtf) > 0.01 * o.rtf + 1e-3) bad.push("rtf " + o.rtf + " vs ms/frame " + rtf);
if (Math.abs(o.floor_rtf / o.rtf - o.efficiency) > 0.01 * o.efficiency + 1e-5) bad.push("efficiency != floor/rtf");
if (o.prompt_tokens !== 147 + 5 + 20 || o.text_tokens !== 20) bad.push("prompt " + o.prompt_tokens + "/" + o.text_tokens);
if (!(o.codec_calls >= 2)) bad.push("streaming: codec calls " + o.codec_calls);
for (const b of bad) console.log(b);
process.exit(bad.length ? 1 : 0);
' "$1" "$2" "$3"
}
field() { node -e 'const o = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(o[process.argv[2]]);' "$1" "$2"; }

declare -A WB
for type in q8_0 best bf16; do
    "$VOX" bench --synthetic --params "$P" --type "$type" --frames 3 --json --bandwidth-mib 64 \
        > "$tmp/$type.json" 2> "$tmp/$type.err"; rc=$?
    check "$type: exit 0" '[ $rc -eq 0 ]'
    check "$type: nothing on stderr with --json" '[ ! -s "$tmp/$type.err" ]'
    out=$(check_json "$tmp/$type.json" "$type" 3); rc=$?
    [ -n "$out" ] && echo "$out" | sed "s/^/  $type: /"
    check "$type: JSON has every key with sane values" '[ $rc -eq 0 ]'
    WB[$type]=$(field "$tmp/$type.json" weight_bytes 2>/dev/null || echo 0)
done
check "weights shrink bf16 > q8_0 > best" '[ "${WB[bf16]}" -gt "${WB[q8_0]}" ] && [ "${WB[q8_0]}" -gt "${WB[best]}" ]'
check "best is q4_k for the backbone" 'grep -q "\"type_mix\":\"backbone=Q4_K" "$tmp/best.json"'

"$VOX" bench --synthetic --params "$P" --type "backbone=q4_k,codec=bf16" --frames 2 --threads 1 \
    --prompt-tokens 7 --voice neutral_female --bandwidth-mib 16 > "$tmp/table" 2>&1; rc=$?
check "table form exits 0" '[ $rc -eq 0 ]'
check "table shows the real-time factor and efficiency" 'grep -q "real-time factor" "$tmp/table" && grep -q "efficiency" "$tmp/table"'
check "table honours --threads and --voice" 'grep -q "1 threads" "$tmp/table" && grep -q "neutral_female" "$tmp/table"'

"$VOX" bench -m tests/models/tiny-a --frames 4 --json --bandwidth-mib 16 > "$tmp/real.json" 2> "$tmp/real.err"; rc=$?
check "real model directory: exit 0" '[ $rc -eq 0 ]'
check "real model: one JSON object with rtf and a BF16 type mix" 'node -e "const o=JSON.parse(require(\"fs\").readFileSync(\"$tmp/real.json\",\"utf8\")); process.exit(o.rtf>0 && o.frames===4 && /BF16/.test(o.type_mix) ? 0 : 1)"'

# --batch: B requests advanced together; rtf is the aggregate (compute / all audio)
"$VOX" bench --synthetic --params "$P" --type best --frames 3 --batch 3 --json --bandwidth-mib 64 \
    > "$tmp/batch.json" 2> "$tmp/batch.err"; rc=$?
check "--batch 3: exit 0" '[ $rc -eq 0 ]'
out=$(check_json "$tmp/batch.json" best 3); rc=$?
[ -n "$out" ] && echo "$out" | sed "s/^/  batch: /"
check "--batch 3: JSON has every key with sane values" '[ $rc -eq 0 ]'
check "--batch 3: batch, audio of all requests, per-step times = batch x per-frame times" 'node -e "
const o = JSON.parse(require(\"fs\").readFileSync(\"$tmp/batch.json\", \"utf8\"));
const ok = o.batch === 3 && Math.abs(o.audio_s - 3 * 3 * 0.08) < 1e-6 && o.codec_frames === 9 &&
    Math.abs(o.ms_per_step.total - 3 * o.ms_per_frame.total) <= 0.01 * o.ms_per_step.total + 1e-3;
process.exit(ok ? 0 : 1)"'
check "--batch 1 is the default" 'grep -q "\"batch\":1," "$tmp/best.json"'

# --- bad arguments: exit 2 and a message naming the problem -------------------
expect_fail() { # name, pattern, args...
    local name=$1 pat=$2; shift 2
    "$VOX" bench "$@" > "$tmp/out" 2> "$tmp/err"; local rc=$?
    check "$name: exit status 1 or 2" '[ $rc -eq 2 ] || [ $rc -eq 1 ]'
    check "$name: message matches '$pat'" 'grep -qiE -- "$pat" "$tmp/err"'
    check "$name: no JSON on stdout" '[ ! -s "$tmp/out" ]'
}
expect_fail "neither --synthetic nor -m" "either --synthetic or -m" --type q8_0 --json
expect_fail "both --synthetic and -m" "not both" --synthetic --type q8_0 -m tests/models/tiny-a
expect_fail "--synthetic without --type" "needs --type" --synthetic --params "$P"
expect_fail "unknown type" "unknown weight type 'q3_x'" --synthetic --params "$P" --type q3_x
expect_fail "unknown component" "unknown component 'decoder'" --synthetic --params "$P" --type decoder=q8_0
expect_fail "--type with a real model" "only applies to --synthetic" -m tests/models/tiny-a --type q8_0
expect_fail "--frames 0" "--frames" --synthetic --params "$P" --type q8_0 --frames 0
expect_fail "--frames not a number" "--frames" --synthetic --params "$P" --type q8_0 --frames many
expect_fail "--threads negative" "--threads" --synthetic --params "$P" --type q8_0 --threads -1
expect_fail "unknown voice" "unknown voice 'nobody'.*casual_male" --synthetic --params "$P" --type q8_0 --voice nobody
expect_fail "missing params file" "$tmp/none.json" --synthetic --params "$tmp/none.json" --type q8_0
expect_fail "missing model" "$tmp/nomodel" -m "$tmp/nomodel"
expect_fail "--batch 0" "--batch" --synthetic --params "$P" --type q8_0 --batch 0
expect_fail "stray argument" "unexpected argument 'extra'" --synthetic --type q8_0 extra
"$VOX" bench --help > "$tmp/help"; rc=$?
check "--help exits 0 and documents --json" '[ $rc -eq 0 ] && grep -q -- "--json" "$tmp/help"'

echo "bench: $pass passed, $fail failed"
[ $fail -eq 0 ]
