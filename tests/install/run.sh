#!/usr/bin/env bash
# run.sh BUILD_DIR — the library as a user installs and embeds it:
# `make install DESTDIR=... PREFIX=/usr` lays out the command, the shared
# library (soname, exporting only voxtts_* symbols), the static archive, the
# headers, voxtts.pc and the man page; the examples/ programs build against
# the staged install through pkg-config alone and run on the tiny model; the
# man page renders without warnings; `make uninstall` removes every file.
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
pass=0; fail=0
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL install: $1"; fi; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
stage="$tmp/stage"

make -s BUILD="$BUILD" install DESTDIR="$stage" PREFIX=/usr > "$tmp/install.log" 2>&1; rc=$?
check "make install succeeds" '[ $rc -eq 0 ]'
for f in usr/bin/voxtts usr/include/voxtts.h usr/include/voxtts_debug.h usr/lib/libvoxtts.a usr/lib/pkgconfig/voxtts.pc \
         usr/share/man/man1/voxtts.1; do
    check "installed $f" '[ -f "$stage/$f" ]'
done
so=$(ls "$stage"/usr/lib/libvoxtts.so.*.*.* 2>/dev/null | head -n 1)
check "installed the shared library" '[ -n "$so" ] && [ -L "$stage/usr/lib/libvoxtts.so" ] && [ -L "$stage/usr/lib/libvoxtts.so.0" ]'
check "the soname is libvoxtts.so.0" 'objdump -p "$so" | grep -q "SONAME *libvoxtts.so.0$"'
bad=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^voxtts_' | head -n 5)
check "nm -D shows only voxtts_* symbols (others: $bad)" '[ -z "$bad" ] && nm -D --defined-only "$so" | grep -q " voxtts_synthesize$"'

# Build the examples as an outside project would: pkg-config only.
# The staged prefix is /usr: keep pkg-config from dropping its "system" -I/-L.
export PKG_CONFIG_PATH="$stage/usr/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$stage" \
    PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1
flags=$(pkg-config --cflags --libs voxtts 2>"$tmp/pc.err"); rc=$?
check "pkg-config knows voxtts ($flags)" '[ $rc -eq 0 ] && echo "$flags" | grep -q -- "-lvoxtts"'
for ex in examples/*.c; do
    name=$(basename "$ex" .c)
    cc -std=c11 -Wall -Wextra -Werror "$ex" $flags -o "$tmp/$name" 2> "$tmp/$name.err"; rc=$?
    check "example $name builds against the installed library" '[ $rc -eq 0 ]'
    [ $rc -ne 0 ] && cat "$tmp/$name.err"
done
export LD_LIBRARY_PATH="$stage/usr/lib"
check "the example links the shared library" 'ldd "$tmp/speak" | grep -q "libvoxtts.so.0 => $stage"'
"$tmp/speak" tests/models/tiny-a "Hello from an installed library." "$tmp/hello.wav" > "$tmp/speak.out" 2>&1; rc=$?
check "examples/speak speaks on the tiny model" '[ $rc -eq 0 ] && [ "$(head -c 4 "$tmp/hello.wav")" = RIFF ] && [ $(stat -c %s "$tmp/hello.wav") -gt 1000 ]'
"$tmp/stream" tests/models/tiny-a "Streaming to a pipe." > "$tmp/stream.pcm" 2> "$tmp/stream.err"; rc=$?
n=$(sed -n 's/streamed \([0-9]*\) samples/\1/p' "$tmp/stream.err")
check "examples/stream writes every sample it reports ($n)" '[ $rc -eq 0 ] && [ -n "$n" ] && [ "$n" -gt 0 ] && [ $(stat -c %s "$tmp/stream.pcm") -eq $((n * 2)) ]'
"$tmp/speak" /nonexistent "x" "$tmp/x.wav" > "$tmp/bad.out" 2>&1; rc=$?
check "a missing model is a clear error" '[ $rc -ne 0 ] && grep -q "cannot load the model" "$tmp/bad.out" && [ ! -e "$tmp/x.wav" ]'
unset LD_LIBRARY_PATH PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_ALLOW_SYSTEM_CFLAGS PKG_CONFIG_ALLOW_SYSTEM_LIBS

# The man page renders, without warnings.
groff -man -ww -z voxtts.1 2> "$tmp/groff.err"; rc=$?
check "groff renders voxtts.1 without warnings" '[ $rc -eq 0 ] && [ ! -s "$tmp/groff.err" ]'
MANWIDTH=80 man -l voxtts.1 > "$tmp/man.txt" 2>/dev/null; rc=$?
check "man ./voxtts.1 renders" '[ $rc -eq 0 ] && grep -q "voxtts" "$tmp/man.txt"'

make -s BUILD="$BUILD" uninstall DESTDIR="$stage" PREFIX=/usr > /dev/null 2>&1; rc=$?
left=$(find "$stage" -type f -o -type l | head -n 5)
check "make uninstall removes every installed file ($left)" '[ $rc -eq 0 ] && [ -z "$left" ]'

echo "install: $pass passed, $fail failed"
[ $fail -eq 0 ]
