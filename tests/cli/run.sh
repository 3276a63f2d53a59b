#!/usr/bin/env bash
# run.sh BUILD_DIR — the voxtts command end to end on the tiny checkpoint
# tests/models/tiny-a: WAV format and length, determinism, the ways of giving
# text and output, every output format (read back with tools/audio_probe), and
# every bad-input case (clear message, non-zero exit, no crash,
# no output file left behind).
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/../.."
VOX="$BUILD/voxtts"
EDIT="$BUILD/tools/st_edit"
MODEL=tests/models/tiny-a
pass=0; fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL cli: $1"; fi; }
u16() { od -An -tu2 -j"$2" -N2 "$1" | tr -d ' '; }
u32() { od -An -tu4 -j"$2" -N4 "$1" | tr -d ' '; }

ST=consolidated.safetensors
VOICE=$("$VOX" -m "$MODEL" --list-voices | head -n 1)
check "--list-voices lists the preset voices" '[ -n "$VOICE" ]'
NV=$("$VOX" -m "$MODEL" --list-voices | wc -l)
check "--list-voices prints every voice" '[ "$NV" -ge 2 ]'

# --- a real synthesis, checked byte by byte -------------------------------
"$VOX" -m "$MODEL" -v "$VOICE" -o "$tmp/a.wav" --max-frames 12 "Hello world." 2> "$tmp/err"; rc=$?
check "synthesis exits 0" '[ $rc -eq 0 ]'
frames=$(sed -nE 's/.*\(([0-9]+) frames.*/\1/p' "$tmp/err")
check "reports the frame count" '[ -n "$frames" ] && [ "$frames" -ge 1 ] && [ "$frames" -le 12 ]'
check "RIFF/WAVE header" '[ "$(head -c 4 "$tmp/a.wav")" = RIFF ] && [ "$(dd if="$tmp/a.wav" bs=1 skip=8 count=4 2>/dev/null)" = WAVE ]'
check "PCM, mono, 24000 Hz, 16-bit" '[ "$(u16 "$tmp/a.wav" 20)" = 1 ] && [ "$(u16 "$tmp/a.wav" 22)" = 1 ] && [ "$(u32 "$tmp/a.wav" 24)" = 24000 ] && [ "$(u16 "$tmp/a.wav" 34)" = 16 ]'
check "exactly 1920 samples per frame" '[ "$(u32 "$tmp/a.wav" 40)" = $((frames * 1920 * 2)) ] && [ "$(stat -c %s "$tmp/a.wav")" = $((44 + frames * 1920 * 2)) ]'
"$VOX" -m "$MODEL" -v "$VOICE" -o "$tmp/b.wav" --max-frames 12 "Hello world." 2>/dev/null
check "same seed gives identical bytes" 'cmp -s "$tmp/a.wav" "$tmp/b.wav"'
"$VOX" -m "$MODEL" -v "$VOICE" -o "$tmp/c.wav" --max-frames 12 --seed 7 "Hello world." 2>/dev/null
check "another seed gives other audio" '! cmp -s "$tmp/a.wav" "$tmp/c.wav"'
"$VOX" -m "$MODEL" -v "$VOICE" -o - --max-frames 12 "Hello world." > "$tmp/d.wav" 2>/dev/null
check "-o - writes the same WAV to stdout" 'cmp -s "$tmp/a.wav" "$tmp/d.wav"'
"$VOX" -m "$MODEL" -v "$VOICE" -o - --max-frames 12 "Hello world." 2>/dev/null | cat > "$tmp/p.wav"
check "-o - into a pipe streams: unknown-length sizes 0xFFFFFFFF" '[ "$(u32 "$tmp/p.wav" 4)" = 4294967295 ] && [ "$(u32 "$tmp/p.wav" 40)" = 4294967295 ]'
check "-o - into a pipe: same format and samples as the file" 'cmp -s <(head -c 4 "$tmp/p.wav"; tail -c +9 "$tmp/p.wav" | head -c 32) <(head -c 4 "$tmp/a.wav"; tail -c +9 "$tmp/a.wav" | head -c 32) && cmp -s <(tail -c +45 "$tmp/p.wav") <(tail -c +45 "$tmp/a.wav")'
printf 'Hello world.' > "$tmp/text.txt"
"$VOX" -m "$MODEL" -v "$VOICE" -o "$tmp/e.wav" --max-frames 12 -f "$tmp/text.txt" 2>/dev/null
check "-f FILE reads the text" 'cmp -s "$tmp/a.wav" "$tmp/e.wav"'
printf 'Hello world.' | "$VOX" -m "$MODEL" -v "$VOICE" -o "$tmp/f.wav" --max-frames 12 2>/dev/null
check "text from stdin" 'cmp -s "$tmp/a.wav" "$tmp/f.wav"'
VUP=$(echo "$VOICE" | tr a-z A-Z)
"$VOX" -m "$MODEL" -v "$VUP" -o "$tmp/g.wav" --max-frames 12 "Hello world." 2>/dev/null
check "voice names are case-insensitive" 'cmp -s "$tmp/a.wav" "$tmp/g.wav"'
"$VOX" -m "$MODEL" -v "$VOICE" -o "$tmp/h.wav" --max-frames 3 -- "-dash first" 2>/dev/null; rc=$?
check "-- lets text begin with a dash" '[ $rc -eq 0 ] && [ -s "$tmp/h.wav" ]'
"$VOX" --help > "$tmp/help" 2>&1; rc=$?
check "--help exits 0 and documents -v" '[ $rc -eq 0 ] && grep -q -- "--voice" "$tmp/help"'
"$VOX" debug tokenize -m "$MODEL" "Hello" > "$tmp/ids"; rc=$?
check "debug tokenize prints ids" '[ $rc -eq 0 ] && grep -qE "^[0-9]+( [0-9]+)*$" "$tmp/ids"'

# --- output formats: from the extension, --format, --float, --rate --------
PROBE="$BUILD/tools/audio_probe"
probe() { "$PROBE" "$@" 2>&1; }
field() { sed -nE "s/.*(^| )$1=([^ ]*).*/\2/p"; }
NS=$((frames * 1920))
WAVP=$(probe "$tmp/a.wav")
check "audio_probe reads the WAV: 24000 Hz, mono, s16, every sample" '[ "$(echo "$WAVP" | field rate)" = 24000 ] && [ "$(echo "$WAVP" | field channels)" = 1 ] && [ "$(echo "$WAVP" | field encoding)" = s16 ] && [ "$(echo "$WAVP" | field n)" = $NS ]'
WAVRMS=$(echo "$WAVP" | field rms)
for ext in pcm raw flac ogg opus mp3; do
    "$VOX" -m "$MODEL" -v "$VOICE" -o "$tmp/fmt.$ext" --max-frames 12 "Hello world." 2> "$tmp/err"; rc=$?
    check ".$ext: exits 0 and says so" '[ $rc -eq 0 ] && grep -q "$ext\|pcm" "$tmp/err" && [ -s "$tmp/fmt.$ext" ]'
    check ".$ext: no temporary file left" '[ -z "$(ls "$tmp" | grep -F "fmt.$ext.tmp")" ]'
done
check ".pcm: the WAV's samples without the header" 'cmp -s "$tmp/fmt.pcm" <(tail -c +45 "$tmp/a.wav")'
check ".raw is pcm too" 'cmp -s "$tmp/fmt.pcm" "$tmp/fmt.raw"'
P=$(probe "$tmp/fmt.flac")
check ".flac: flac, 24000 Hz, mono, the WAV's samples (same count and RMS)" '[ "$(echo "$P" | field format)" = flac ] && [ "$(echo "$P" | field rate)" = 24000 ] && [ "$(echo "$P" | field channels)" = 1 ] && [ "$(echo "$P" | field n)" = $NS ] && [ "$(echo "$P" | field rms)" = "$WAVRMS" ]'
near() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'; }
for ext in ogg opus mp3; do
    P=$(probe "$tmp/fmt.$ext")
    want=ogg/vorbis; [ $ext = opus ] && want=ogg/opus; [ $ext = mp3 ] && want=mp3
    check ".$ext: $want at 24000 Hz, mono, about as long and as loud as the WAV ($P)" '[ "$(echo "$P" | field format)" = $want ] && [ "$(echo "$P" | field rate)" = 24000 ] && [ "$(echo "$P" | field channels)" = 1 ] && near "$(echo "$P" | field n)" $NS 2 && near "$(echo "$P" | field rms)" "$WAVRMS" "$(awk -v r="$WAVRMS" "BEGIN{print r*0.25+0.002}")"'
done
check ".mp3: file(1) sees MPEG layer III" 'file -b "$tmp/fmt.mp3" | grep -qi "layer III"'
check ".ogg and .opus: Ogg streams" '[ "$(head -c 4 "$tmp/fmt.ogg")" = OggS ] && [ "$(head -c 4 "$tmp/fmt.opus")" = OggS ]'

"$VOX" -m "$MODEL" -v "$VOICE" -o "$tmp/float.wav" --float --max-frames 12 "Hello world." 2>/dev/null; rc=$?
P=$(probe "$tmp/float.wav")
check "--float: IEEE float WAV (format 3, 32 bits), every sample" '[ $rc -eq 0 ] && [ "$(u16 "$tmp/float.wav" 20)" = 3 ] && [ "$(u16 "$tmp/float.wav" 34)" = 32 ] && [ "$(echo "$P" | field encoding)" = f32 ] && [ "$(echo "$P" | field n)" = $NS ]'
"$VOX" -m "$MODEL" -v "$VOICE" -o "$tmp/r16.wav" --rate 16000 --max-frames 12 "Hello world." 2>/dev/null; rc=$?
P=$(probe "$tmp/r16.wav")
check "--rate 16000: a 16 kHz WAV, 2/3 of the samples" '[ $rc -eq 0 ] && [ "$(u32 "$tmp/r16.wav" 24)" = 16000 ] && near "$(echo "$P" | field n)" $((NS * 2 / 3)) 2'
"$VOX" -m "$MODEL" -v "$VOICE" -o "$tmp/r48.opus" --rate 48000 --max-frames 12 "Hello world." 2>/dev/null; rc=$?
P=$(probe "$tmp/r48.opus")
check "--rate 48000 .opus" '[ $rc -eq 0 ] && [ "$(echo "$P" | field rate)" = 48000 ] && near "$(echo "$P" | field n)" $((NS * 2)) 4'
"$VOX" -m "$MODEL" -v "$VOICE" -o "$tmp/over.wav" --format flac --max-frames 12 "Hello world." 2>/dev/null; rc=$?
check "--format flac overrides the .wav extension" '[ $rc -eq 0 ] && [ "$(probe "$tmp/over.wav" | field format)" = flac ]'
"$VOX" -m "$MODEL" -v "$VOICE" -o - --format pcm --max-frames 12 "Hello world." 2>/dev/null | cat > "$tmp/p.pcm"
check "-o - --format pcm streams the same samples" 'cmp -s "$tmp/p.pcm" "$tmp/fmt.pcm"'
for f in flac ogg opus mp3; do
    "$VOX" -m "$MODEL" -v "$VOICE" -o - --format $f --max-frames 12 "Hello world." 2>/dev/null | cat > "$tmp/p.$f"
    P=$(probe "$tmp/p.$f")
    tol=2; [ $f = mp3 ] && tol=2400   # a stream has no LAME tag: the encoder delay stays
    check "-o - --format $f into a pipe: a readable stream ($P)" '[ "$(echo "$P" | field rate)" = 24000 ] && near "$(echo "$P" | field n)" $NS $tol'
done
check "-o - --format flac into a pipe: the same samples as the file" '[ "$(probe "$tmp/p.flac" | field rms)" = "$WAVRMS" ]'

expect_no_file() { # name, pattern, file, command...
    local name=$1 pat=$2 out=$3; shift 3
    rm -f "$out"
    "$@" > "$tmp/stdout" 2> "$tmp/stderr"; local rc=$?
    check "$name: non-zero exit" '[ $rc -ne 0 ] && [ $rc -lt 128 ]'
    check "$name: message matches '$pat'" 'grep -qiE -- "$pat" "$tmp/stderr"'
    check "$name: no output file" '[ ! -e "$out" ] && [ -z "$(ls "$tmp" | grep -F "$(basename "$out").")" ]'
}
# before the model is even loaded: a missing model would be the error otherwise
expect_no_file "unknown extension" "extension.*xyz|xyz.*extension" "$tmp/out.xyz" "$VOX" -m "$tmp/nope" -o "$tmp/out.xyz" "Hi"
expect_no_file "no extension" "extension" "$tmp/outnoext" "$VOX" -m "$tmp/nope" -o "$tmp/outnoext" "Hi"
expect_no_file "unknown --format" "unknown audio format 'aac'" "$tmp/out.wav" "$VOX" -m "$tmp/nope" --format aac -o "$tmp/out.wav" "Hi"
expect_no_file "--float with mp3" "float" "$tmp/out.mp3" "$VOX" -m "$tmp/nope" --float -o "$tmp/out.mp3" "Hi"
expect_no_file "opus at 44100 Hz" "opus.*48000" "$tmp/out.opus" "$VOX" -m "$tmp/nope" --rate 44100 -o "$tmp/out.opus" "Hi"
expect_no_file "bad --rate" "rate" "$tmp/out.wav" "$VOX" -m "$tmp/nope" --rate 5 -o "$tmp/out.wav" "Hi"
expect_no_file "failed synthesis into mp3" "empty" "$tmp/out.mp3" "$VOX" -m "$MODEL" -v "$VOICE" -o "$tmp/out.mp3" ""
expect_no_file "unwritable flac" "cannot write|No such" "$tmp/no/dir/out.flac" "$VOX" -m "$MODEL" -v "$VOICE" --max-frames 2 -o "$tmp/no/dir/out.flac" "Hi"
# interrupted: the temporary file of the streamed output is removed (50 flow
# steps a frame keep it busy long after the output is opened)
"$VOX" -m "$MODEL" -v "$VOICE" -o "$tmp/int.flac" --steps 50 --max-frames 60000 "Hello" 2> "$tmp/err" &
pid=$!
for i in $(seq 300); do ls "$tmp" | grep -q "int.flac.tmp" && break; sleep 0.1; done
sleep 0.5; kill -INT $pid; wait $pid; rc=$?
check "SIGINT during synthesis: exit 130, says so" '[ $rc -eq 130 ] && grep -q "interrupted" "$tmp/err"'
check "SIGINT during synthesis: no file, no temporary" '[ -z "$(ls "$tmp" | grep -F int.flac)" ]'

# --- bad input: message, non-zero exit, no output file ---------------------
expect_fail() { # name, pattern, command...
    local name=$1 pat=$2; shift 2
    rm -f "$tmp/out.wav"
    "$@" > "$tmp/stdout" 2> "$tmp/stderr"; local rc=$?
    check "$name: non-zero exit" '[ $rc -ne 0 ] && [ $rc -lt 128 ]'
    check "$name: message matches '$pat'" 'grep -qiE -- "$pat" "$tmp/stderr"'
    check "$name: no output file" '[ ! -e "$tmp/out.wav" ] && [ -z "$(ls "$tmp" | grep -E "^out\.wav.")" ]'
}
synth() { "$VOX" -m "$1" -v "$VOICE" -o "$tmp/out.wav" --max-frames 3 "${@:2}"; }
expect_fail "missing model dir" "params.json|no such|cannot" synth "$tmp/nope" "Hi"
expect_fail "unknown voice" "unknown voice.*$VOICE" "$VOX" -m "$MODEL" -v no_such_voice -o "$tmp/out.wav" "Hi"
expect_fail "empty text" "empty" synth "$MODEL" ""
expect_fail "whitespace-only text" "empty" synth "$MODEL" "   "
expect_fail "invalid UTF-8" "UTF-8" synth "$MODEL" "$(printf 'bad \xff\xfe text')"
expect_fail "bad --max-frames" "max-frames" synth "$MODEL" --max-frames zero "Hi"
expect_fail "missing text file" "cannot open" "$VOX" -m "$MODEL" -o "$tmp/out.wav" -f "$tmp/none.txt"
expect_fail "unwritable output" "cannot write|No such" "$VOX" -m "$MODEL" -v "$VOICE" --max-frames 2 -o "$tmp/no/dir/out.wav" "Hi"

# debug encode / voice-rows (codec encoder, docs/MODEL.md §7): inputs from the goldens
G=tests/golden/tiny-a
ENC="$MODEL/encoder.safetensors"
"$VOX" debug encode -m "$MODEL" --encoder "$ENC" --audio $G/encode_odd/audio.npy --out "$tmp/codes.npy" 2>/dev/null; rc=$?
check "debug encode writes codes" '[ $rc -eq 0 ] && cmp -s "$tmp/codes.npy" $G/encode_odd/expected.npy'
"$VOX" debug voice-rows -m "$MODEL" --codes "$tmp/codes.npy" --out "$tmp/rows.npy" 2>/dev/null; rc=$?
check "debug voice-rows writes rows" '[ $rc -eq 0 ] && [ -s "$tmp/rows.npy" ]'
# the encoder's tensors inside the checkpoint, and inside GGUFs made from it: found without --encoder
mkdir "$tmp/me"; cp -r "$MODEL/params.json" "$MODEL/tekken.json" "$MODEL/voice_embedding" "$tmp/me/"
"$EDIT" "$MODEL/$ST" "$tmp/me/$ST" merge "$ENC"
"$VOX" debug encode -m "$tmp/me" --audio $G/encode_odd/audio.npy --out "$tmp/codes2.npy" 2>/dev/null; rc=$?
check "encoder inside the checkpoint: same codes without --encoder" '[ $rc -eq 0 ] && cmp -s "$tmp/codes2.npy" $G/encode_odd/expected.npy'
"$VOX" quantize "$tmp/me" "$tmp/me.gguf" --type bf16 >/dev/null 2>&1
"$VOX" debug encode -m "$tmp/me.gguf" --audio $G/encode_odd/audio.npy --out "$tmp/codes3.npy" 2>/dev/null; rc=$?
check "encoder inside a bf16 GGUF: same codes without --encoder" '[ $rc -eq 0 ] && cmp -s "$tmp/codes3.npy" $G/encode_odd/expected.npy'
"$VOX" quantize "$tmp/me" "$tmp/me8.gguf" --type q8_0 >/dev/null 2>&1
"$VOX" debug encode -m "$tmp/me8.gguf" --audio $G/encode_odd/audio.npy --out "$tmp/codes4.npy" 2>/dev/null; rc=$?
check "encoder inside a q8_0 GGUF: codes of the same shape" '[ $rc -eq 0 ] && [ "$(stat -c %s "$tmp/codes4.npy")" = "$(stat -c %s $G/encode_odd/expected.npy)" ]'
"$EDIT" "$tmp/me/$ST" "$tmp/me/x.st" drop audio_tokenizer.encoder_blocks.2.layers.0.attention.wv.weight && mv "$tmp/me/x.st" "$tmp/me/$ST"
expect_fail "checkpoint with an incomplete encoder" "encoder_blocks.2.layers.0.attention.wv.weight" synth "$tmp/me" "Hi"
# an empty float32 .npy (shape (0,)), written by hand: v1.0 header padded to 128 bytes
hdr="{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }"
hpad=$((128 - 10 - ${#hdr} - 1))
{ printf '\223NUMPY\001\000'; printf "\\$(printf %03o $((hpad + ${#hdr} + 1)))\\000"; printf '%s' "$hdr"
  printf '%*s' $hpad ''; printf '\n'; } > "$tmp/empty.npy"
enc() { "$VOX" debug encode -m "$MODEL" --out "$tmp/out.wav" "$@"; }
expect_fail "encode: empty audio" "no samples" enc --encoder "$ENC" --audio "$tmp/empty.npy"
expect_fail "encode: 2-D audio" "1-D|dimensions" enc --encoder "$ENC" --audio $G/voice_rows_odd/expected.npy
expect_fail "encode: int32 audio" "float32" enc --encoder "$ENC" --audio $G/voice_rows_odd/codes.npy
expect_fail "encode: no --audio" "--audio" enc --encoder "$ENC"
expect_fail "encode: model without an encoder" "encoder" enc --audio $G/encode_odd/audio.npy
expect_fail "encode: --encoder without encoder tensors" "none of" enc --encoder "$MODEL/$ST" --audio $G/encode_odd/audio.npy
expect_fail "encode: --encoder missing" "nope.safetensors" enc --encoder "$tmp/nope.safetensors" --audio $G/encode_odd/audio.npy
"$EDIT" "$ENC" "$tmp/enc.safetensors" drop audio_tokenizer.encoder_blocks.5.conv.parametrizations.weight.original0
expect_fail "encode: --encoder lacking a tensor" "encoder_blocks.5.conv.parametrizations.weight.original0" enc --encoder "$tmp/enc.safetensors" --audio $G/encode_odd/audio.npy
"$EDIT" "$ENC" "$tmp/enc.safetensors" transpose audio_tokenizer.encoder_blocks.0.layers.1.feed_forward.w1.weight
expect_fail "encode: --encoder with a misshapen tensor" "encoder_blocks.0.layers.1.feed_forward.w1.weight" enc --encoder "$tmp/enc.safetensors" --audio $G/encode_odd/audio.npy
vrows() { "$VOX" debug voice-rows -m "$MODEL" --out "$tmp/out.wav" "$@"; }
expect_fail "voice-rows: codes of another model" "shape" vrows --codes tests/golden/tiny-b/voice_rows_odd/codes.npy
expect_fail "voice-rows: float codes" "int32" vrows --codes $G/encode_odd/audio.npy

broken() { rm -rf "$tmp/bm"; cp -r "$MODEL" "$tmp/bm"; }
T_NORM=norm.weight
T_WQ=layers.0.feed_forward.w1.weight
broken; head -c 6 "$MODEL/$ST" > "$tmp/bm/$ST"
expect_fail "safetensors truncated in the length" "$ST" synth "$tmp/bm" "Hi"
broken; head -c 200 "$MODEL/$ST" > "$tmp/bm/$ST"
expect_fail "safetensors truncated in the header" "$ST" synth "$tmp/bm" "Hi"
broken; head -c $(( $(stat -c %s "$MODEL/$ST") - 100 )) "$MODEL/$ST" > "$tmp/bm/$ST"
expect_fail "safetensors truncated in the data" "$ST" synth "$tmp/bm" "Hi"
broken; "$EDIT" "$MODEL/$ST" "$tmp/bm/$ST" offset "$T_NORM"
expect_fail "header offsets outside the file" "$T_NORM" synth "$tmp/bm" "Hi"
broken; "$EDIT" "$MODEL/$ST" "$tmp/bm/$ST" dtype "$T_WQ" I16
expect_fail "wrong dtype" "$T_WQ" synth "$tmp/bm" "Hi"
broken; "$EDIT" "$MODEL/$ST" "$tmp/bm/$ST" transpose "$T_WQ"
expect_fail "wrong shape" "$T_WQ.*shape|shape.*$T_WQ" synth "$tmp/bm" "Hi"
broken; "$EDIT" "$MODEL/$ST" "$tmp/bm/$ST" drop "$T_NORM"
expect_fail "missing tensor" "$T_NORM" synth "$tmp/bm" "Hi"
broken; printf '{"dim": 64, ' > "$tmp/bm/params.json"
expect_fail "malformed params.json" "params.json" synth "$tmp/bm" "Hi"
broken; printf '{"config": [' > "$tmp/bm/tekken.json"
expect_fail "malformed tekken.json" "tekken.json" synth "$tmp/bm" "Hi"
broken; pt="$tmp/bm/voice_embedding/$VOICE.pt"; head -c $(( $(stat -c %s "$pt") / 2 )) "$MODEL/voice_embedding/$VOICE.pt" > "$pt"
expect_fail "truncated .pt voice" "$VOICE.pt" synth "$tmp/bm" "Hi"
broken; pt="$tmp/bm/voice_embedding/$VOICE.pt"; printf 'PK\003\004garbage' > "$pt"
expect_fail "corrupt .pt voice" "$VOICE.pt" synth "$tmp/bm" "Hi"
broken; rm "$tmp/bm/voice_embedding/$VOICE.pt"
expect_fail "missing .pt voice" "$VOICE.pt" synth "$tmp/bm" "Hi"

# --- output paths that are not plain new files (src/base/atomic_file.h) ----
# a character device stays a device (as root, the old code turned /dev/null
# into a regular file); a device without an extension gets WAV like -o -
"$VOX" -m "$MODEL" -q -o /dev/null --max-frames 4 "Hi." 2> "$tmp/dn.err"; rc=$?
check "-o /dev/null works" '[ $rc -eq 0 ] && [ -c /dev/null ]'
"$VOX" -m "$MODEL" -q -o /dev/full --max-frames 4 "Hi." 2> "$tmp/df.err"; rc=$?
check "-o /dev/full fails with a clear error and stays a device" \
    '[ $rc -ne 0 ] && grep -q "/dev/full.*No space" "$tmp/df.err" && [ -c /dev/full ]'
# a FIFO is streamed into, not replaced
mkfifo "$tmp/pipe.wav"
cat "$tmp/pipe.wav" > "$tmp/from-pipe.wav" &
reader=$!
"$VOX" -m "$MODEL" -q -o "$tmp/pipe.wav" --max-frames 6 "Through a pipe." 2> "$tmp/fifo.err"; rc=$?
wait $reader
check "-o FIFO streams a WAV into it" '[ $rc -eq 0 ] && [ -p "$tmp/pipe.wav" ] && "$BUILD/tools/audio_probe" "$tmp/from-pipe.wav" | grep -q "format=wav"'
# a symlink is followed: its target replaced, the link kept
echo old > "$tmp/target.wav"
ln -s target.wav "$tmp/link.wav"
"$VOX" -m "$MODEL" -q -o "$tmp/link.wav" --max-frames 4 "Hi." 2>/dev/null; rc=$?
check "-o link.wav writes the link's target and keeps the link" \
    '[ $rc -eq 0 ] && [ -L "$tmp/link.wav" ] && [ "$(head -c 4 "$tmp/target.wav")" = RIFF ]'
# an existing file keeps its permissions
echo old > "$tmp/mode.wav"; chmod 600 "$tmp/mode.wav"
"$VOX" -m "$MODEL" -q -o "$tmp/mode.wav" --max-frames 4 "Hi." 2>/dev/null
check "a replaced output keeps its mode 600" '[ "$(stat -c %a "$tmp/mode.wav")" = 600 ] && [ "$(head -c 4 "$tmp/mode.wav")" = RIFF ]'
# a missing directory fails before any synthesis (no model work: fast)
start=$(date +%s%N)
"$VOX" -m "$MODEL" -q -o "$tmp/nodir/x.wav" --max-frames 200 --steps 50 "A long sentence that would take a while." 2> "$tmp/nd.err"; rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "-o nodir/x.wav fails at once (${ms} ms) naming the path" '[ $rc -ne 0 ] && grep -q "nodir" "$tmp/nd.err" && [ ! -e "$tmp/nodir" ] && [ $ms -lt 2000 ]'
check "-o DIR is refused" '! "$VOX" -m "$MODEL" -q -o "$tmp" --format wav "Hi." 2>/dev/null'

# --- more threads than CPUs: harmless (the pool does not spin then), same audio
"$VOX" -m "$MODEL" -q -t 64 --max-frames 6 -o "$tmp/t64.wav" "Many threads." 2>/dev/null; rc64=$?
"$VOX" -m "$MODEL" -q -t 2 --max-frames 6 -o "$tmp/t2.wav" "Many threads." 2>/dev/null
check "-t 64 on this machine works and gives the bytes of -t 2" '[ $rc64 -eq 0 ] && cmp -s "$tmp/t64.wav" "$tmp/t2.wav"'

echo "cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
