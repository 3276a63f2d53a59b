# lib.sh — helpers for the `voxtts serve` tests (sourced by run.sh, load.sh,
# nginx.sh): start a server on a loopback port the kernel picks (--port 0; the
# port is read from its first log line), wait for /health, stop it.
# Needs VOX (the voxtts binary), MODEL and tmp set by the caller.

# start_server NAME ARGS...: sets SRV_PID and SRV_PORT (and NAME_pid/NAME_port);
# the log goes to $tmp/NAME.log.  Returns 1 when it does not come up in 20 s.
start_server() {
    local name=$1; shift
    "$VOX" serve -m "$MODEL" --host 127.0.0.1 --port 0 -t 1 "$@" > "$tmp/$name.log" 2>&1 &
    SRV_PID=$!
    SRV_PORT=""
    for _ in $(seq 200); do
        SRV_PORT=$(sed -nE 's|.*on http://127\.0\.0\.1:([0-9]+).*|\1|p' "$tmp/$name.log" | head -n 1)
        if [ -n "$SRV_PORT" ] && curl -s -o /dev/null "http://127.0.0.1:$SRV_PORT/health"; then
            eval "${name}_pid=$SRV_PID; ${name}_port=$SRV_PORT"
            return 0
        fi
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "server $name did not start:"; cat "$tmp/$name.log"
    return 1
}

# stop_server PID: SIGTERM, wait at most 30 s; the exit status in STOP_RC
# (not in a subshell: the server is this shell's child).
stop_server() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 300); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
    wait "$pid" 2>/dev/null
    STOP_RC=$?
}

rss_kb() { sed -nE 's/^VmRSS:[[:space:]]+([0-9]+).*/\1/p' "/proc/$1/status"; }
hwm_kb() { sed -nE 's/^VmHWM:[[:space:]]+([0-9]+).*/\1/p' "/proc/$1/status"; }
n_fds() { ls "/proc/$1/fd" | wc -l; }
