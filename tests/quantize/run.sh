#!/usr/bin/env bash
# run.sh BUILD_DIR — GGUF models and `voxtts quantize` (see tests/quantize/README.md).
#
#  1. tiny-a and tiny-b quantized to bf16 and f32 GGUF: every stage golden passes with
#     the GGUF as the model (tests/golden/run.sh with GOLDEN_MODEL_<ckpt>), and bf16
#     synthesis is byte-identical to the safetensors directory; f16, q8_0, q4_k and
#     best GGUFs load and synthesize; tokenizer and voices embedded or beside the file;
#     re-quantizing a GGUF.
#  2. Tolerances: a random checkpoint whose dimensions are multiples of 256
#     (tests/data/params_tiny_q.json, so q4_k really applies) is quantized, and the
#     prefill / decode / velocity / codec stages of each GGUF are compared with the
#     unquantized model: max|a-b| / max|b| within the documented bounds.
#  3. Errors: bad --type, bad component, missing input, unwritable output (clear
#     message, non-zero exit, no output file, no temporary left), and truncated or
#     foreign GGUF files given to `voxtts -m` and `voxtts debug tokenize -m`.
# Prints "quantize: N passed, M failed"; exit 1 on any failure.
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/../.."
VOX="$BUILD/voxtts"
NPYCMP="$BUILD/tools/npycmp"
MAKE_MODEL="$BUILD/tools/make_random_model"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
for exe in "$VOX" "$NPYCMP" "$MAKE_MODEL"; do
    [ -x "$exe" ] || { echo "quantize: $exe not built (run make)" >&2; exit 1; }
done
pass=0; fail=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/voxtts-quantize.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL quantize: $1"; [ -n "${VERBOSE:-}" ] && sed 's/^/     /' "$tmp/stderr" 2>/dev/null; fi; }
TEXT="Hello world, this is a test of the quantized model."

quant() { "$VOX" quantize -q "$@"; }
synth() { # model voice out.wav
    "$VOX" -m "$1" -v "$2" -o "$3" --max-frames 8 -q "$TEXT"
}
frames_ok() { # wav: RIFF with a whole number of 1920- or 480-sample frames
    local n; n=$(stat -c %s "$1" 2>/dev/null || echo 0)
    [ "$n" -gt 44 ] && [ $(( (n - 44) % 960 )) -eq 0 ]
}

# ---- 1. the tiny checkpoints --------------------------------------------------
for ck in tiny-a tiny-b; do
    M=tests/models/$ck
    VOICE=$("$VOX" -m "$M" --list-voices | head -n 1)
    synth "$M" "$VOICE" "$tmp/$ck-dir.wav"
    for t in bf16 f32 f16 q8_0 q4_k best; do
        quant "$M" "$tmp/$ck-$t.gguf" --type "$t"; rc=$?
        check "$ck: quantize --type $t exits 0" '[ $rc -eq 0 ] && [ -s "$tmp/$ck-$t.gguf" ]'
        synth "$tmp/$ck-$t.gguf" "$VOICE" "$tmp/$ck-$t.wav"; rc=$?
        check "$ck: $t GGUF synthesizes" '[ $rc -eq 0 ] && frames_ok "$tmp/$ck-$t.wav"'
    done
    check "$ck: bf16 GGUF gives byte-identical audio" 'cmp -s "$tmp/$ck-dir.wav" "$tmp/$ck-bf16.wav"'
    check "$ck: q4_k GGUF is smaller than the bf16 one" \
        '[ "$(stat -c %s "$tmp/$ck-q4_k.gguf")" -lt "$(stat -c %s "$tmp/$ck-bf16.gguf")" ]'
    check "$ck: GGUF lists the same voices" \
        '[ "$("$VOX" -m "$tmp/$ck-q8_0.gguf" --list-voices)" = "$("$VOX" -m "$M" --list-voices)" ]'
    check "$ck: debug tokenize reads the embedded tokenizer" \
        '[ "$("$VOX" debug tokenize -m "$tmp/$ck-q8_0.gguf" "$TEXT")" = "$("$VOX" debug tokenize -m "$M" "$TEXT")" ]'
done

# every stage golden with the GGUF as the model
for t in bf16 f32; do
    log=$tmp/golden-$t.log
    GOLDEN_MODEL_tiny_a="$tmp/tiny-a-$t.gguf" GOLDEN_MODEL_tiny_b="$tmp/tiny-b-$t.gguf" \
        tests/golden/run.sh "$BUILD" > "$log" 2>&1; rc=$?
    grep FAIL "$log" | sed 's/^/     /'
    echo "quantize: $t GGUF goldens: $(tail -n 1 "$log")"
    check "every stage golden passes on the $t GGUFs" '[ $rc -eq 0 ] && grep -q " 0 failed" "$log"'
done

# tokenizer and voices beside the file instead of inside it
M=tests/models/tiny-a
VOICE=$("$VOX" -m "$M" --list-voices | head -n 1)
mkdir -p "$tmp/bare/src" "$tmp/bare/run"
cp "$M/params.json" "$M/consolidated.safetensors" "$tmp/bare/src/"
quant "$tmp/bare/src" "$tmp/bare/run/m.gguf" --type bf16; rc=$?
check "quantize without tekken.json or voices" '[ $rc -eq 0 ]'
"$VOX" -m "$tmp/bare/run/m.gguf" -v "$VOICE" -o "$tmp/bare.wav" -q "Hi" 2> "$tmp/err"; rc=$?
check "no tokenizer anywhere: clear error" '[ $rc -ne 0 ] && grep -q "tekken.json" "$tmp/err" && grep -q "m.gguf" "$tmp/err"'
cp "$M/tekken.json" "$tmp/bare/run/"
"$VOX" -m "$tmp/bare/run/m.gguf" -v "$VOICE" -o "$tmp/bare.wav" -q "Hi" 2> "$tmp/err"; rc=$?
check "no voice anywhere: clear error naming the .pt" '[ $rc -ne 0 ] && grep -q "voice_embedding/$VOICE.pt" "$tmp/err"'
cp -r "$M/voice_embedding" "$tmp/bare/run/"
synth "$tmp/bare/run/m.gguf" "$VOICE" "$tmp/bare.wav"; rc=$?
check "tokenizer and voices beside the GGUF: identical audio" '[ $rc -eq 0 ] && cmp -s "$tmp/bare.wav" "$tmp/tiny-a-dir.wav"'
"$VOX" debug tokenize -m "$tmp/bare/run/m.gguf" "$TEXT" > "$tmp/ids"; rc=$?
check "debug tokenize with tekken.json beside the GGUF" '[ $rc -eq 0 ] && [ "$(cat "$tmp/ids")" = "$("$VOX" debug tokenize -m "$M" "$TEXT")" ]'

# re-quantizing a GGUF: from bf16 back to bf16 is lossless; a partial mix keeps the rest
quant "$tmp/tiny-a-bf16.gguf" "$tmp/re-bf16.gguf" --type bf16; rc=$?
synth "$tmp/re-bf16.gguf" "$VOICE" "$tmp/re-bf16.wav"
check "GGUF -> GGUF bf16: identical audio" '[ $rc -eq 0 ] && cmp -s "$tmp/re-bf16.wav" "$tmp/tiny-a-dir.wav"'
quant "$tmp/tiny-a-q8_0.gguf" "$tmp/re-mix.gguf" --type codec=f16; rc=$?
check "GGUF -> GGUF with a partial mix" '[ $rc -eq 0 ] && synth "$tmp/re-mix.gguf" "$VOICE" "$tmp/re-mix.wav"'
check "the partial mix keeps the input's types in voxtts.type_mix" \
    'grep -aq "backbone=Q8_0,acoustic=Q8_0,heads=Q8_0,codec=F16,embeddings=Q8_0" "$tmp/re-mix.gguf"'
"$VOX" quantize "$M" "$tmp/sum.gguf" --type best -t 1 > "$tmp/summary" 2>&1; rc=$?
check "summary lists components, types, sizes and time" \
    '[ $rc -eq 0 ] && grep -qE "^backbone +Q8_0" "$tmp/summary" && grep -qE "^total " "$tmp/summary" && grep -qE "^wrote .* bytes .* in [0-9.]+ s" "$tmp/summary"'
"$VOX" quantize "$M" "$tmp/dry.gguf" --type q8_0 --dry-run > /dev/null 2>&1; rc=$?
check "--dry-run writes nothing" '[ $rc -eq 0 ] && [ ! -e "$tmp/dry.gguf" ]'

# ---- 2. tolerances on a checkpoint where q4_k applies --------------------------
# Bounds on max|a-b| / max|b| against the unquantized (bf16) model: 1.6 to 3 times
# the largest value measured over model seeds 1..6 (tests/quantize/README.md).
Q=$tmp/tq
"$MAKE_MODEL" tests/data/params_tiny_q.json tests/models/tiny-a/tekken.json "$Q" alpha_female 5 > /dev/null; rc=$?
check "random 256-multiple checkpoint written" '[ $rc -eq 0 ]'
G=tests/golden/tiny-a
stages() { # model prefix
    "$VOX" debug prefill -m "$1" -v alpha_female --out "$2-prefill.npy" "$TEXT" &&
    "$VOX" debug decode -m "$1" -v alpha_female --codes "$G/decode_f3/codes.npy" --out "$2-decode.npy" "$TEXT" &&
    "$VOX" debug velocity -m "$1" --h "$tmp/ref-prefill.npy" --x "$G/velocity_t0/x.npy" --t 0.428571433 --out "$2-velocity.npy" &&
    "$VOX" debug codec -m "$1" --codes "$G/codec_f5/codes.npy" --out "$2-codec.npy"
}
stages "$Q" "$tmp/ref"; rc=$?
check "stages of the unquantized model run" '[ $rc -eq 0 ]'
#         type  prefill decode velocity codec
while read -r t tp td tv tc; do
    quant "$Q" "$tmp/tq-$t.gguf" --type "$t"; rc=$?
    check "tq: quantize --type $t" '[ $rc -eq 0 ]'
    if [ "$t" = q4_k ]; then
        check "q4_k really applies to the 256-multiple model" \
            '"$VOX" quantize "$Q" "$tmp/x.gguf" --type q4_k --dry-run | grep -qE "^backbone +Q4_K +14 "'
    fi
    stages "$tmp/tq-$t.gguf" "$tmp/$t"; rc=$?
    check "tq: $t stages run" '[ $rc -eq 0 ]'
    line="quantize: $t max rel err:"
    for s in prefill:$tp decode:$td velocity:$tv codec:$tc; do
        st=${s%%:*}; tol=${s#*:}
        res=$("$NPYCMP" "$tmp/ref-$st.npy" "$tmp/$t-$st.npy" "$tol" 2>&1); rc=$?
        line="$line $st $(echo "$res" | sed -nE 's/^rel err ([^ ]+).*/\1/p') (<= $tol)"
        check "tq: $t $st within $tol: $res" '[ $rc -eq 0 ]'
    done
    echo "$line"
done <<'EOF'
f16   1e-4 1e-4 1e-4 1e-4
q8_0  5e-2 5e-2 5e-2 3e-2
q4_k  0.6  0.6  0.3  0.15
best  0.5  0.5  0.3  3e-2
EOF

# ---- 3. errors -------------------------------------------------------------------
no_output() { # dir base: no OUT nor temporary beside it
    [ -z "$(ls "$1" | grep -F "$2")" ]
}
expect_fail() { # name, pattern, command...
    local name=$1 pat=$2; shift 2
    rm -rf "$tmp/e"; mkdir -p "$tmp/e"
    "$@" > "$tmp/stdout" 2> "$tmp/stderr"; local rc=$?
    check "$name: non-zero exit" '[ $rc -ne 0 ] && [ $rc -lt 128 ]'
    check "$name: message matches '$pat'" 'grep -qiE -- "$pat" "$tmp/stderr"'
    check "$name: no output file" 'no_output "$tmp/e" out.gguf'
}
expect_fail "unknown type" "unknown weight type 'q3_k'" "$VOX" quantize "$M" "$tmp/e/out.gguf" --type q3_k
expect_fail "unknown component" "unknown component 'decoder'" "$VOX" quantize "$M" "$tmp/e/out.gguf" --type decoder=q8_0
expect_fail "bad type in a list" "unknown weight type 'q9'" "$VOX" quantize "$M" "$tmp/e/out.gguf" --type backbone=q9
expect_fail "missing --type" "missing --type" "$VOX" quantize "$M" "$tmp/e/out.gguf"
expect_fail "missing input" "$tmp/nope" "$VOX" quantize "$tmp/nope" "$tmp/e/out.gguf" --type q8_0
mkdir -p "$tmp/nost" && cp "$M/params.json" "$M/tekken.json" "$tmp/nost/"
expect_fail "input without safetensors" "consolidated.safetensors" "$VOX" quantize "$tmp/nost" "$tmp/e/out.gguf" --type q8_0
expect_fail "unwritable output" "$tmp/e/no/dir/out.gguf" "$VOX" quantize "$M" "$tmp/e/no/dir/out.gguf" --type q8_0
expect_fail "output is a directory" "directory" "$VOX" quantize "$M" "$tmp" --type q8_0
cp "$M/params.json" "$tmp/bad"
expect_fail "input is not a model" "neither a model directory nor a GGUF" "$VOX" quantize "$tmp/bad" "$tmp/e/out.gguf" --type q8_0

# foreign and damaged GGUF files given to the engine
GOOD=$tmp/tiny-a-bf16.gguf
size=$(stat -c %s "$GOOD")
head -c $((size - 1000)) "$GOOD" > "$tmp/trunc-data.gguf"
head -c 300 "$GOOD" > "$tmp/trunc-header.gguf"
"$PY" - "$tmp" <<'EOF'
import struct, sys
out = sys.argv[1]
def s(x):
    b = x.encode()
    return struct.pack("<Q", len(b)) + b
def gguf(path, kvs):
    # one F32 tensor "x" of 8 values after the given metadata (GGUF v3, alignment 32)
    head = b"GGUF" + struct.pack("<IQQ", 3, 1, len(kvs))
    for k, t, v in kvs:
        head += s(k) + struct.pack("<I", t)
        head += s(v) if t == 8 else struct.pack("<I", v)
    head += s("x") + struct.pack("<IQIQ", 1, 8, 0, 0)
    head += b"\0" * (-len(head) % 32)
    open(path, "wb").write(head + struct.pack("<8f", *range(8)))
gguf(out + "/llama.gguf", [("general.architecture", 8, "llama")])
gguf(out + "/noarch.gguf", [("general.name", 8, "x")])
gguf(out + "/nover.gguf", [("general.architecture", 8, "voxtral_tts")])
gguf(out + "/v99.gguf", [("general.architecture", 8, "voxtral_tts"), ("voxtts.format_version", 4, 99)])
gguf(out + "/noparams.gguf", [("general.architecture", 8, "voxtral_tts"), ("voxtts.format_version", 4, 1)])
gguf(out + "/badparams.gguf", [("general.architecture", 8, "voxtral_tts"), ("voxtts.format_version", 4, 1),
                               ("voxtts.params_json", 8, '{"dim": 64,')])
gguf(out + "/notensors.gguf", [("general.architecture", 8, "voxtral_tts"), ("voxtts.format_version", 4, 1),
                               ("voxtts.params_json", 8, open("tests/models/tiny-a/params.json").read()),
                               ("voxtts.tekken_json", 8, open("tests/models/tiny-a/tekken.json").read())])
EOF
engine() { "$VOX" -m "$1" -v "$VOICE" -o "$tmp/e/out.wav" -q "Hi"; }
no_wav() { [ ! -e "$tmp/e/out.wav" ]; }
bad_model() { # name, file, pattern
    local name=$1 file=$2 pat=$3
    rm -rf "$tmp/e"; mkdir -p "$tmp/e"
    engine "$file" > /dev/null 2> "$tmp/stderr"; local rc=$?
    check "$name: non-zero exit" '[ $rc -ne 0 ] && [ $rc -lt 128 ]'
    check "$name: message names the file and matches '$pat'" \
        'grep -qF -- "$(basename "$file")" "$tmp/stderr" && grep -qiE -- "$pat" "$tmp/stderr"'
    check "$name: no output file" 'no_wav'
}
bad_model "GGUF truncated in the data" "$tmp/trunc-data.gguf" "outside|truncated|beyond|end of"
bad_model "GGUF truncated in the header" "$tmp/trunc-header.gguf" "truncated|end of|beyond|short|can hold"
bad_model "GGUF of another architecture" "$tmp/llama.gguf" "not a voxtts model.*general.architecture.*llama"
bad_model "GGUF without general.architecture" "$tmp/noarch.gguf" "not a voxtts model.*general.architecture"
bad_model "GGUF without voxtts.format_version" "$tmp/nover.gguf" "voxtts.format_version"
bad_model "GGUF of an unknown format version" "$tmp/v99.gguf" "voxtts.format_version.*99"
bad_model "GGUF without params.json" "$tmp/noparams.gguf" "voxtts.params_json"
bad_model "GGUF with a malformed params.json" "$tmp/badparams.gguf" "voxtts.params_json"
bad_model "GGUF without the weights" "$tmp/notensors.gguf" "tensor '.*' not found"
bad_model "a file that is not GGUF" "$tmp/bad" "neither a directory nor a GGUF"
"$VOX" debug tokenize -m "$tmp/llama.gguf" "Hi" > /dev/null 2> "$tmp/stderr"; rc=$?
check "debug tokenize on a foreign GGUF: clear error" '[ $rc -ne 0 ] && grep -q "not a voxtts model" "$tmp/stderr"'
expect_fail "re-quantize a foreign GGUF" "not a voxtts model" "$VOX" quantize "$tmp/llama.gguf" "$tmp/e/out.gguf" --type q8_0
expect_fail "re-quantize a truncated GGUF" "trunc-data.gguf" "$VOX" quantize "$tmp/trunc-data.gguf" "$tmp/e/out.gguf" --type q8_0

echo "quantize: $pass passed, $fail failed"
[ $fail -eq 0 ]
