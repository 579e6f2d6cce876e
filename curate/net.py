"""HTTP with an overall deadline and, optionally, connections pinned to checked addresses.

requests' `timeout` bounds each socket read, not the whole exchange: a server that sends one byte a
second never trips it. `Deadline` bounds the whole exchange (all retries and redirects): when it
expires, the sockets of the connections used under it get a tiny timeout and are shut down, which
ends a read waiting on such a server; the caller then sees `deadline.expired`.

`DeadlineAdapter` is a requests adapter whose connections register with the current thread's
`Deadline`, and, given `resolve(host, port) -> [ip, ...]`, connect only to those addresses: the
address a private-address guard checked is the one connected to, so a DNS answer that changes between
the check and the connection (DNS rebinding) never reaches the other host.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

_current = threading.local()
RECHECK_SECONDS = 0.5  # after expiry, sockets opened since are shut down on this period
EXPIRED_TIMEOUT = 0.001


class AddressRefused(Exception):
    """The host resolves to an address the caller's guard refuses (raised before any connection)."""


class Deadline:
    """A time limit for one logical request in this thread: `with Deadline(30) as d: ...`."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self.expired = False
        self._watched: list = []  # connections, and the sockets they opened (a response may outlive its
        # connection's `sock`: http.client hands the socket to a response that closes the connection)
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._active = False

    def remaining(self) -> float:
        return max(0.0, self.ends - time.monotonic())

    def watch(self, item: HTTPConnection | socket.socket) -> None:
        with self._lock:
            self._watched.append(item)

    def _expire(self) -> None:
        with self._lock:
            if not self._active:
                return
            self.expired = True
            for item in self._watched:
                sock = item if isinstance(item, socket.socket) else getattr(item, "sock", None)
                if sock is not None:
                    try:
                        # the next wait for data times out at once (a drip sends a byte a second);
                        # shutdown alone does not stop a Linux socket from receiving what keeps coming
                        sock.settimeout(EXPIRED_TIMEOUT)
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
            # a connection being set up right now gets its socket after this: look again shortly
            self._timer = threading.Timer(RECHECK_SECONDS, self._expire)
            self._timer.daemon = True
            self._timer.start()

    def __enter__(self) -> Deadline:
        self._previous = getattr(_current, "deadline", None)
        _current.deadline = self
        self._active = True
        self._timer = threading.Timer(self.seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._active = False
            if self._timer is not None:
                self._timer.cancel()
            self._watched.clear()
        _current.deadline = self._previous


def current_deadline() -> Deadline | None:
    return getattr(_current, "deadline", None)


class _WatchedMixin:
    resolve: Callable[[str, int], list[str]] | None = None

    def request(self, *args, **kwargs):  # called in the requesting thread for every request
        deadline = current_deadline()
        if deadline is not None:
            deadline.watch(self)
        return super().request(*args, **kwargs)

    def _new_conn(self) -> socket.socket:
        sock = self._connect()
        deadline = current_deadline()
        if deadline is not None:
            deadline.watch(sock)
        return sock

    def _connect(self) -> socket.socket:
        if self.resolve is None:
            return super()._new_conn()
        addresses = self.resolve(self.host, self.port)  # checked addresses only; may raise AddressRefused
        saved, error = self._dns_host, None
        try:
            for address in addresses:
                self._dns_host = address
                try:
                    return super()._new_conn()
                except (NewConnectionError, ConnectTimeoutError) as exc:
                    error = exc
        finally:
            self._dns_host = saved
        raise error or NewConnectionError(self, f"no address for {self.host}")


class DeadlineAdapter(HTTPAdapter):
    """A requests adapter whose connections obey `Deadline` and, with `resolve`, are pinned."""

    def __init__(self, resolve: Callable[[str, int], list[str]] | None = None, **kwargs):
        attrs = {"resolve": staticmethod(resolve) if resolve else None}
        http = type("WatchedHTTPConnection", (_WatchedMixin, HTTPConnection), attrs)
        https = type("WatchedHTTPSConnection", (_WatchedMixin, HTTPSConnection), attrs)
        self._pools = {
            "http": type("WatchedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
            "https": type("WatchedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
        }
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(self._pools)
