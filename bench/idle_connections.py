#!/usr/bin/env python3
"""Opens COUNT keep-alive HTTP connections to 127.0.0.1:PORT, makes one GET /hello on each so
that the server has accepted and served every one, then holds them open and idle until killed.
Creates READY_FILE once all are idle, so that the caller can measure the server's memory then.

    idle_connections.py --port 8080 --count 9000 --ready /tmp/ready
"""
import argparse
import resource
import selectors
import signal
import socket
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--count", type=int, default=9000)
parser.add_argument("--ready", required=True)
parser.add_argument("--path", default="/hello")
parser.add_argument("--mode", choices=["http", "echo"], default="http",
                    help="http: one GET each; echo: one byte each, echoed back")
args = parser.parse_args()

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < args.count + 64:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.count + 64), hard))

request = f"GET {args.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
if args.mode == "echo":
    request = b"x"
conns = []
for _ in range(args.count):
    s = socket.create_connection(("127.0.0.1", args.port))
    conns.append(s)

# One request on every connection, then every response read in whole (the head and a body of
# Content-Length bytes), so that the server holds each connection in its idle keep-alive state.
sel = selectors.DefaultSelector()
pending = {}
for s in conns:
    s.sendall(request)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
    pending[s] = b""
deadline = time.monotonic() + 60
while pending:
    if time.monotonic() > deadline:
        sys.exit(f"idle_connections: {len(pending)} responses missing after 60 s")
    for key, _ in sel.select(timeout=1):
        s = key.fileobj
        data = s.recv(65536)
        if not data:
            sys.exit("idle_connections: the server closed a connection")
        buf = pending[s] + data
        if args.mode == "echo":
            if len(buf) >= len(request):
                sel.unregister(s)
                del pending[s]
            else:
                pending[s] = buf
            continue
        head, sep, body = buf.partition(b"\r\n\r\n")
        if sep:
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(body) >= length:
                sel.unregister(s)
                del pending[s]
                continue
        pending[s] = buf

signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
open(args.ready, "w").close()
signal.sigwait({signal.SIGTERM, signal.SIGINT})
