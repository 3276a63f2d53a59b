#!/usr/bin/env bash
# test.sh — build voxtts and run every test, the way CI does.
#
# Run as root on a fresh Debian 12 machine it first installs the missing build
# dependencies with apt-get.  Then: a normal build and the full suite (including a
# full-size random-weight checkpoint), then an AddressSanitizer +
# UndefinedBehaviorSanitizer build and the suite again (without the full-size part,
# which would take too long under the sanitizers).
set -eu
cd "$(dirname "$0")/.."
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
need /usr/bin/python3 python3
need /usr/lib/python3/dist-packages/numpy/__init__.py python3-numpy
need /usr/lib/python3/dist-packages/torch/__init__.py python3-torch
need node nodejs
need npm npm
need /usr/sbin/nginx nginx-light
need pkg-config pkg-config
need man man-db
need groff groff-base
missing=$(printf '%s\n' $missing | sort -u | xargs)
if [ -n "$missing" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "test.sh: installing $missing"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
    else
        echo "test.sh: missing packages: $missing (run as root to install them)" >&2
        exit 1
    fi
fi
JOBS=$(nproc 2>/dev/null || echo 2)
make -j"$JOBS" WERROR=1 all
FULLSIZE=${FULLSIZE:-1} BUILD=build tests/run.sh
make -j"$JOBS" WERROR=1 SAN=1 all
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 FULLSIZE=0 INSTALL_TEST=0 BUILD=build-san tests/run.sh
