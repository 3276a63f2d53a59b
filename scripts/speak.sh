#!/usr/bin/env bash
# speak.sh [TEXT] [OUT.wav] [VOICE] — the whole main job in one command.
#
# Installs the build dependencies when run as root on Debian, builds voxtts,
# downloads the official model into models/Voxtral-4B-TTS-2603 (or $VOXTTS_MODEL)
# if it is not there yet (8 GB, resumable; set HF_TOKEN if the hub asks for it),
# then speaks TEXT into OUT.wav (default hello.wav) with VOICE (default neutral_female).
set -eu
cd "$(dirname "$0")/.."
TEXT=${1:-"Hello! This is voxtts, speaking on your own computer."}
OUT=${2:-hello.wav}
VOICE=${3:-neutral_female}
MODEL=${VOXTTS_MODEL:-models/Voxtral-4B-TTS-2603}
PKGS="build-essential pkg-config libpcre2-dev libcjson-dev curl"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
    else
        echo "speak.sh: missing packages:$missing (run as root, or: sudo apt-get install$missing)" >&2
        exit 1
    fi
fi
make -j"$(nproc 2>/dev/null || echo 2)" build/voxtts >/dev/null
if [ ! -s "$MODEL/consolidated.safetensors" ] || [ ! -s "$MODEL/params.json" ] || [ ! -s "$MODEL/tekken.json" ]; then
    build/voxtts download "$MODEL"
fi
build/voxtts -m "$MODEL" -v "$VOICE" -o "$OUT" -- "$TEXT"
