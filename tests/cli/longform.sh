#!/usr/bin/env bash
# longform.sh BUILD_DIR — long text through the voxtts command on the tiny checkpoint
# tests/models/tiny-a: a 10,000-word text (made here from our own sentences) becomes
# one WAV with every chunk in it (the --stats JSON lists each chunk's frames; the
# WAV holds exactly those frames plus the pauses), peak memory stays bounded (the
# audio is streamed, never held whole), frame-cap hits are reported, the progress
# bar appears only on a terminal, `voxtts debug split` prints the chunks, and
# max_seq_len (a copy of tiny-a whose params.json sets it to 40) is enforced.
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/../.."
VOX="$BUILD/voxtts"
MODEL=tests/models/tiny-a
pass=0; fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL longform: $1"; fi; }
u32() { od -An -tu4 -j"$2" -N4 "$1" | tr -d ' '; }
# sum/count of the per-chunk entries of a --stats file (cJSON's layout: one key per line)
chunk_field() { grep -P "^\t\t\t\"$2\":" "$1" | sed -E 's/.*:\t//; s/,$//'; }
top_field() { grep -P "^\t\"$2\":" "$1" | sed -E 's/.*:\t//; s/,$//'; }

VOICE=$("$VOX" -m "$MODEL" --list-voices | head -n 1)

# --- a 10,000-word text ----------------------------------------------------
S=("The old lighthouse keeper climbed the stairs slowly, counting every step."
   "Dr. Ellis said the storm would pass by 10.30 tonight."
   "Nobody believed him... but the sea grew calm."
   "\"Look!\" shouted the boy, pointing at a ship near the rocks."
   "It carried 3.5 tons of grain, e.g. wheat and barley, for the winter markets."
   "Why did the captain wait so long before turning back toward the harbor?"
   "Mrs. Hale kept a small notebook where she wrote the names of every vessel, the hour it passed, and the color of its sails"
   "The wind changed; the gulls went quiet; the lamp burned on through the night.")
book="$tmp/book.txt"
: > "$book"
words=0; i=0
while [ "$words" -lt 10000 ]; do
    line=""
    for j in 0 1 2 3 4 5; do
        s=${S[$(( (i * 5 + j * 3) % 8 ))]}
        line="$line$s "
        i=$((i + 1))
    done
    printf '%s\n\n' "$line" >> "$book"
    words=$(wc -w < "$book")
done
check "the text has at least 10,000 words" '[ "$words" -ge 10000 ]'

OPTS=(-m "$MODEL" -v "$VOICE" -t 1 --max-frames 8 --max-tokens 64 --pause-ms 400 --gap-ms 150)
"$VOX" debug split -m "$MODEL" --max-tokens 64 --max-frames 8 -f "$book" > "$tmp/split.txt" 2> "$tmp/split.err"; rc=$?
check "debug split exits 0" '[ $rc -eq 0 ]'
nchunks=$(grep -vc $'^\xc2\xb6$' "$tmp/split.txt")
nbreaks=$(grep -c $'^\xc2\xb6$' "$tmp/split.txt")
npara=$(grep -c . "$book")
check "debug split: one line per chunk, a ¶ line per paragraph break" '[ "$nchunks" -gt 100 ] && [ "$nbreaks" -eq $((npara - 1)) ]'
check "debug split: every chunk ends in terminal punctuation" '! grep -v $'"'"'^\xc2\xb6$'"'"' "$tmp/split.txt" | grep -qvE "[.!?\"]$"'
check "debug split: the unterminated sentence got its period" 'grep -q "color of its sails\.$" "$tmp/split.txt" || grep -q "color of its sails\. " "$tmp/split.txt"'
check "debug split: no chunk splits Dr. or e.g." '! grep -qE "(^| )(Dr|e\.g)\.$" "$tmp/split.txt"'

# peak memory is measured on these runs; under ASan its quarantine of freed blocks would
# count as resident, so it is turned off for them (no effect on a normal build)
NOQ="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
ASAN_OPTIONS=$NOQ /usr/bin/time -v "$VOX" "${OPTS[@]}" --stats "$tmp/book.json" -o "$tmp/book.wav" -f "$book" \
    2> "$tmp/book.err"; rc=$?
check "10,000 words: exits 0" '[ $rc -eq 0 ]'
st_chunks=$(top_field "$tmp/book.json" chunks)
st_frames=$(top_field "$tmp/book.json" frames)
check "stats: as many chunks as debug split prints" '[ "$st_chunks" = "$nchunks" ]'
check "stats: one entry per chunk, in order" '[ "$(chunk_field "$tmp/book.json" index | tr "\n" " ")" = "$(seq 0 $((nchunks - 1)) | tr "\n" " ")" ]'
sum_frames=$(chunk_field "$tmp/book.json" frames | awk '{s+=$1} END {print s+0}')
check "stats: chunk frames add up to the total" '[ "$sum_frames" = "$st_frames" ] && [ "$st_frames" -gt 0 ]'
check "stats: no chunk above --max-frames" '[ "$(chunk_field "$tmp/book.json" frames | sort -n | tail -1)" -le 8 ]'
# the WAV: every chunk's frames plus 400 ms per paragraph break and 150 ms between chunks
pbreaks=$(chunk_field "$tmp/book.json" paragraph_start | tail -n +2 | grep -c true)
gaps=$((st_chunks - 1 - pbreaks))
want=$(( (st_frames * 1920 + pbreaks * 9600 + gaps * 3600) * 2 ))
check "WAV holds every chunk and pause: $want data bytes" '[ "$(u32 "$tmp/book.wav" 40)" = "$want" ] && [ "$(stat -c %s "$tmp/book.wav")" = $((44 + want)) ]'
capped=$(chunk_field "$tmp/book.json" capped | grep -c true)
ncap_lines=$(grep -c "reached --max-frames 8" "$tmp/book.err")
check "every capped chunk is reported on stderr ($capped)" '[ "$capped" = "$(top_field "$tmp/book.json" capped_chunks)" ] && [ "$ncap_lines" = "$capped" ]'
check "no progress output when stderr is not a terminal" '! grep -q "ETA" "$tmp/book.err" && ! grep -q $'"'"'\r'"'"' "$tmp/book.err"'
rss_book=$(sed -nE 's/.*Maximum resident set size \(kbytes\): ([0-9]+).*/\1/p' "$tmp/book.err")
wav_kb=$(( $(stat -c %s "$tmp/book.wav") / 1024 ))
secs=$(sed -nE 's/.*Elapsed \(wall clock\) time.*: (.*)/\1/p' "$tmp/book.err")
ASAN_OPTIONS=$NOQ /usr/bin/time -v "$VOX" "${OPTS[@]}" -o "$tmp/short.wav" "A short text." 2> "$tmp/short.err"
rss_short=$(sed -nE 's/.*Maximum resident set size \(kbytes\): ([0-9]+).*/\1/p' "$tmp/short.err")
echo "longform: $words words, $st_chunks chunks, $st_frames frames, WAV ${wav_kb} KiB (float audio $((wav_kb * 2)) KiB), wall $secs, peak RSS ${rss_book} KiB (short text: ${rss_short} KiB)"
check "peak memory bounded: < short-text RSS + 16 MiB while the float audio is $((wav_kb * 2)) KiB" \
    '[ -n "$rss_book" ] && [ -n "$rss_short" ] && [ "$rss_book" -lt $((rss_short + 16384)) ] && [ $((wav_kb * 2)) -gt 32768 ]'

head -n 40 "$book" > "$tmp/part.txt"
"$VOX" "${OPTS[@]}" -o "$tmp/part.wav" -q -f "$tmp/part.txt" 2>/dev/null
"$VOX" "${OPTS[@]}" -o - -q -f "$tmp/part.txt" > "$tmp/part_stdout.wav" 2>/dev/null
check "-o - streams the same chunks and pauses to stdout" '[ -s "$tmp/part.wav" ] && cmp -s "$tmp/part.wav" "$tmp/part_stdout.wav"'

# --- frame cap reports ------------------------------------------------------
"$VOX" -m "$MODEL" -v "$VOICE" -o "$tmp/cap.wav" --max-frames 3 "Hello world." 2> "$tmp/cap.err"; rc=$?
check "single chunk at the cap: exit 0, reported" '[ $rc -eq 0 ] && grep -q "reached --max-frames 3" "$tmp/cap.err"'
"$VOX" -m "$MODEL" -v "$VOICE" -o "$tmp/cap.wav" -q --max-frames 3 "Hello world." 2> "$tmp/cap.err"
check "the cap is reported even with -q" 'grep -q "reached --max-frames 3" "$tmp/cap.err"'
"$VOX" -m "$MODEL" -v "$VOICE" -o "$tmp/nocap.wav" --max-frames 500 --stats "$tmp/nocap.json" \
    "Hello world. This is a test of a long sentence." 2> "$tmp/nocap.err"; rc=$?
f=$(chunk_field "$tmp/nocap.json" frames)
check "a chunk that ends before the cap is not reported" '[ $rc -eq 0 ] && [ "$f" -lt 500 ] && ! grep -q "reached" "$tmp/nocap.err" && grep -q "\"capped\":.false" "$tmp/nocap.json"'
"$VOX" -m "$MODEL" -v "$VOICE" -o "$tmp/multi.wav" --max-frames 2 --max-tokens 8 \
    "First part here. Second part here." 2> "$tmp/multi.err"
check "multi-chunk cap: each chunk named, and a summary" 'grep -q "chunk 1/" "$tmp/multi.err" && grep -q "chunks were cut at --max-frames 2" "$tmp/multi.err"'

# --- progress bar only on a terminal -----------------------------------------
if command -v script > /dev/null; then
    script -qec "$VOX ${OPTS[*]} -o $tmp/tty.wav 'One sentence. Another one here.'" /dev/null > "$tmp/tty.out" 2>&1
    check "progress bar with ETA on a terminal" 'grep -q "ETA" "$tmp/tty.out" && grep -q "chunks" "$tmp/tty.out"'
    script -qec "$VOX ${OPTS[*]} -q -o $tmp/tty.wav 'One sentence. Another one here.'" /dev/null > "$tmp/tty.out" 2>&1
    check "-q silences the progress bar" '! grep -q "ETA" "$tmp/tty.out"'
else
    check "script(1) is needed for the terminal test" 'false'
fi

"$VOX" --help > "$tmp/help" 2>&1
check "--help documents the long-text options" '( for o in --lang --max-tokens --normalize --pause-ms --gap-ms --stats; do grep -q -- "$o" "$tmp/help" || exit 1; done )'
"$VOX" debug --help > "$tmp/help" 2>&1
check "debug --help documents split" 'grep -q "split .*--max-tokens" "$tmp/help"'

# --- debug split details and errors -----------------------------------------
out=$("$VOX" debug split -m "$MODEL" --lang de -- "Am 3. Oktober kam er. Dann ging er.")
check "debug split --lang de keeps the ordinal" '[ "$out" = "Am 3. Oktober kam er. Dann ging er." ]'
out=$("$VOX" debug split -m "$MODEL" --sentences -- "Dr. Who left. It rained.

Next." 2>/dev/null)
check "debug split --sentences: one sentence per line, ¶ between paragraphs" '[ "$out" = "$(printf "Dr. Who left.\nIt rained.\n\xc2\xb6\nNext.")" ]'
out=$("$VOX" debug split -m "$MODEL" --tokens -- "Hi there")
check "debug split --tokens shows counts, appends the period" 'echo "$out" | grep -qE "^\[[0-9]+ tok, ~[0-9]+ fr\] Hi there\.$"'
out=$("$VOX" debug split -m "$MODEL" --normalize -- "Hello &amp; welcome!!! See https://x.org now")
check "debug split --normalize" '[ "$out" = "Hello & welcome! See link now." ]'
expect_fail() { # name, pattern, command...
    local name=$1 pat=$2; shift 2
    rm -f "$tmp/out.wav"
    "$@" > "$tmp/stdout" 2> "$tmp/stderr"; local rc=$?
    check "$name: non-zero exit" '[ $rc -ne 0 ] && [ $rc -lt 128 ]'
    check "$name: message matches '$pat'" 'grep -qiE -- "$pat" "$tmp/stderr"'
    check "$name: no output file" '[ ! -e "$tmp/out.wav" ] && [ -z "$(ls "$tmp" | grep -E "^out\.wav.")" ]'
}
expect_fail "split: invalid UTF-8" "UTF-8.*offset 4" "$VOX" debug split -m "$MODEL" -- "$(printf 'abc \xff')"
expect_fail "split: only punctuation" "empty" "$VOX" debug split -m "$MODEL" -- "... !!! ?"
expect_fail "split: unknown language" "unknown language 'xx'" "$VOX" debug split -m "$MODEL" --lang xx -- "Hi."
expect_fail "synthesis: only punctuation" "empty" "$VOX" -m "$MODEL" -o "$tmp/out.wav" -- "... ?!"
expect_fail "synthesis: unknown language" "unknown language" "$VOX" -m "$MODEL" -o "$tmp/out.wav" --lang xx "Hi."
expect_fail "bad --pause-ms" "pause-ms" "$VOX" -m "$MODEL" -o "$tmp/out.wav" --pause-ms -5 "Hi."
expect_fail "unwritable --stats" "stats" "$VOX" -m "$MODEL" -v "$VOICE" -o "$tmp/out.wav" --max-frames 2 --stats "$tmp/no/dir/s.json" "Hi."

# --- max_seq_len ----------------------------------------------------------------
lim="$tmp/limited"
mkdir "$lim"
for f in consolidated.safetensors tekken.json voice_embedding; do ln -s "$PWD/$MODEL/$f" "$lim/$f"; done
sed 's/"max_seq_len": 65536/"max_seq_len": 40/' "$MODEL/params.json" > "$lim/params.json"
check "limited copy sets max_seq_len 40" 'grep -q "\"max_seq_len\": 40" "$lim/params.json"'
LONG="This sentence is far too long to fit into a prompt of forty positions, voice rows included."
expect_fail "debug prompt over max_seq_len" "max_seq_len of 40" "$VOX" debug prompt -m "$lim" -v "$VOICE" "$LONG"
expect_fail "debug prefill over max_seq_len" "max_seq_len of 40" "$VOX" debug prefill -m "$lim" -v "$VOICE" --out "$tmp/out.wav" "$LONG"
printf '\x93NUMPY\x01\x00\x76\x00{'"'"'descr'"'"': '"'"'<i4'"'"', '"'"'fortran_order'"'"': False, '"'"'shape'"'"': (0, 37), }' > "$tmp/codes.npy"
printf '%*s\n' $((128 - $(stat -c %s "$tmp/codes.npy") - 1)) '' >> "$tmp/codes.npy"
expect_fail "debug decode over max_seq_len" "max_seq_len of 40" "$VOX" debug decode -m "$lim" -v "$VOICE" --codes "$tmp/codes.npy" --out "$tmp/out.wav" "$LONG"
"$VOX" -m "$lim" -v "$VOICE" --max-frames 4 --stats "$tmp/lim.json" -o "$tmp/lim.wav" "$LONG" 2>/dev/null; rc=$?
check "synthesis splits a long text to fit max_seq_len" '[ $rc -eq 0 ] && [ "$(top_field "$tmp/lim.json" chunks)" -gt 1 ]'
expect_fail "no room for text at max_seq_len" "max_seq_len of 40.*no room" "$VOX" -m "$lim" -v "$VOICE" --max-frames 50 -o "$tmp/out.wav" "Hi."

echo "longform: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
