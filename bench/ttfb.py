#!/usr/bin/env python3
"""Time to first streamed chunk: an upstream called directly vs. through the gateway.

oha times whole responses, which for a stream is dominated by the upstream's
pacing between chunks. This tool measures what a streaming client feels
first: the time from sending the request to receiving the first body bytes
(the first SSE event) of the response.

It sends N sequential streaming requests to each target, alternating the two
targets request by request (and which one goes first), over one keep-alive
connection per target with TCP_NODELAY, and prints a JSON report:

    {"direct": {...stats...}, "gateway": {...stats...}, "added": {...}}

with times in milliseconds. Standard library only; HTTP/1.1 over a plain
socket, with just enough parsing for Content-Length and chunked bodies.

Usage:
    ttfb.py --direct http://127.0.0.1:9001/v1/chat/completions \
            --gateway http://127.0.0.1:4000/v1/chat/completions [-n 200]
"""

from __future__ import annotations

import argparse
import json
import math
import socket
import statistics
import sys
import time
from urllib.parse import urlsplit

DEFAULT_BODY = (
    '{"model":"chat","messages":[{"role":"user","content":"hello benchmark"}],'
    '"stream":true}'
)


class HttpError(Exception):
    pass


class Target:
    """One keep-alive HTTP/1.1 connection to a URL, reconnecting when needed."""

    def __init__(self, url: str, body: bytes, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise SystemExit(f"ttfb.py: only plain http:// URLs are supported: {url}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.timeout = timeout
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        host_header = f"{self.host}:{self.port}"
        # Head and body in one buffer, sent with one sendall: no Nagle stall.
        self.request = (
            f"POST {path} HTTP/1.1\r\n"
            f"Host: {host_header}\r\n"
            "Content-Type: application/json\r\n"
            "Accept: text/event-stream\r\n"
            f"Content-Length: {len(body)}\r\n"
            "\r\n"
        ).encode("ascii") + body
        self.sock: socket.socket | None = None

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def measure(self) -> tuple[float, float, float]:
        """One request; returns seconds to (response head, first body bytes, end of body)."""
        if self.sock is None:
            self.sock = self._connect()
        sock = self.sock
        t0 = time.perf_counter()
        sock.sendall(self.request)
        try:
            t_head, t_first, t_end, keep_alive = self._read_response(sock, t0)
        except Exception:
            self.close()
            raise
        if not keep_alive:
            self.close()
        return t_head - t0, t_first - t0, t_end - t0

    def _read_response(self, sock: socket.socket, t0: float):
        buf = b""
        # --- response head
        while b"\r\n\r\n" not in buf:
            data = sock.recv(65536)
            if not data:
                raise HttpError("connection closed before the response head")
            buf += data
        t_head = time.perf_counter()
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if status != 200:
            raise HttpError(f"HTTP {status}")
        keep_alive = headers.get("connection", "").lower() != "close"
        t_first = None

        def more() -> bytes:
            data = sock.recv(65536)
            if not data:
                raise HttpError("connection closed in the middle of the body")
            return data

        body = bytearray()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            while True:
                while b"\r\n" not in buf:
                    buf += more()
                size_line, buf = buf.split(b"\r\n", 1)
                size = int(size_line.split(b";", 1)[0], 16)
                if size == 0:
                    # Trailers (normally none), then the final CRLF.
                    while not (buf.startswith(b"\r\n") or b"\r\n\r\n" in buf):
                        buf += more()
                    break
                if t_first is None:
                    # First chunk's data: at least one byte of it must be here.
                    while not buf:
                        buf += more()
                    t_first = time.perf_counter()
                while len(buf) < size + 2:
                    buf += more()
                body += buf[:size]
                buf = buf[size + 2 :]
        elif "content-length" in headers:
            length = int(headers["content-length"])
            if length > 0:
                while not buf:
                    buf += more()
                t_first = time.perf_counter()
            while len(buf) < length:
                buf += more()
            body += buf[:length]
        else:
            # Delimited by connection close.
            keep_alive = False
            while True:
                if buf and t_first is None:
                    t_first = time.perf_counter()
                body += buf
                buf = sock.recv(65536)
                if not buf:
                    break
        t_end = time.perf_counter()
        if t_first is None:
            raise HttpError("empty response body")
        if b"data:" not in body or b"[DONE]" not in body:
            raise HttpError(f"not a complete SSE stream: {bytes(body[:200])!r}")
        return t_head, t_first, t_end, keep_alive


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(p / 100.0 * len(sorted_values))))
    return sorted_values[rank - 1]


def stats_ms(samples: list[float]) -> dict:
    values = sorted(s * 1000.0 for s in samples)
    return {
        "n": len(values),
        "min": values[0] if values else float("nan"),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": values[-1] if values else float("nan"),
        "mean": statistics.fmean(values) if values else float("nan"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--direct", required=True, help="chat completions URL of the upstream")
    parser.add_argument("--gateway", required=True, help="chat completions URL of the gateway")
    parser.add_argument("-n", type=int, default=200, help="measured requests per target")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured requests per target")
    parser.add_argument("--body", default=DEFAULT_BODY, help="request body (JSON, stream: true)")
    parser.add_argument("--timeout", type=float, default=10.0, help="socket timeout, seconds")
    args = parser.parse_args()

    body = args.body.encode("utf-8")
    targets = {
        "direct": Target(args.direct, body, args.timeout),
        "gateway": Target(args.gateway, body, args.timeout),
    }
    head = {name: [] for name in targets}
    first = {name: [] for name in targets}
    total = {name: [] for name in targets}
    errors = {name: 0 for name in targets}
    last_error = {name: None for name in targets}

    for i in range(args.warmup + args.n):
        # Alternate request by request, and swap who goes first each round.
        order = ("direct", "gateway") if i % 2 == 0 else ("gateway", "direct")
        for name in order:
            try:
                t_head, t_first, t_end = targets[name].measure()
            except (OSError, HttpError, ValueError) as error:
                if i >= args.warmup:
                    errors[name] += 1
                last_error[name] = str(error)
                continue
            if i >= args.warmup:
                head[name].append(t_head)
                first[name].append(t_first)
                total[name].append(t_end)
    for target in targets.values():
        target.close()

    report = {"unit": "ms", "requests_per_target": args.n}
    for name in targets:
        report[name] = {
            "first_chunk": stats_ms(first[name]),
            "head": stats_ms(head[name]),
            "total": stats_ms(total[name]),
            "errors": errors[name],
            "last_error": last_error[name],
        }
    report["added_first_chunk"] = {
        key: report["gateway"]["first_chunk"][key] - report["direct"]["first_chunk"][key]
        for key in ("p50", "p90", "p99", "mean")
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0 if not any(errors.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
