#!/usr/bin/env python3
"""Talks to the example plugins loaded by sdk_test.sh; exits non-zero on the first mismatch.

usage: sdk_client.py TCP_HOST:PORT UDP_HOST:PORT DELAY_MS PREFIX MAX_LINE MAX_BYTES
"""
import socket
import sys
import time

TIMEOUT = 5.0


def fail(message):
    print(f"sdk_client: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def split(endpoint):
    host, port = endpoint.rsplit(":", 1)
    return host.strip("[]"), int(port)


class Lines:
    """A TCP connection read line by line, with a deadline on every read."""

    def __init__(self, endpoint):
        self.sock = socket.create_connection(split(endpoint), timeout=TIMEOUT)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                fail(f"connection closed while waiting for a line; got {self.buf!r}")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def expect_eof(self):
        self.sock.settimeout(TIMEOUT)
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return
            self.buf += chunk

    def close(self):
        self.sock.close()


def expect(got, want, what):
    if got != want:
        fail(f"{what}: expected {want!r}, got {got!r}")


def tcp(endpoint, delay_ms, prefix, max_line):
    delay = delay_ms / 1000.0
    a = Lines(endpoint)
    b = Lines(endpoint)

    # Two lines in one segment: answered in order, each no sooner than the delay.
    start = time.monotonic()
    a.send(b"hello\nworld\n")
    expect(a.line(), f"{prefix}1: hello", "first answer on connection A")
    first = time.monotonic() - start
    expect(a.line(), f"{prefix}2: world", "second answer on connection A")
    # The daemon's loop clock counts whole milliseconds and may lag by a coarse clock's tick,
    # so its timer may end up to 2 ms early by this clock (see kLoopClockSlack in the C++ tests).
    if first < delay - 0.002:
        fail(f"first answer after {first * 1000:.0f} ms, before the {delay_ms} ms delay")
    print(f"sdk_client: delayed answer after {first * 1000:.0f} ms (delay {delay_ms} ms)")

    # Connection B has its own counter; A's goes on. CRLF is accepted.
    b.send(b"x\r\n")
    a.send(b"again\n")
    expect(b.line(), f"{prefix}1: x", "first answer on connection B")
    expect(a.line(), f"{prefix}3: again", "third answer on connection A")

    # Many lines sent in pieces that split lines: every one comes back, in order.
    payload = b"".join(b"line %d\n" % i for i in range(100))
    for i in range(0, len(payload), 7):
        b.send(payload[i:i + 7])
    for i in range(100):
        expect(b.line(), f"{prefix}{i + 2}: line {i}", "pipelined answer on connection B")

    # A last line without its newline is answered when the peer shuts down its side, and then
    # the daemon closes.
    b.send(b"bye")
    b.sock.shutdown(socket.SHUT_WR)
    expect(b.line(), f"{prefix}102: bye", "answer to a line ended by the peer's shutdown")
    b.expect_eof()
    b.close()

    # A line of exactly max_line bytes is fine; a longer one ends the connection with an error,
    # after the lines before it were answered.
    a.send(b"y" * max_line + b"\n" + b"ok\n" + b"z" * (max_line + 1) + b"\n" + b"never\n")
    expect(a.line(), f"{prefix}4: {'y' * max_line}", "answer to a line of max_line bytes")
    expect(a.line(), f"{prefix}5: ok", "answer before the over-long line")
    expect(a.line(), f"error: line longer than {max_line} bytes", "over-long line")
    a.expect_eof()
    expect(a.buf, b"", "nothing after the error line")
    a.close()


def udp(endpoint, max_bytes):
    host, port = split(endpoint)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.settimeout(TIMEOUT)
    s.connect((host, port))

    for payload in (b"hello", b"a", bytes(range(256))[:max_bytes]):
        s.send(payload)
        got = s.recv(65536)
        expect(got, payload[::-1], f"reverse of {len(payload)} bytes")

    # Too long: dropped, and the next datagram is still answered (the reply is that one's).
    s.send(b"x" * (max_bytes + 1))
    s.send(b"after")
    expect(s.recv(65536), b"retfa", "answer after a dropped over-long datagram")
    s.close()

    # A well-known source port is never answered. Binding one needs privileges.
    low = socket.socket(family, socket.SOCK_DGRAM)
    try:
        low.bind((host, 1000))
    except PermissionError:
        print("sdk_client: note: cannot bind source port 1000 here; low-port refusal not checked")
        return
    low.settimeout(0.3)
    low.sendto(b"loop", (host, port))
    try:
        got = low.recv(65536)
        fail(f"a datagram from port 1000 was answered: {got!r}")
    except socket.timeout:
        pass
    low.close()
    print("sdk_client: datagram from source port 1000 not answered")


def main():
    tcp_ep, udp_ep, delay_ms, prefix, max_line, max_bytes = sys.argv[1:7]
    tcp(tcp_ep, int(delay_ms), prefix, int(max_line))
    udp(udp_ep, int(max_bytes))
    print("sdk_client: all checks passed")


if __name__ == "__main__":
    main()
