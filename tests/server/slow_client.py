#!/usr/bin/env python3
"""slow_client.py — a client that reads its response slowly, to keep a request
in flight on the server (tests/server/run.sh: the queue limit, the timeout and
draining on SIGTERM).

    slow_client.py PORT JSON_BODY OUT_FILE [BYTES_PER_SECOND]

Posts JSON_BODY to 127.0.0.1:PORT/v1/audio/speech on a socket with a small
receive buffer and reads the response at BYTES_PER_SECOND (default 150000), so
the server cannot hand the whole body to the kernel at once.  Writes the body
(de-chunked) to OUT_FILE and prints "STATUS COMPLETE" (COMPLETE 1 when the
chunked body ended with its last chunk, 0 when the connection was cut)."""
import socket
import sys
import time

port, body, out = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
rate = float(sys.argv[4]) if len(sys.argv) > 4 else 150000.0
piece = 4096
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, piece)
s.connect(("127.0.0.1", port))
s.sendall(b"POST /v1/audio/speech HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
          b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
raw = b""
t0 = time.monotonic()
while True:
    try:
        k = s.recv(piece)
    except OSError:
        break
    if not k:
        break
    raw += k
    # sleep so that the average stays at `rate`
    ahead = len(raw) / rate - (time.monotonic() - t0)
    if ahead > 0:
        time.sleep(ahead)
s.close()
head, _, rest = raw.partition(b"\r\n\r\n")
status = head.split(b" ")[1].decode() if head.startswith(b"HTTP/") else "000"
data, complete = b"", 0
chunked = b"transfer-encoding: chunked" in head.lower()
if chunked:
    while True:
        line, sep, after = rest.partition(b"\r\n")
        if not sep:
            break
        try:
            n = int(line.split(b";")[0], 16)
        except ValueError:
            break
        if n == 0:
            complete = 1
            break
        if len(after) < n + 2:
            data += after[:n]
            break
        data += after[:n]
        rest = after[n + 2:]
else:
    data, complete = rest, 1
open(out, "wb").write(data)
print(status, complete)
