#!/usr/bin/env python3
"""`portd load report --svg/--html` draws real charts, checked in a real browser.

A run of `portd load` against a small echo server made here gives a result file; `report`
turns it into an SVG (parsed as XML: both charts and their lines are there) and a page, which
headless Chromium loads: its DOM has the chart elements, and its screenshot is not blank (it
has the pixels of the corrected-latency line's colour). Usage: report_page_test.py PORTD
"""
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import xml.etree.ElementTree as ET
import zlib

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def echo_server():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)

    def serve(conn):
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def accept():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return srv


def png_pixels(path):
    """Decodes an 8-bit RGB or RGBA PNG (what Chromium writes) into rows of bytes."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6), f"PNG depth {depth} colour type {colour}"
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return rows, channels


def main():
    portd = sys.argv[1]
    browser = shutil.which("chromium")
    if browser is None:
        print("FAIL chromium is not installed (.ci/setup installs it)")
        sys.exit(1)
    srv = echo_server()
    port = srv.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        result = os.path.join(tmp, "result.json")
        r = subprocess.run([portd, "load", f"tcp://127.0.0.1:{port}", "--rate", "500", "-d", "2s",
                            "-q", "--json", result], capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, f"portd load ran {r.stderr.strip()}")
        answered = json.load(open(result))["counters"]["completed"]
        check(answered == 1000, f"1000 requests answered ({answered})")

        svg, html = os.path.join(tmp, "charts.svg"), os.path.join(tmp, "page.html")
        r = subprocess.run([portd, "load", "report", result, "--svg", svg, "--html", html],
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 0 and "requests/s" in r.stdout, f"report ran {r.stderr.strip()}")

        ns = {"s": "http://www.w3.org/2000/svg"}
        root = ET.parse(svg).getroot()
        ids = {g.get("id") for g in root.iter(f"{{{ns['s']}}}g")}
        check({"spectrum", "throughput"} <= ids, f"the SVG has both charts ({ids})")
        classes = {p.get("class"): p.get("d") for p in root.iter(f"{{{ns['s']}}}path")}
        for c in ("corrected", "uncorrected", "answers", "errors"):
            check(c in classes and classes[c].count("L") >= 2, f"the SVG draws the {c} line")

        base = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                f"--user-data-dir={tmp}/profile"]
        dom = subprocess.run(base + ["--dump-dom", f"file://{html}"], capture_output=True,
                             text=True, timeout=120)
        for element in ('id="spectrum"', 'id="throughput"', 'class="corrected"',
                        'class="uncorrected"', 'class="answers"', 'id="summary"'):
            check(element in dom.stdout, f"the page as Chromium loaded it has {element}")

        shot = os.path.join(tmp, "page.png")
        subprocess.run(base + [f"--screenshot={shot}", "--window-size=900,1000", f"file://{html}"],
                       capture_output=True, text=True, timeout=120)
        check(os.path.exists(shot) and os.path.getsize(shot) > 0, "Chromium took a screenshot")
        if os.path.exists(shot):
            rows, ch = png_pixels(shot)
            # The corrected line is drawn in #c0392b; anti-aliasing blends its edges, so look
            # for strongly red pixels.
            red = sum(1 for row in rows for i in range(0, len(row), ch)
                      if row[i] > 150 and row[i + 1] < 90 and row[i + 2] < 90)
            check(red > 200, f"the screenshot shows the red latency line ({red} red pixels)")
    srv.close()
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)


main()
