"""A local image web server for the download benches: /img/N.jpg (any extension) is the image the bench
gives for N, /robots.txt allows everything, anything else is 404."""

from __future__ import annotations

import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default backlog of 5 drops connections (1 s SYN retries) at 16 clients


def image_server(image: Callable[[int], tuple[bytes, str]], latency: float = 0.0) -> ThreadingHTTPServer:
    """A server on a free local port; `image(N)` gives /img/N's body and content type, after `latency` s."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive for the clients that use it
        # TCP_NODELAY, as nginx on keep-alive connections: otherwise the body, sent after the headers, waits
        # for the client's delayed ACK (40 ms) on every reused connection
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            time.sleep(latency)
            number = self.path.removeprefix("/img/").split(".")[0]
            if self.path == "/robots.txt":
                (body, kind), status = (b"User-agent: *\nAllow: /\n", "text/plain"), 200
            elif self.path.startswith("/img/") and number.isdigit():
                (body, kind), status = image(int(number)), 200
            else:
                (body, kind), status = (b"not found", "text/plain"), 404
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    return _Server(("127.0.0.1", 0), Handler)
