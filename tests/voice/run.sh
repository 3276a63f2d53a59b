#!/usr/bin/env bash
# run.sh BUILD_DIR — voices of one's own on the command line, on the tiny
# checkpoints tests/models/tiny-a and tiny-b: `voxtts voice import` of int32 codes
# (.npy) and of an official-layout .pt, list, show, preview (the codes decoded to
# a WAV), export (.pt read back by PyTorch itself: python3-torch, equal to the
# bf16-rounded rows), rm; `-v` with a voice name, a voice file and a .pt (same
# audio as the voice it came from); presets win on a name clash; and every bad
# input (unknown name, corrupt or truncated voice file, wrong width for the
# model, missing arguments, preset names, bad names) fails with a message naming
# the culprit, a non-zero exit and no output file left behind.  Cloning: `voxtts
# clone` with the tiny encoder (tests/models/tiny-a/encoder.safetensors) and by
# inversion, `--codes-out`, and `--ref` (cloned once, then from the cache).
# Codes recovered from a .pt's rows (preview, export --codes-npy) on tiny-b.
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/../.."
VOX="$BUILD/voxtts"
MODEL=tests/models/tiny-a
MODEL_B=tests/models/tiny-b
PY=/usr/bin/python3
pass=0; fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL voice: $1"; fi; }
VD="$tmp/voices"
vv() { "$VOX" voice "$@" --voices-dir "$VD"; }

check "fixture: tiny-a" '[ -f "$MODEL/params.json" ] && [ -f "$MODEL_B/params.json" ]'
check "fixture: python3 with numpy and torch" '"$PY" -c "import numpy, torch" 2>/dev/null'
PRESET=$("$VOX" -m "$MODEL" --list-voices | head -n 1)

# int32 codes [6, 37], valid for tiny-a (semantic 2..65, acoustic 2..22)
"$PY" - "$tmp/codes.npy" <<'PYEOF'
import sys, numpy as np
c = np.zeros((6, 37), dtype=np.int32)
for f in range(6):
    for k in range(37):
        c[f, k] = 2 + (f * 7 + k * 3) % (64 if k == 0 else 21)
np.save(sys.argv[1], c)
PYEOF

# --- import, list, show -----------------------------------------------------
vv list > "$tmp/list0" 2>&1; rc=$?
check "list of a missing directory is empty, exit 0" '[ $rc -eq 0 ] && [ ! -s "$tmp/list0" ]'
vv import "$tmp/codes.npy" --name mine -m "$MODEL" 2> "$tmp/err"; rc=$?
check "import codes.npy exits 0" '[ $rc -eq 0 ] && [ -f "$VD/mine.voxv" ]'
check "voice file starts with VOXV" '[ "$(head -c 4 "$VD/mine.voxv")" = VOXV ]'
vv import "$MODEL/voice_embedding/$PRESET.pt" --name frompt 2> "$tmp/err"; rc=$?
check "import an official .pt" '[ $rc -eq 0 ] && [ -f "$VD/frompt.voxv" ]'
vv list > "$tmp/list" 2> "$tmp/err"; rc=$?
check "list exits 0" '[ $rc -eq 0 ]'
check "list shows both voices, sorted" '[ "$(awk "{print \$1}" "$tmp/list" | tr "\n" " ")" = "frompt mine " ]'
check "list shows method and frames" 'grep -qE "^mine +codes +6 frames" "$tmp/list" && grep -qE "^frompt +imported +0 frames" "$tmp/list"'
vv list -m "$MODEL" > "$tmp/listm" 2>&1
check "list -m adds the presets" 'grep -qE "^$PRESET +preset" "$tmp/listm" && grep -q "^mine " "$tmp/listm"'
vv show mine > "$tmp/show" 2>&1; rc=$?
check "show exits 0" '[ $rc -eq 0 ]'
check "show: name, method, frames, rows, tokens" 'grep -q "^name: *mine" "$tmp/show" && grep -q "^method: *codes" "$tmp/show" && grep -q "^frames (codes): *6" "$tmp/show" && grep -q "^rows: *7 x 64" "$tmp/show" && grep -q "^voice_num_audio_tokens: 7" "$tmp/show"'
FP=$(sed -nE 's/^model fingerprint: *([0-9a-f]{64})$/\1/p' "$tmp/show")
check "show: the model fingerprint" '[ ${#FP} -eq 64 ]'
"$VOX" voice show "$VD/mine.voxv" > "$tmp/show2" 2>&1
check "show FILE == show NAME" 'cmp -s "$tmp/show" "$tmp/show2"'

# --- preview -------------------------------------------------------------------
vv preview mine -m "$MODEL" -o "$tmp/prev.wav" 2> "$tmp/err"; rc=$?
check "preview exits 0" '[ $rc -eq 0 ]'
check "preview: 6 frames of 1920 samples, 16-bit" '[ "$(stat -c %s "$tmp/prev.wav")" = $((44 + 6 * 1920 * 2)) ] && [ "$(head -c 4 "$tmp/prev.wav")" = RIFF ]'

# --- export: .pt read by torch itself, equal to the bf16-rounded rows ------------
vv export mine --pt "$tmp/mine.pt" --rows-npy "$tmp/rows.npy" --codes-npy "$tmp/codes_back.npy" > "$tmp/exp" 2> "$tmp/err"; rc=$?
check "export exits 0" '[ $rc -eq 0 ] && [ -f "$tmp/mine.pt" ] && [ -f "$tmp/rows.npy" ]'
check "export prints voice_num_audio_tokens" 'grep -qF "voice_num_audio_tokens: {\"mine\": 7}" "$tmp/exp"'
"$PY" - "$tmp/mine.pt" "$tmp/rows.npy" "$tmp/codes.npy" "$tmp/codes_back.npy" > "$tmp/py" 2>&1 <<'PYEOF'
import sys, zipfile, numpy as np, torch
pt, rows, codes, back = sys.argv[1:5]
t = torch.load(pt, map_location="cpu")
r = torch.from_numpy(np.load(rows))
assert t.dtype == torch.bfloat16, t.dtype
assert tuple(t.shape) == (7, 64), t.shape
assert torch.equal(t, r.to(torch.bfloat16)), "rows differ"
assert not torch.equal(t.float(), r), "rows were not rounded (test too weak)"
z = zipfile.ZipFile(pt)
names = z.namelist()
assert all(n.startswith("voice_embed/") for n in names), names
for n in ("data.pkl", "data/0", "byteorder", "version", ".format_version", ".storage_alignment"):
    assert "voice_embed/" + n in names, n
assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
info = z.getinfo("voice_embed/data/0")
with open(pt, "rb") as f:
    f.seek(info.header_offset + 26)
    nl = int.from_bytes(f.read(2), "little"); xl = int.from_bytes(f.read(2), "little")
assert (info.header_offset + 30 + nl + xl) % 64 == 0, "data not 64-byte aligned"
assert np.array_equal(np.load(codes), np.load(back)), "codes differ"
print("torch ok")
PYEOF
check "torch.load reads the export: bf16 [7, 64] equal to the rounded rows, official layout" 'grep -q "torch ok" "$tmp/py" || { cat "$tmp/py"; false; }'

# --- synthesis with a voice of one's own --------------------------------------------
syn() { "$VOX" -m "$MODEL" --voices-dir "$VD" --max-frames 6 "$@" "Hello world." 2>> "$tmp/synerr"; }
syn -v mine -o "$tmp/a.wav"; rc=$?
check "-v NAME from the voices directory" '[ $rc -eq 0 ] && [ -s "$tmp/a.wav" ]'
syn -v "$VD/mine.voxv" -o "$tmp/b.wav"
check "-v FILE gives the same audio" 'cmp -s "$tmp/a.wav" "$tmp/b.wav"'
syn -v "$tmp/codes.npy" -o "$tmp/c.wav"
check "-v codes.npy gives the same audio" 'cmp -s "$tmp/a.wav" "$tmp/c.wav"'
syn -v "$PRESET" -o "$tmp/p1.wav"
syn -v frompt -o "$tmp/p2.wav"
check "a .pt imported as a voice speaks like the preset" 'cmp -s "$tmp/p1.wav" "$tmp/p2.wav"'
syn -v "$MODEL/voice_embedding/$PRESET.pt" -o "$tmp/p3.wav"
check "-v PRESET.pt speaks like the preset" 'cmp -s "$tmp/p1.wav" "$tmp/p3.wav"'
check "the voice changes the audio" '! cmp -s "$tmp/a.wav" "$tmp/p1.wav"'
vv export mine --pt "$tmp/mine2.pt" > /dev/null 2>&1
syn -v "$tmp/mine2.pt" -o "$tmp/d.wav"; rc=$?
check "-v exported.pt (bf16 rows) speaks" '[ $rc -eq 0 ] && [ -s "$tmp/d.wav" ]'
# presets win on a name clash
cp "$VD/mine.voxv" "$VD/$PRESET.voxv"
syn -v "$PRESET" -o "$tmp/p4.wav"
check "presets win over a voice file of the same name" 'cmp -s "$tmp/p1.wav" "$tmp/p4.wav"'
vv list -m "$MODEL" > "$tmp/listc" 2>&1
check "list marks the hidden voice" 'grep -q "^$PRESET .*hidden by the preset" "$tmp/listc"'
rm -f "$VD/$PRESET.voxv"

# --- rm -------------------------------------------------------------------------------
vv import "$tmp/codes.npy" --name gone -m "$MODEL" 2>/dev/null
vv rm gone; rc=$?
check "rm removes the voice" '[ $rc -eq 0 ] && [ ! -e "$VD/gone.voxv" ]'

# --- codes recovered from rows (tiny-b: 9 codebooks of dim 96) -------------------------
"$PY" -c "
import numpy as np
c = np.zeros((5, 9), dtype=np.int32)
for f in range(5):
    for k in range(9):
        c[f, k] = 2 + (f * 5 + k * 3) % (40 if k == 0 else 9)
np.save('$tmp/codes_b.npy', c)"
"$VOX" voice export "$tmp/codes_b.npy" -m "$MODEL_B" --pt "$tmp/b.pt" > /dev/null 2>&1
"$VOX" voice preview "$tmp/codes_b.npy" -m "$MODEL_B" -o "$tmp/b_codes.wav" 2> /dev/null
"$VOX" voice preview "$tmp/b.pt" -m "$MODEL_B" -o "$tmp/b_rows.wav" 2> "$tmp/err"; rc=$?
check "preview of a .pt (rows only) recovers its codes" '[ $rc -eq 0 ] && grep -q "codes recovered" "$tmp/err" && cmp -s "$tmp/b_codes.wav" "$tmp/b_rows.wav"'
"$VOX" voice export "$tmp/b.pt" -m "$MODEL_B" --codes-npy "$tmp/b_back.npy" > /dev/null 2>&1
"$PY" -c "import numpy as np, sys; sys.exit(0 if np.array_equal(np.load('$tmp/b_back.npy'), np.load('$tmp/codes_b.npy')) else 1)"
check "export --codes-npy of a .pt gives the codes back" '[ $? -eq 0 ]'

# --- cloning ---------------------------------------------------------------------------
ENC="$MODEL/encoder.safetensors"
check "fixture: tiny-a encoder weights" '[ -f "$ENC" ]'
# a reference of 18 frames (1.44 s: at least 1 s is required): the preview three times
"$PY" - "$tmp/prev.wav" "$tmp/clip.wav" <<'PYEOF'
import sys, struct
raw = open(sys.argv[1], 'rb').read()[44:] * 3
hdr = (b'RIFF' + struct.pack('<I', 36 + len(raw)) + b'WAVEfmt ' +
       struct.pack('<IHHIIHH', 16, 1, 1, 24000, 48000, 2, 16) + b'data' + struct.pack('<I', len(raw)))
open(sys.argv[2], 'wb').write(hdr + raw)
PYEOF
"$VOX" clone -m "$MODEL" --encoder "$ENC" --audio "$tmp/clip.wav" -o "$tmp/enc.voxv" --codes-out "$tmp/enc_codes.npy" 2> "$tmp/err"; rc=$?
check "clone with the encoder exits 0" '[ $rc -eq 0 ] && [ -f "$tmp/enc.voxv" ]'
"$VOX" voice show "$tmp/enc.voxv" > "$tmp/eshow" 2>&1
check "clone: method encoder, 18 frames, 19 rows, source recorded" 'grep -q "^method: *encoder" "$tmp/eshow" && grep -q "^frames (codes): *18" "$tmp/eshow" && grep -q "^rows: *19 x 64" "$tmp/eshow" && grep -q "^source: *clip.wav" "$tmp/eshow" && grep -q "^source sha256: *$(sha256sum "$tmp/clip.wav" | cut -c1-64)" "$tmp/eshow"'
check "clone -o names the voice after the file" 'grep -q "^name: *enc$" "$tmp/eshow"'
"$PY" -c "import numpy as np, sys; a = np.load('$tmp/enc_codes.npy'); sys.exit(0 if a.dtype == np.int32 and a.shape == (18, 37) and a.min() >= 2 else 1)"
check "--codes-out writes int32 [T, 37] real codes" '[ $? -eq 0 ]'
"$VOX" clone -m "$MODEL" --audio "$tmp/clip.wav" --name inv --iters 3 --voices-dir "$VD" -q 2> "$tmp/err"; rc=$?
check "clone by inversion into the voices directory" '[ $rc -eq 0 ] && [ -f "$VD/inv.voxv" ]'
vv show inv > "$tmp/ishow" 2>&1
check "inversion: method and 3 iterations recorded" 'grep -q "^method: *inversion" "$tmp/ishow" && grep -q "^iterations: *3" "$tmp/ishow"'
syn --encoder "$ENC" --ref "$tmp/clip.wav" -o "$tmp/r1.wav"; rc=$?
check "--ref clones and speaks" '[ $rc -eq 0 ] && [ -s "$tmp/r1.wav" ] && [ -n "$(ls "$VD/cache/"*-enc.voxv 2>/dev/null)" ]'
"$VOX" -m "$MODEL" --voices-dir "$VD" --max-frames 6 --encoder "$ENC" --ref "$tmp/clip.wav" -o "$tmp/r2.wav" "Hello world." 2> "$tmp/err"
check "--ref again uses the cached clone, same audio" 'grep -q "cached clone" "$tmp/err" && cmp -s "$tmp/r1.wav" "$tmp/r2.wav"'
syn -v "$tmp/enc.voxv" -o "$tmp/r3.wav"
check "the clone saved with -o speaks like --ref" 'cmp -s "$tmp/r1.wav" "$tmp/r3.wav"'
rm -f "$VD/inv.voxv"

# --- bad input: message, non-zero exit, no output file -----------------------------------
expect_fail() { # name, pattern, command...
    local name=$1 pat=$2; shift 2
    rm -f "$tmp/out.wav" "$tmp/out.pt"
    "$@" > "$tmp/stdout" 2> "$tmp/stderr"; local rc=$?
    check "$name: non-zero exit" '[ $rc -ne 0 ] && [ $rc -lt 128 ]'
    check "$name: message matches '$pat'" 'grep -qiE -- "$pat" "$tmp/stderr" || { cat "$tmp/stderr"; false; }'
    check "$name: no output file" '[ ! -e "$tmp/out.wav" ] && [ ! -e "$tmp/out.pt" ] && [ -z "$(ls "$tmp" | grep -E "^out\.(wav|pt)\.")" ]'
}
speak() { "$VOX" -m "$1" --voices-dir "$VD" -o "$tmp/out.wav" --max-frames 3 "${@:2}" "Hi."; }
expect_fail "unknown voice name" "unknown voice 'nobody'.*$PRESET.*mine" speak "$MODEL" -v nobody
expect_fail "missing voice file" "$tmp/none.voxv.*does not exist" speak "$MODEL" -v "$tmp/none.voxv"
head -c 100 "$VD/mine.voxv" > "$tmp/trunc.voxv"
expect_fail "truncated voice file" "$tmp/trunc.voxv.*truncated" speak "$MODEL" -v "$tmp/trunc.voxv"
cp "$VD/mine.voxv" "$tmp/flip.voxv"; printf '\x55' | dd of="$tmp/flip.voxv" bs=1 seek=600 conv=notrunc 2>/dev/null
expect_fail "corrupt voice file" "$tmp/flip.voxv.*checksum" speak "$MODEL" -v "$tmp/flip.voxv"
printf 'VOXW0000' > "$tmp/magic.voxv"
expect_fail "not a voice file" "magic|truncated" speak "$MODEL" -v "$tmp/magic.voxv"
expect_fail "rows of the wrong width for the model" "frompt.voxv.*dim" speak "$MODEL_B" -v "$VD/frompt.voxv"
expect_fail "codes for another codebook layout" "mine.voxv.*codes per frame" speak "$MODEL_B" -v "$VD/mine.voxv"
expect_fail "show an unknown name" "unknown voice 'nobody'" vv show nobody
expect_fail "show a corrupt file" "flip.voxv.*checksum" vv show "$tmp/flip.voxv"
expect_fail "preview rows that are no sums of code embeddings" "no codes.*not sums" vv preview frompt -m "$MODEL" -o "$tmp/out.wav"
expect_fail "preview without -o" "needs -o" vv preview mine -m "$MODEL"
expect_fail "export without --pt" "needs --pt" vv export mine
expect_fail "export an unknown voice" "unknown voice" vv export nobody --pt "$tmp/out.pt"
expect_fail "export into a missing directory" "$tmp/no/dir/x.pt" vv export mine --pt "$tmp/no/dir/x.pt"
expect_fail "rm an unknown voice" "no such voice" vv rm nobody
expect_fail "rm a path" "not a voice name" vv rm ../mine
expect_fail "import under a preset's name" "preset" vv import "$tmp/codes.npy" --name "$PRESET" -m "$MODEL"
expect_fail "import with a bad name" "not valid" vv import "$tmp/codes.npy" --name "a b" -m "$MODEL"
expect_fail "import codes without a model" "needs a model" vv import "$tmp/codes.npy" --name x
"$PY" -c "import numpy as np; np.save('$tmp/bad_codes.npy', np.full((3, 37), 99, dtype=np.int32))"
expect_fail "codes out of range" "bad_codes.npy.*out of range" speak "$MODEL" -v "$tmp/bad_codes.npy"
expect_fail "unknown voice command" "unknown voice command" vv frobnicate
expect_fail "-v and --ref together" "not both" speak "$MODEL" -v mine --ref "$tmp/codes.npy"
expect_fail "--ref of a missing file" "missing.wav" speak "$MODEL" --ref "$tmp/missing.wav"
expect_fail "clone without --audio" "needs --audio" "$VOX" clone -m "$MODEL" -o "$tmp/out.wav"
expect_fail "clone of a missing file" "missing.wav.*does not exist" "$VOX" clone -m "$MODEL" --audio "$tmp/missing.wav" -o "$tmp/out.wav"
expect_fail "clone with a bad --name" "invalid --name" "$VOX" clone -m "$MODEL" --audio "$tmp/prev.wav" --name "../x"
expect_fail "clone under a preset's name" "preset" "$VOX" clone -m "$MODEL" --audio "$tmp/prev.wav" --name "$PRESET" --voices-dir "$VD"
printf 'not audio at all' > "$tmp/notaudio.wav"
expect_fail "clone of a file that is not audio" "notaudio.wav" "$VOX" clone -m "$MODEL" --encoder "$ENC" --audio "$tmp/notaudio.wav" -o "$tmp/out.wav"
expect_fail "clone with a missing encoder file" "nope.safetensors" "$VOX" clone -m "$MODEL" --encoder "$tmp/nope.safetensors" --audio "$tmp/prev.wav" -o "$tmp/out.wav"
expect_fail "--encoder without --ref" "--ref" speak "$MODEL" --encoder "$ENC"
cp "$tmp/flip.voxv" "$VD/broken.voxv"
vv list > "$tmp/listb" 2> "$tmp/errb"; rc=$?
check "list with a corrupt voice: exit 1, the file named, the others listed" '[ $rc -eq 1 ] && grep -q "broken.voxv.*checksum" "$tmp/errb" && grep -q "^mine " "$tmp/listb" && grep -q "^frompt " "$tmp/listb"'
rm -f "$VD/broken.voxv"
check "no voice files were left by the failures" '[ "$(ls "$VD" | grep -v "^cache$" | tr "\n" " ")" = "frompt.voxv mine.voxv " ]'

# --- reference audio: formats and rates accepted, every bad case refused ----
"$PY" - "$tmp/ref" <<'PYEOF'
import struct, math, sys
d = sys.argv[1]
import os; os.makedirs(d, exist_ok=True)
def wav(path, samples, rate=24000, ch=1):
    data = b''.join(struct.pack('<f', s) for s in samples for _ in range(ch))
    hdr = (b'RIFF' + struct.pack('<I', 36 + len(data)) + b'WAVEfmt ' +
           struct.pack('<IHHIIHH', 16, 3, ch, rate, rate * 4 * ch, 4 * ch, 32) + b'data' + struct.pack('<I', len(data)))
    open(path, 'wb').write(hdr + data)
tone = lambda n, rate: [0.3 * math.sin(2 * math.pi * 220 * i / rate) * (1 + 0.5 * math.sin(i / 900)) for i in range(n)]
wav(d + '/silent.wav', [0.0] * 48000)
wav(d + '/short.wav', tone(12000, 24000))                       # 0.5 s
wav(d + '/long.wav', tone(8000 * 65, 8000), rate=8000)           # 65 s
wav(d + '/padded.wav', [0.0] * 24000 + tone(12000, 24000) + [0.0] * 24000)
wav(d + '/ok-44k-stereo.wav', tone(int(44100 * 1.3), 44100), rate=44100, ch=2)
open(d + '/text.wav', 'w').write('not audio at all')
open(d + '/empty.wav', 'w').write('')
PYEOF
clone_fails() { # name, file, pattern, extra args...
    local name=$1 f=$2 pat=$3; shift 3
    "$VOX" clone -m "$MODEL" --audio "$tmp/ref/$f" -o "$tmp/ref/out-$f.voxv" -q --iters 3 "$@" 2> "$tmp/ref/err"; local rc=$?
    check "clone: $name refused, naming the file and the problem" \
        '[ $rc -ne 0 ] && grep -q "$f" "$tmp/ref/err" && grep -Eq "$pat" "$tmp/ref/err" && [ ! -e "$tmp/ref/out-$f.voxv" ]'
}
clone_fails "silent audio" silent.wav "silent"
clone_fails "audio shorter than 1 s" short.wav "too short"
clone_fails "audio longer than 60 s" long.wav "too long"
clone_fails "a text file" text.wav "not an audio file"
clone_fails "an empty file" empty.wav "empty"
clone_fails "1 s of sound in 2 s of silence, trimmed" padded.wav "too short.*trimming" --trim-silence
clone_fails "a missing file" missing.wav "does not exist"
"$VOX" clone -m "$MODEL" --audio "$tmp/ref/padded.wav" -o "$tmp/ref/padded.voxv" -q --iters 3 2>/dev/null
check "clone: the same untrimmed (2.5 s) is accepted" '[ -s "$tmp/ref/padded.voxv" ]'
"$VOX" clone -m "$MODEL" --audio "$tmp/ref/ok-44k-stereo.wav" -o "$tmp/ref/stereo.voxv" -q --iters 3 --highpass 2>/dev/null
check "clone: float WAV, 44.1 kHz stereo, high-passed" '[ -s "$tmp/ref/stereo.voxv" ]'
for fmt in flac ogg mp3 opus; do
    rate=48000; [ $fmt = mp3 ] && rate=44100; [ $fmt = flac ] && rate=16000; [ $fmt = ogg ] && rate=22050
    "$VOX" -m "$MODEL" -q --max-frames 20 --rate $rate -o "$tmp/ref/speech.$fmt" "A short sentence to clone from." 2>/dev/null
    "$VOX" clone -m "$MODEL" --audio "$tmp/ref/speech.$fmt" -o "$tmp/ref/from-$fmt.voxv" -q --iters 3 2> "$tmp/ref/err"
    check "clone from $fmt at $rate Hz" '[ -s "$tmp/ref/from-$fmt.voxv" ] || { cat "$tmp/ref/err"; false; }'
done

# --- inversion on synthetic truth through the command line: a 3 s target decoded
# from random codes, written as a float WAV, cloned with the default settings ---
"$PY" - "$tmp/truth_codes.npy" <<'PYEOF'
import sys, numpy as np
rng = np.random.default_rng(7)
c = np.zeros((38, 37), dtype=np.int32)
c[:, 0] = rng.integers(2, 66, size=38)      # tiny-a: 64 semantic codes
c[:, 1:] = rng.integers(2, 23, size=(38, 36))
np.save(sys.argv[1], c)
PYEOF
"$VOX" debug codec -m "$MODEL" --codes "$tmp/truth_codes.npy" --out "$tmp/truth_wave.npy" 2>/dev/null
"$PY" - "$tmp/truth_wave.npy" "$tmp/truth.wav" <<'PYEOF'
import sys, struct, numpy as np
w = np.load(sys.argv[1]).astype('<f4').reshape(-1)
data = w.tobytes()
hdr = (b'RIFF' + struct.pack('<I', 36 + len(data)) + b'WAVEfmt ' +
       struct.pack('<IHHIIHH', 16, 3, 1, 24000, 96000, 4, 32) + b'data' + struct.pack('<I', len(data)))
open(sys.argv[2], 'wb').write(hdr + data)
PYEOF
"$VOX" clone -m "$MODEL" --audio "$tmp/truth.wav" -o "$tmp/truth.voxv" --codes-out "$tmp/found.npy" -q 2> "$tmp/err"; rc=$?
sem=$("$PY" -c "import numpy as np; a=np.load('$tmp/truth_codes.npy'); b=np.load('$tmp/found.npy'); print(int(round(100*np.mean(a[:,0]==b[:,0]))) if a.shape==b.shape else -1)" 2>/dev/null)
echo "voice: synthetic truth through voxtts clone: ${sem}% of semantic codes recovered"
check "clone of a float-WAV target from random codes recovers >= 90% of semantic codes (${sem}%)" '[ $rc -eq 0 ] && [ -n "$sem" ] && [ "$sem" -ge 90 ]'

echo "voice: $pass passed, $fail failed"
[ $fail -eq 0 ]
