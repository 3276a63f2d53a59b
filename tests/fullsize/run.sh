#!/usr/bin/env bash
# run.sh BUILD_DIR — a full-size checkpoint (the official params.json: 26 layers of
# 3072, 8 GB of BF16 random weights) written in the official layout, loaded by the
# real loaders and used to generate a few frames end to end, then a voice cloned by
# inversion (a 1.2 s clip, 3 steps: the machinery at full size, not the quality)
# and spoken with `-v FILE`.  Proves that nothing in the engine assumes small
# shapes.  Needs ~8.5 GB of free disk in $TMPDIR.
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/../.."
pass=0; fail=0
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL fullsize: $1"; fi; }
TEKKEN="$BUILD/tokenizer/tekken.json"   # Mistral's real ranks, made by tests/tokenizer/run.sh
[ -s "$TEKKEN" ] || tests/tokenizer/run.sh "$BUILD" > /dev/null 2>&1
dir=$(mktemp -d "${TMPDIR:-/tmp}/voxtts-full.XXXXXX")
trap 'rm -rf "$dir"' EXIT
t0=$(date +%s)
"$BUILD/tools/make_random_model" tests/data/params_official.json "$TEKKEN" "$dir" ar_male 7; rc=$?
t1=$(date +%s)
check "full-size random checkpoint written" '[ $rc -eq 0 ]'
size=$(stat -c %s "$dir/consolidated.safetensors" 2>/dev/null || echo 0)
echo "fullsize: wrote $size bytes in $((t1 - t0)) s"
check "checkpoint is ~8 GB" '[ "$size" -gt 7900000000 ]'
"$BUILD/voxtts" -m "$dir" -v ar_male --max-frames 3 -o "$dir/out.wav" "Hello." 2> "$dir/err"; rc=$?
t2=$(date +%s)
cat "$dir/err"
echo "fullsize: load + prefill + 3 frames + codec in $((t2 - t1)) s"
check "synthesis on full-size weights succeeds" '[ $rc -eq 0 ]'
check "3 frames of 1920 samples" '[ "$(stat -c %s "$dir/out.wav" 2>/dev/null)" = $((44 + 3 * 1920 * 2)) ]'
# clone at full size (inversion: the checkpoint has no encoder), then speak with it
"$BUILD/voxtts" -m "$dir" -v ar_male --max-frames 15 -q -o "$dir/ref.wav" "A reference clip." 2>/dev/null
t3=$(date +%s)
"$BUILD/voxtts" clone -m "$dir" --audio "$dir/ref.wav" --iters 3 -q -o "$dir/mine.voxv" 2> "$dir/cerr"; rc=$?
t4=$(date +%s)
cat "$dir/cerr"
echo "fullsize: clone of $(( ($(stat -c %s "$dir/ref.wav") - 44) / 2 )) samples, 3 inversion steps, in $((t4 - t3)) s"
check "clone by inversion on full-size weights" '[ $rc -eq 0 ] && [ -s "$dir/mine.voxv" ]'
"$BUILD/voxtts" -m "$dir" -v "$dir/mine.voxv" --max-frames 3 -q -o "$dir/own.wav" "Hello." 2>/dev/null; rc=$?
check "synthesis with the cloned voice on full-size weights" '[ $rc -eq 0 ] && [ "$(stat -c %s "$dir/own.wav" 2>/dev/null)" = $((44 + 3 * 1920 * 2)) ]'
echo "fullsize: $pass passed, $fail failed"
[ $fail -eq 0 ]
