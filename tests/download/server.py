#!/usr/bin/env python3
"""server.py — a loopback stand-in for the Hugging Face hub, for the download test.

Serves one model directory as repository REPO: the tree API
(/api/models/REPO/tree/main?recursive=true) and file downloads
(/REPO/resolve/main/PATH) with HTTP range requests, so that resuming can be
tested.  With --token, every request must carry "Authorization: Bearer TOKEN".
It logs each range request to --log, and --fail-after N makes downloads of
consolidated.safetensors break off after N bytes the first time (a dropped
connection), so the test can check that a second run resumes.  Binds to
127.0.0.1 only and writes the chosen port to --port-file.
"""
import argparse
import http.server
import json
import os
import sys
import urllib.parse

ap = argparse.ArgumentParser()
ap.add_argument("--dir", required=True)
ap.add_argument("--repo", default="mistralai/Voxtral-4B-TTS-2603")
ap.add_argument("--token", default="")
ap.add_argument("--port-file", required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--fail-after", type=int, default=-1)
args = ap.parse_args()
state = {"failed_once": False}


def listing():
    out = []
    for root, _dirs, files in os.walk(args.dir):
        for f in sorted(files):
            full = os.path.join(root, f)
            rel = os.path.relpath(full, args.dir)
            out.append({"type": "file", "path": rel, "size": os.path.getsize(full)})
    out.append({"type": "directory", "path": "voice_embedding"})
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def deny(self):
        self.send_response(401)
        self.end_headers()

    def do_GET(self):
        if args.token and self.headers.get("Authorization") != "Bearer " + args.token:
            return self.deny()
        path = urllib.parse.urlparse(self.path).path
        api = "/api/models/%s/tree/main" % args.repo
        res = "/%s/resolve/main/" % args.repo
        if path == api:
            body = json.dumps(listing()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if not path.startswith(res):
            self.send_response(404)
            self.end_headers()
            return
        rel = urllib.parse.unquote(path[len(res):])
        full = os.path.realpath(os.path.join(args.dir, rel))
        if not full.startswith(os.path.realpath(args.dir)) or not os.path.isfile(full):
            self.send_response(404)
            self.end_headers()
            return
        data = open(full, "rb").read()
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0] or 0)
            with open(args.log, "a") as lf:
                lf.write("range %s %d\n" % (rel, start))
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if (args.fail_after >= 0 and not state["failed_once"]
                and rel == "consolidated.safetensors" and start == 0):
            state["failed_once"] = True
            self.wfile.write(body[: args.fail_after])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(args.port_file, "w") as f:
    f.write(str(srv.server_address[1]))
srv.serve_forever()
