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
# What is needed, each checked by the file it provides (a node.js from elsewhere
# that brings its own npm counts), and the Debian package that provides it.
need() { [ -e "$1" ] || command -v "$1" >/dev/null 2>&1 || missing="$missing $2"; }
missing=""
need cc build-essential
need make build-essential
need /usr/include/pcre2.h libpcre2-dev
need /usr/include/cjson/cJSON.h libcjson-dev
need /usr/include/sndfile.h libsndfile1-dev
need /usr/include/soxr.h libsoxr-dev
need /usr/include/microhttpd.h libmicrohttpd-dev
need curl curl
missing=$(printf '%s\n' $missing | sort -u | xargs)
if [ -n "$missing" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
    else
        echo "speak.sh: missing packages: $missing (run as root, or: sudo apt-get install $missing)" >&2
        exit 1
    fi
fi
make -j"$(nproc 2>/dev/null || echo 2)" build/voxtts >/dev/null
if [ ! -s "$MODEL/consolidated.safetensors" ] || [ ! -s "$MODEL/params.json" ] || [ ! -s "$MODEL/tekken.json" ]; then
    build/voxtts download "$MODEL"
fi
build/voxtts -m "$MODEL" -v "$VOICE" -o "$OUT" -- "$TEXT"
