#!/usr/bin/env python3
"""client.py — test client for `voxtts wyoming`, written from the Wyoming
protocol's event definitions (a JSON header line with type, data,
data_length, payload_length; then data bytes; then payload bytes), standard
library only.

    client.py tcp://127.0.0.1:PORT SERVER_PID VOICE[,VOICE...] MAX_FRAMES REF_PCM

runs the checks against a server started with --max-frames MAX_FRAMES and
--max-clients 2 and prints "N passed, M failed".  REF_PCM is what
`voxtts -o x.pcm --max-frames MAX_FRAMES -v VOICE0 "Hello world."` wrote: a
plain synthesize of that sentence must give the same samples.  The last check
sends SIGTERM to SERVER_PID while a request is in flight (the caller checks the
exit status).
"""
import json
import os
import signal
import socket
import sys
import threading
import time

TIMEOUT = 60
passed = 0
failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL wyoming: {name} {detail}", flush=True)


def connect(uri):
    if uri.startswith("unix://"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(uri[7:])
    else:
        host, port = uri[6:].rsplit(":", 1)
        s = socket.create_connection((host, int(port)))
    s.settimeout(TIMEOUT)
    return s


class Conn:
    def __init__(self, uri):
        self.sock = connect(uri)
        self.rf = self.sock.makefile("rb")

    def close(self):
        self.rf.close()
        self.sock.close()

    def send(self, etype, data=None, payload=b"", inline=False):
        header = {"type": etype, "version": "1.8.0"}
        body = b""
        if data is not None:
            if inline:  # data inside the header line (also valid)
                header["data"] = data
            else:
                body = json.dumps(data).encode()
                header["data_length"] = len(body)
        if payload:
            header["payload_length"] = len(payload)
        self.sock.sendall(json.dumps(header).encode() + b"\n" + body + payload)

    def send_raw(self, b):
        self.sock.sendall(b)

    def read(self):
        """(type, data, payload) of the next event, or None at end of stream."""
        line = self.rf.readline()
        if not line:
            return None
        h = json.loads(line)
        data = dict(h.get("data") or {})
        n = h.get("data_length") or 0
        if n:
            data.update(json.loads(self.rf.read(n)))
        m = h.get("payload_length") or 0
        payload = self.rf.read(m) if m else b""
        if len(payload) != m:
            raise EOFError("short payload")
        return h["type"], data, payload

    def read_until(self, last):
        events = []
        while True:
            ev = self.read()
            if ev is None:
                return events, False
            events.append(ev)
            if ev[0] == last:
                return events, True


def open_served(uri, tries=100):
    """A connection the server serves: describe answered with info.  A slot may
    still be held for a moment by a connection that just closed (the server
    frees it when that connection's thread ends); a 'busy' answer is retried."""
    for _ in range(tries):
        c = Conn(uri)
        try:
            c.send("describe")
            ev = c.read()
            if ev is not None and ev[0] == "info":
                return c
        except (OSError, ValueError, EOFError):
            pass
        c.close()
        time.sleep(0.05)
    raise RuntimeError("the server serves no new connection")


def audio_groups(events):
    """[(start_data, pcm bytes, chunks_ok)] for each audio-start .. audio-stop."""
    groups, cur = [], None
    for t, d, p in events:
        if t == "audio-start":
            cur = [d, b"", True]
        elif t == "audio-chunk" and cur is not None:
            cur[1] += p
            cur[2] = cur[2] and d.get("rate") == cur[0].get("rate") and d.get("width") == 2 \
                and d.get("channels") == 1 and len(p) % 2 == 0 and len(p) > 0
        elif t == "audio-stop" and cur is not None:
            groups.append(tuple(cur))
            cur = None
    return groups


def main():
    uri, pid, voices, max_frames, ref_pcm = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(","), \
        int(sys.argv[4]), sys.argv[5]
    voice = voices[0]
    spf = 1920  # samples per 80 ms frame at 24 kHz (tiny-a: params.json)
    with open(ref_pcm, "rb") as f:
        ref = f.read()

    # --- describe -> info ------------------------------------------------------
    c = Conn(uri)
    c.send("describe")
    ev = c.read()
    check("describe answers info", ev is not None and ev[0] == "info", repr(ev and ev[0]))
    info = ev[1] if ev else {}
    tts = info.get("tts", [])
    check("info has one tts program", len(tts) == 1)
    prog = tts[0] if tts else {}
    check("program: name, installed, attribution", prog.get("name") == "voxtts" and prog.get("installed") is True
          and isinstance(prog.get("attribution"), dict) and "url" in prog["attribution"])
    check("program supports streaming synthesis", prog.get("supports_synthesize_streaming") is True)
    names = [v.get("name") for v in prog.get("voices", [])]
    check("info lists every voice of the model", names == voices, f"{names} vs {voices}")
    check("every voice has languages and is installed",
          all(isinstance(v.get("languages"), list) and v["languages"] and v.get("installed") is True
              for v in prog.get("voices", [])) and len(names) > 0)
    for k in ("asr", "handle", "intent", "wake"):
        check(f"info has an empty '{k}' list", info.get(k) == [])

    # --- plain synthesize ------------------------------------------------------
    c.send("synthesize", {"text": "Hello world.", "voice": {"name": voice}})
    events, ok = c.read_until("audio-stop")
    types = [e[0] for e in events]
    check("synthesize: audio-start first, audio-stop last", ok and types[0] == "audio-start", str(types[:3]))
    check("synthesize: only audio events", set(types) <= {"audio-start", "audio-chunk", "audio-stop"}, str(set(types)))
    g = audio_groups(events)
    check("synthesize: one audio group", len(g) == 1)
    start, pcm, chunks_ok = g[0] if g else ({}, b"", False)
    check("audio-start: rate 24000, width 2, channels 1",
          start.get("rate") == 24000 and start.get("width") == 2 and start.get("channels") == 1, str(start))
    check("audio-chunks: same format, whole samples", chunks_ok and types.count("audio-chunk") >= 1)
    ns = len(pcm) // 2
    check("synthesize: whole frames, 1..max_frames of them", ns % spf == 0 and 1 <= ns // spf <= max_frames, f"{ns}")
    check("synthesize: same samples as `voxtts -o x.pcm`", pcm == ref, f"{len(pcm)} vs {len(ref)} bytes")

    # the same request again on the same connection, voice by name in other case, data inline
    c.send("synthesize", {"text": "Hello world.", "voice": {"name": voice.upper()}}, inline=True)
    events, ok = c.read_until("audio-stop")
    g = audio_groups(events)
    check("inline data, voice name case-insensitive: same audio", ok and len(g) == 1 and g[0][1] == ref)

    # two sentences: one audio group, both synthesized
    c.send("synthesize", {"text": "Hello world. Hello world.", "voice": {"name": voice}})
    events, ok = c.read_until("audio-stop")
    g = audio_groups(events)
    check("two sentences in one synthesize: one group, both sentences' audio",
          ok and len(g) == 1 and g[0][1] == ref + ref, f"{len(g[0][1]) if g else 0} vs {2 * len(ref)}")

    # a voice chosen by language only; the default voice when none is given
    c.send("synthesize", {"text": "Hello world.", "voice": {"language": "en_US"}})
    events, ok = c.read_until("audio-stop")
    check("voice by language: audio", ok and len(audio_groups(events)) == 1 and len(audio_groups(events)[0][1]) > 0)
    c.send("synthesize", {"text": "Hello world."})
    events, ok = c.read_until("audio-stop")
    check("no voice: the default voice's audio", ok and len(audio_groups(events)) == 1 and audio_groups(events)[0][1] == ref)

    # unknown voice: an error event, and the connection still serves
    c.send("synthesize", {"text": "Hello world.", "voice": {"name": "no_such_voice"}})
    ev = c.read()
    check("unknown voice: error event naming it", ev is not None and ev[0] == "error" and "no_such_voice" in ev[1].get("text", ""),
          repr(ev))
    c.send("synthesize", {"voice": {"name": voice}})
    ev = c.read()
    check("synthesize without text: error event", ev is not None and ev[0] == "error", repr(ev))
    # unknown events are ignored; ping is answered
    c.send("some-future-event", {"x": 1}, payload=b"\x00\x01\x02")
    c.send("ping", {"text": "abc"})
    ev = c.read()
    check("unknown event ignored, ping answered with pong", ev is not None and ev[0] == "pong" and ev[1].get("text") == "abc",
          repr(ev))
    c.close()

    # --- streaming synthesis -----------------------------------------------------
    c = Conn(uri)
    c.send("synthesize-start", {"voice": {"name": voice}})
    c.send("synthesize-chunk", {"text": "Hello wor"})
    c.send("synthesize-chunk", {"text": "ld. Good mor"})
    # the first sentence is complete: its audio must come before the stream ends
    events, ok = c.read_until("audio-stop")
    g = audio_groups(events)
    check("stream: first sentence's audio while the text still streams", ok and len(g) == 1 and g[0][1] == ref,
          f"{[e[0] for e in events][:4]}")
    c.send("synthesize-chunk", {"text": "ning to you! How are"})
    c.send("synthesize-chunk", {"text": " you"})
    c.send("synthesize-chunk", {"text": " today?"})
    # Home Assistant also sends the whole text as a plain synthesize inside the stream
    c.send("synthesize", {"text": "Hello world. Good morning to you! How are you today?"})
    c.send("synthesize-stop")
    events, ok = c.read_until("synthesize-stopped")
    types = [e[0] for e in events]
    g = audio_groups(events)
    check("stream: ends with synthesize-stopped", ok and types[-1] == "synthesize-stopped", str(types[-3:]))
    check("stream: two more sentences, one audio group each (the compat synthesize ignored)", len(g) == 2,
          f"{len(g)} groups")
    check("stream: every group 24000 Hz, 16-bit mono, whole frames",
          all(s.get("rate") == 24000 and ok_ and len(p) > 0 and (len(p) // 2) % spf == 0 for s, p, ok_ in g))
    # a second stream on the same connection, one chunk, no final punctuation
    c.send("synthesize-start")
    c.send("synthesize-chunk", {"text": "Hello world"})
    c.send("synthesize-stop")
    events, ok = c.read_until("synthesize-stopped")
    g = audio_groups(events)
    check("second stream: the unterminated text is synthesized at synthesize-stop", ok and len(g) == 1 and len(g[0][1]) > 0)
    # an empty stream, then one whose text is only white space: no audio, just synthesize-stopped
    c.send("synthesize-start", {"voice": {"name": voice}})
    c.send("synthesize-stop")
    events, ok = c.read_until("synthesize-stopped")
    check("empty stream: only synthesize-stopped", ok and [e[0] for e in events] == ["synthesize-stopped"], str(events)[:200])
    c.send("synthesize-start")
    c.send("synthesize-chunk", {"text": "  \n "})
    c.send("synthesize-stop")
    events, ok = c.read_until("synthesize-stopped")
    check("blank stream: only synthesize-stopped", ok and [e[0] for e in events] == ["synthesize-stopped"], str(events)[:200])
    # a stream with an unknown voice: an error, no audio, and still synthesize-stopped
    c.send("synthesize-start", {"voice": {"name": "no_such_voice"}})
    c.send("synthesize-chunk", {"text": "Hello world. "})
    c.send("synthesize-stop")
    events, ok = c.read_until("synthesize-stopped")
    check("stream with an unknown voice: error, then synthesize-stopped",
          ok and [e[0] for e in events] == ["error", "synthesize-stopped"], str([e[0] for e in events]))
    c.close()

    # --- malformed input: an error event, the connection closed, the server up ----
    bad = [
        ("not JSON", b"this is not json\n"),
        ("JSON array header", b"[1, 2, 3]\n"),
        ("header without type", b'{"data": {}}\n'),
        ("type not a string", b'{"type": 5}\n'),
        ("empty line", b"\n"),
        ("oversized data_length", b'{"type": "synthesize", "data_length": 1000000000000}\n'),
        ("negative payload_length", b'{"type": "audio-chunk", "payload_length": -1}\n'),
        ("fractional data_length", b'{"type": "synthesize", "data_length": 2.5}\n'),
        ("string data_length", b'{"type": "synthesize", "data_length": "12"}\n'),
        ("data not an object", b'{"type": "synthesize", "data": [1]}\n'),
        ("data bytes not JSON", b'{"type": "synthesize", "data_length": 5}\n{abc}'),
        ("header line too long", b'{"type": "' + b"x" * ((64 << 10) - 10)),  # exactly the limit, no newline
        ("trailing garbage in the header", b'{"type": "describe"} xyz\n'),
        ("binary garbage", bytes(range(256)) * 4 + b"\n"),
    ]
    for name, raw in bad:
        c = open_served(uri)
        try:
            c.send_raw(raw)
            ev = c.read()
            end = c.read()
            check(f"malformed ({name}): error event, then closed",
                  ev is not None and ev[0] == "error" and ev[1].get("text") and end is None, repr(ev)[:200])
        except (OSError, ValueError, EOFError) as e:
            check(f"malformed ({name}): error event, then closed", False, repr(e))
        c.close()
    # cut off in the middle of an event
    c = Conn(uri)
    c.send_raw(b'{"type": "synthesize", "data_length": 100}\n{"text": "Hel')
    c.close()
    try:
        open_served(uri).close()
        ok = True
    except RuntimeError:
        ok = False
    check("after malformed input and a cut-off event, a new client is served", ok)

    # --- two clients at once -------------------------------------------------------
    results = [None, None]

    def run(i):
        try:
            cc = open_served(uri)
            if i == 0:
                cc.send("synthesize", {"text": "Hello world. Hello world.", "voice": {"name": voice}})
                evs, ok_ = cc.read_until("audio-stop")
            else:
                cc.send("synthesize-start", {"voice": {"name": voice}})
                cc.send("synthesize-chunk", {"text": "Hello world. Hello "})
                cc.send("synthesize-chunk", {"text": "world."})
                cc.send("synthesize-stop")
                evs, ok_ = cc.read_until("synthesize-stopped")
            cc.close()
            results[i] = (ok_, audio_groups(evs))
        except Exception as e:  # noqa: BLE001 - reported as a failure below
            results[i] = (False, repr(e))

    th = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in th:
        t.start()
    for t in th:
        t.join(TIMEOUT)
    r0, r1 = results
    check("two clients: plain one gets both sentences", r0 is not None and r0[0] and len(r0[1]) == 1 and r0[1][0][1] == ref + ref,
          repr(r0)[:200])
    check("two clients: streaming one gets two groups and synthesize-stopped",
          r1 is not None and r1[0] and len(r1[1]) == 2 and all(g[1] == ref for g in r1[1]), repr(r1)[:200])

    # --- more clients than --max-clients 2: the third is told busy ------------------
    a, b = open_served(uri), open_served(uri)
    c = Conn(uri)
    ev = c.read()
    check("third client over --max-clients 2: busy error", ev is not None and ev[0] == "error" and ev[1].get("code") == "busy",
          repr(ev))
    c.close()
    a.close()
    b.close()
    try:
        open_served(uri).close()
        ok = True
    except RuntimeError:
        ok = False
    check("a slot is free again once clients leave", ok)

    # --- SIGTERM while a request is in flight: it finishes --------------------------
    c = open_served(uri)
    idle = open_served(uri)
    c.send("synthesize", {"text": "Hello world. Hello world. Hello world.", "voice": {"name": voice}})
    ev = c.read()
    check("request in flight", ev is not None and ev[0] == "audio-start")
    os.kill(pid, signal.SIGTERM)
    events, ok = c.read_until("audio-stop")
    pcm = b"".join(p for t, d, p in events if t == "audio-chunk")
    check("SIGTERM: the request in flight completes", ok and pcm == ref * 3, f"{len(pcm)} vs {3 * len(ref)}")
    check("SIGTERM: then the connection is closed", c.read() is None)
    try:
        idle_end = idle.read()
    except OSError:
        idle_end = None
    check("SIGTERM: an idle connection is closed", idle_end is None)
    c.close()
    idle.close()

    print(f"wyoming client: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
