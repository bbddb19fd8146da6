#!/usr/bin/env python3
"""Runs inside the systemd test machine: client-side checks that need a live connection.

  traffic.py reload-keeps-connection   a connection opened before `systemctl reload` works after
                                        it, and the new listener (port 7100) serves
  traffic.py during-reloads N           TCP and UDP echo traffic runs during N reloads: no error
  traffic.py slow-request-during-stop   GET /echo?delay=2s, then `systemctl stop`: the answer is 200
"""
import socket
import subprocess
import sys
import threading
import time


def reloaded():
    out = subprocess.run(["journalctl", "-u", "portd", "-o", "cat"], capture_output=True, text=True).stdout
    return out.count("configuration reloaded from")


def reload_and_wait():
    before = reloaded()
    subprocess.run(["systemctl", "reload", "portd"], check=True)
    deadline = time.monotonic() + 10
    while reloaded() <= before:
        if time.monotonic() > deadline:
            raise SystemExit("the reload did not finish within 10 s")
        time.sleep(0.05)


def echo(sock, data):
    sock.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        got += chunk
    if got != data:
        raise ValueError(f"echo mismatch: {got!r}")


def reload_keeps_connection():
    old = socket.create_connection(("127.0.0.1", 7000), timeout=5)
    echo(old, b"before the reload\n")
    reload_and_wait()
    echo(old, b"after the reload\n")
    new = socket.create_connection(("127.0.0.1", 7100), timeout=5)
    echo(new, b"new listener\n")
    print("the old connection kept working and the new listener serves")


def during_reloads(n):
    stop = threading.Event()
    errors = []
    counts = {"tcp": 0, "udp": 0}

    def tcp():
        longlived = socket.create_connection(("127.0.0.1", 7000), timeout=5)
        i = 0
        while not stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", 7000), timeout=5) as s:
                    echo(s, b"tcp %d\n" % i)
                echo(longlived, b"long %d\n" % i)
                counts["tcp"] += 1
            except Exception as e:  # noqa: BLE001 - any failure is what we look for
                errors.append(f"tcp {i}: {e!r}")
            i += 1

    def udp():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        i = 0
        while not stop.is_set():
            msg = b"udp %d" % i
            try:
                s.sendto(msg, ("127.0.0.1", 7000))
                data, _ = s.recvfrom(65536)
                if data != msg:
                    raise ValueError(data)
                counts["udp"] += 1
            except Exception as e:  # noqa: BLE001
                errors.append(f"udp {i}: {e!r}")
            i += 1

    threads = [threading.Thread(target=tcp), threading.Thread(target=udp)]
    for t in threads:
        t.start()
    for _ in range(n):
        reload_and_wait()
    time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"{len(errors)} errors during {n} reloads, first: {errors[0]}")
    if counts["tcp"] == 0 or counts["udp"] == 0:
        raise SystemExit(f"no traffic ran: {counts}")
    print(f"{counts['tcp']} TCP and {counts['udp']} UDP round trips during {n} reloads, no error")


def slow_request_during_stop():
    s = socket.create_connection(("127.0.0.1", 8080), timeout=10)
    s.sendall(b"GET /echo?delay=2s HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.3)  # the request is being delayed by the daemon now
    started = time.monotonic()
    stopper = subprocess.Popen(["systemctl", "stop", "portd"])
    data = b""
    while b"\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    stopper.wait(timeout=30)
    status = data.split(b"\r\n", 1)[0].decode(errors="replace")
    if not status.startswith("HTTP/1.1 200"):
        raise SystemExit(f"the request in flight got {status!r}")
    print(f"the request in flight got {status!r}; stop took {time.monotonic() - started:.1f} s")


cmd = sys.argv[1]
if cmd == "reload-keeps-connection":
    reload_keeps_connection()
elif cmd == "during-reloads":
    during_reloads(int(sys.argv[2]))
elif cmd == "slow-request-during-stop":
    slow_request_during_stop()
else:
    raise SystemExit(f"unknown command {cmd}")
