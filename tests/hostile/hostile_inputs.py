"""Hostile inputs built on the fly (nothing large is committed): each function writes one case."""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# the stub LLM servers of the tests (tests/stub_llm.py), also when this runs in a benchmark's child
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from stub_llm import MODELS, JsonServer, Reply, completion, send_bytes  # noqa: E402

MB = 1 << 20


def slow_pdf(path: Path, depth: int = 7, fan_out: int = 10) -> Path:
    """A one-page PDF whose render draws fan_out**depth paths: form XObject i draws form i+1 `fan_out`
    times (the "billion laughs" of PDF). A few hundred bytes; at depth 7 MuPDF renders for minutes."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    stream = b"0 0 m 40 0 l 40 40 l 0 40 l h f 0 0 m 30 5 l 5 30 l h f"  # the innermost form: two paths
    resources = ""
    for level in range(depth):
        if level:  # draw the previous form fan_out times
            stream = b" ".join(f"q 0.9 0 0 0.9 {i % 4} {i // 4} cm /F Do Q".encode() for i in range(fan_out))
            resources = f"/Resources << /XObject << /F {len(objects)} 0 R >> >>"
        add(
            f"<< /Type /XObject /Subtype /Form /BBox [0 0 600 800] {resources} /Length {len(stream)} >>\n"
            f"stream\n".encode()
            + stream
            + b"\nendstream"
        )
    top = len(objects)
    content = b"q 1 0 0 1 10 10 cm /F Do Q"
    content_obj = add(f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream")
    pages_obj = len(objects) + 2
    page_obj = add(
        f"<< /Type /Page /Parent {pages_obj} 0 R /MediaBox [0 0 612 792] "
        f"/Resources << /XObject << /F {top} 0 R >> >> /Contents {content_obj} 0 R >>".encode()
    )
    add(f"<< /Type /Pages /Kids [{page_obj} 0 R] /Count 1 >>".encode())
    catalog = add(f"<< /Type /Catalog /Pages {pages_obj} 0 R >>".encode())
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root {catalog} 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    path.write_bytes(out.getvalue())
    return path


def gzip_repeat(prefix: bytes, block: bytes, count: int, suffix: bytes = b"") -> Iterator[bytes]:
    """One gzip member of prefix + block * count + suffix, made without compressing count blocks: after a
    full flush the deflate state is reset, so every copy of the block compresses to the same bytes.
    1 MiB of zeros is ~1 KB: a 1.2 GB bomb is ~1.2 MB and takes a second to write."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = deflate.compress(prefix) + deflate.flush(zlib.Z_FULL_FLUSH)
    once = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    tail = deflate.compress(suffix) + deflate.flush(zlib.Z_FINISH)
    crc = zlib.crc32(prefix)
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(suffix, crc)
    size = len(prefix) + len(block) * count + len(suffix)
    yield b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + head
    for _ in range(count):
        yield once
    yield tail + struct.pack("<II", crc, size & 0xFFFFFFFF)


def _warc_head(url: str, length: int, number: int) -> bytes:
    return (
        "WARC/1.0\r\nWARC-Type: response\r\n"
        f"WARC-Target-URI: {url}\r\nWARC-Date: 2024-01-01T00:00:00Z\r\n"
        f"WARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-{number:012d}>\r\n"
        f"Content-Type: application/http; msgtype=response\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def _http_head(length: int, encoding: str | None = None) -> bytes:
    lines = ["HTTP/1.1 200 OK", "Content-Type: text/html; charset=utf-8", f"Content-Length: {length}"]
    if encoding:
        lines.append(f"Content-Encoding: {encoding}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


GOOD_PAGE = (
    b"<html><head><title>A good page</title></head><body><article><p>"
    b"This page comes after the hostile record in the same file, and it must still be read. The "
    b"reader skips what it cannot hold, writes down why, and then goes on with the next record, as "
    b"a careful person would do with a damaged book: one torn chapter is noted, and the rest of the "
    b"story is still there to be read from the first page to the last one.</p></article></body></html>"
)


def good_record(number: int = 99) -> bytes:
    """A small, normal HTML response record (uncompressed WARC bytes)."""
    http = _http_head(len(GOOD_PAGE)) + GOOD_PAGE
    return _warc_head("http://good.example/", len(http), number) + http + b"\r\n\r\n"


def gzip_member(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def warc_content_encoding_bomb(path: Path, decoded_mb: int = 1200) -> Path:
    """A .warc.gz whose first HTML response is sent with `Content-Encoding: gzip` and decodes to
    `decoded_mb` MiB of spaces (stored: ~1 KB per MiB), then a good page."""
    body = b"".join(gzip_repeat(b"<html><body><p>", b" " * MB, decoded_mb, b"</p></body></html>"))
    http = _http_head(len(body), "gzip") + body
    record = _warc_head("http://bomb.example/content-encoding", len(http), 1) + http + b"\r\n\r\n"
    path.write_bytes(gzip_member(record) + gzip_member(good_record()))
    return path


def warc_member_bomb(path: Path, decoded_mb: int = 1200) -> Path:
    """A .warc.gz whose first record is one gzip member that decompresses to `decoded_mb` MiB (an
    HTML response of that size), then a good page."""
    http_head = _http_head(decoded_mb * MB)
    prefix = _warc_head("http://bomb.example/member", len(http_head) + decoded_mb * MB, 1) + http_head
    with open(path, "wb") as out:
        for piece in gzip_repeat(prefix, b" " * MB, decoded_mb, b"\r\n\r\n"):
            out.write(piece)
        out.write(gzip_member(good_record()))
    return path


def warc_huge_html(path: Path, size_mb: int = 200) -> Path:
    """An uncompressed .warc with one `size_mb` MiB HTML page (many real-looking paragraphs), then a
    good page. Written in pieces: the test process never holds it."""
    paragraph = b"<p>" + b"Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 16 + b"</p>\n"
    count = size_mb * MB // len(paragraph)
    body_len = len(b"<html><body>") + count * len(paragraph) + len(b"</body></html>")
    http_head = _http_head(body_len)
    with open(path, "wb") as out:
        out.write(_warc_head("http://huge.example/", len(http_head) + body_len, 1) + http_head)
        out.write(b"<html><body>")
        block = paragraph * 1000
        for _ in range(count // 1000):
            out.write(block)
        out.write(paragraph * (count % 1000))
        out.write(b"</body></html>\r\n\r\n")
        out.write(good_record())
    return path


def html_gz_bomb(path: Path, decoded_mb: int = 1200) -> Path:
    """A saved page `x.html.gz` that decompresses to `decoded_mb` MiB."""
    with open(path, "wb") as out:
        for piece in gzip_repeat(b"<html><body><p>", b" " * MB, decoded_mb, b"</p></body></html>"):
            out.write(piece)
    return path


def warc_lying_length(path: Path, line_mb: int = 1200) -> Path:
    """A .warc.gz: a good page, then a record whose Content-Length says 10 bytes, followed by `line_mb`
    MiB on one line without a newline (one gzip member: ~1 KB per MiB, 1.2 MB for 1.2 GB)."""
    head = _warc_head("http://liar.example/", 10, 2) + b"HTTP/1.1 2"  # the 10 bytes it claims
    with open(path, "wb") as out:
        out.write(gzip_member(good_record()))
        for piece in gzip_repeat(head, b"A" * MB, line_mb):
            out.write(piece)
    return path


def yaml_alias_bomb(path: Path, levels: int = 9) -> Path:
    """A `--config` of a few hundred bytes whose aliases expand to 9**levels strings ("billion laughs")."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    lines.append(f"max_pages: *a{levels - 1}")
    path.write_text("\n".join(lines) + "\n")
    return path


def truncate(path: Path, keep: float = 0.5) -> Path:
    """Cut a file to `keep` of its size, as a full disk or a killed copy leaves it."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


# ---- servers on 127.0.0.1 (port 0: chosen at run time) ----


class LocalServer:
    """A ThreadingHTTPServer on 127.0.0.1 in a thread, with the paths it was asked for."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        self.requests: list[str] = []
        outer = self

        class Handler(handler):
            def log_message(self, *args):
                pass

            def parse_request(self):
                ok = super().parse_request()
                if ok:
                    outer.requests.append(self.path)
                return ok

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> LocalServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def tiny_png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


class ImageSiteHandler(BaseHTTPRequestHandler):
    """/drip.png: one byte a second; /bomb.png: `Content-Encoding: gzip`, 1.2 GB once decoded;
    /redirect.png -> /private/x.png, which robots.txt disallows; /ok.png: a real image."""

    def do_GET(self):
        if self.path == "/robots.txt":
            return self._send(b"User-agent: *\nDisallow: /private/\n", "text/plain")
        if self.path == "/ok.png" or self.path.startswith("/private/"):
            return self._send(tiny_png(), "image/png")
        if self.path == "/redirect.png":
            self.send_response(302)
            self.send_header("Location", "/private/x.png")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if self.path == "/bomb.png":
            body = b"".join(gzip_repeat(b"\x89PNG\r\n\x1a\n", b"\0" * MB, 1200))
            return self._send(body, "image/png", {"Content-Encoding": "gzip"})
        if self.path == "/drip.png":
            data = tiny_png()
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                for i in range(len(data)):
                    self.wfile.write(data[i : i + 1])
                    self.wfile.flush()
                    time.sleep(1.0)
            except OSError:
                pass
            return None
        self.send_error(404)
        return None

    def _send(self, body: bytes, content_type: str, headers: dict | None = None) -> None:
        send_bytes(self, 200, body, content_type, headers)


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never answers a completion (holds them until stopped);
    its model listing answers, as an overloaded server's does."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(conn)
            threading.Thread(target=self._models, args=(conn,), daemon=True).start()

    @staticmethod
    def _models(conn: socket.socket) -> None:
        try:
            request = conn.recv(4096)
            if request.startswith(b"GET") and b"/models" in request.split(b"\r\n", 1)[0]:
                body = b'{"object": "list", "data": [{"id": "silent"}]}'
                head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                conn.sendall(head.encode() + body)
        except OSError:
            pass

    def __enter__(self) -> SilentServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()
        for conn in self.connections:
            conn.close()


QA_REPLY = json.dumps([{"question": "What colour is the sky?", "answer": "The sky is blue."}])


class PoisonLLM(JsonServer):
    """An OpenAI-compatible stub: a request whose prompt holds POISON gets JSON without `choices`."""

    def respond(self, method: str, headers: Mapping[str, str], payload: dict | None) -> Reply:
        if method == "GET":
            return 200, MODELS
        if "POISON" in json.dumps(payload["messages"]):
            return 200, {"object": "error", "message": "the model is overloaded"}
        return 200, completion(QA_REPLY, {"prompt_tokens": 10, "completion_tokens": 10})


# ---- measuring a run in a child process ----


def measure(command: list[str], timeout: float = 300, cwd: str | None = None) -> dict:
    """Run `command`; return its exit code, output, peak RSS (MB, the child and the processes it waited
    for) and wall time (s)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    started = time.monotonic()
    # Linux starts a forked child's peak RSS at its parent's RSS (a test process that has loaded models
    # is hundreds of MB): the command is forked from a small launcher, which reports the command's own
    # peak on its last stderr line
    process = subprocess.Popen(
        [sys.executable, "-c", _LAUNCHER, *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
        text=True,
        start_new_session=True,  # a timeout kills the launcher and the command together
    )
    timer = threading.Timer(timeout, lambda: os.killpg(process.pid, signal.SIGKILL))
    timer.start()
    out_chunks: dict[str, str] = {}

    def drain(name, stream):
        out_chunks[name] = stream.read()

    readers = [
        threading.Thread(target=drain, args=(n, s))
        for n, s in (("out", process.stdout), ("err", process.stderr))
    ]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - started
    timer.cancel()
    for reader in readers:
        reader.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr, _, peak = out_chunks.get("err", "").rstrip("\n").rpartition("\n")
    peak_kb = int(peak.removeprefix("peak_rss_kb=")) if peak.startswith("peak_rss_kb=") else usage.ru_maxrss
    return {
        "returncode": process.returncode,
        "stdout": out_chunks.get("out", ""),
        "stderr": stderr if peak.startswith("peak_rss_kb=") else out_chunks.get("err", ""),
        "rss_mb": peak_kb / 1024,
        "wall_s": wall,
    }


_LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(child.pid, 0)
print(f"peak_rss_kb={usage.ru_maxrss}", file=sys.stderr, flush=True)
sys.exit(os.waitstatus_to_exitcode(status))
"""
