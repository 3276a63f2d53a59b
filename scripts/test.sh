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
PKGS="build-essential pkg-config libpcre2-dev libcjson-dev curl python3 nodejs npm"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "test.sh: installing$missing"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
    else
        echo "test.sh: missing packages:$missing (run as root to install them)" >&2
        exit 1
    fi
fi
JOBS=$(nproc 2>/dev/null || echo 2)
make -j"$JOBS" all
FULLSIZE=${FULLSIZE:-1} BUILD=build tests/run.sh
make -j"$JOBS" SAN=1 all
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 FULLSIZE=0 BUILD=build-san tests/run.sh
