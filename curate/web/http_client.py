"""The image HTTP(S) client: concurrent, with timeouts, retries, size caps and a content check,
honouring opt-out signals (X-Robots-Tag noai/noimageai, robots.txt of every redirect hop), and refusing
private, loopback, link-local and other non-public addresses unless `allow_private` (the host is resolved
once and every address checked, at each redirect hop, and the connection goes to a checked address, so a
DNS answer that changes in between never reaches another host). Each download has an overall deadline
(`deadline` seconds, retries and redirects included) and a cap on its body both as sent and after
Content-Encoding decoding. Every network or data failure comes back as a reason (a bug in our code
still raises, see curate/errors.py).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import requests
import urllib3

from curate.errors import FetchError
from curate.net import AddressRefused, Deadline, DeadlineAdapter, current_deadline
from curate.secrets import redact_url
from curate.web.images import sniff_format

USER_AGENT = "curate-image-fetcher/0.1 (+https://github.com/curate; research data curation)"
OPT_OUT_TOKENS = ("noai", "noimageai")
RETRY_STATUSES = {429, 500, 502, 503, 504}


@dataclass
class FetchResult:
    url: str
    data: bytes | None = None
    kind: str | None = None  # short failure name, e.g. private_address, timeout, http_404, opt_out
    reason: str | None = None  # what failed, for the error sink
    status: int | None = None
    content_type: str | None = None
    final_url: str | None = None
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return self.data is not None


def address_problem(ip: str) -> str | None:
    """Why an IP address must not be contacted (not a public unicast address), or None."""
    addr = ipaddress.ip_address(ip.split("%")[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    for name in (
        "is_loopback",
        "is_link_local",
        "is_private",
        "is_multicast",
        "is_reserved",
        "is_unspecified",
    ):
        if getattr(addr, name):
            return name.removeprefix("is_").replace("_", "-")
    if not addr.is_global:
        return "non-global"
    return None


def peer_address(response) -> str | None:
    """The IP a requests response came from (best effort: None when urllib3 does not expose it)."""
    try:
        return response.raw._fp.fp.raw._sock.getpeername()[0]
    except (AttributeError, OSError, IndexError, TypeError):
        return None


def opt_out_directives(header_value: str | None, tokens: tuple[str, ...] = OPT_OUT_TOKENS) -> list[str]:
    """The opt-out directives of an X-Robots-Tag (or robots meta) value, e.g. ['noai']."""
    if not header_value:
        return []
    found = []
    for part in header_value.lower().replace(";", ",").split(","):
        directive = part.split(":")[-1].strip()  # "otherbot: noai" names an agent; we honour every agent
        if directive in tokens or (directive == "none" and "noai" in tokens):
            found.append(directive)
    return found


class ImageFetcher:
    """Fetches image URLs safely. Thread-safe; `fetch_all` fetches concurrently with `workers` threads."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.5,
        max_bytes: int = 20 << 20,
        deadline: float = 30.0,
        workers: int = 32,
        respect_robots: bool = True,
        robots_agent: str = "curate",
        opt_out_tokens: tuple[str, ...] = OPT_OUT_TOKENS,
        max_redirects: int = 3,
        user_agent: str = USER_AGENT,
    ):
        import requests

        self.deadline = deadline
        self.allow_private, self.timeout, self.retries, self.backoff = (
            allow_private,
            timeout,
            retries,
            backoff,
        )
        self.max_bytes, self.workers, self.max_redirects = max_bytes, workers, max_redirects
        self.respect_robots, self.robots_agent, self.opt_out_tokens = (
            respect_robots,
            robots_agent,
            opt_out_tokens,
        )
        self.session = requests.Session()
        adapter = DeadlineAdapter(
            self.pinned_addresses, pool_connections=64, pool_maxsize=max(workers, 10), max_retries=0
        )
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = user_agent
        self._hosts: dict[tuple[str, int], tuple[str | None, list[str]]] = {}
        self._robots: dict[str, RobotFileParser | None] = {}
        self._robots_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    # ---- checks ----

    def _resolve(self, host: str, port: int) -> tuple[str | None, list[str]]:
        """(problem, addresses): resolve the host once and check every address it has (cached per host
        for this fetcher); connections then go to these addresses only (`pinned_addresses`)."""
        key = (host, port)
        if key in self._hosts:
            return self._hosts[key]
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError, OSError) as exc:
            raise FetchError("dns", f"cannot resolve {host!r}: {exc}") from None
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        problem = None
        if not self.allow_private:
            for address in addresses:
                why = address_problem(address)
                if why:
                    problem = f"{host} resolves to {address} ({why}); refused (allow_private is off)"
                    break
        self._hosts[key] = (problem, addresses)
        return problem, addresses

    def host_problem(self, host: str, port: int) -> str | None:
        """Why the host must not be contacted (one of its addresses is not public), or None."""
        return self._resolve(host, port)[0]

    def pinned_addresses(self, host: str, port: int) -> list[str]:
        """The checked addresses a connection to host:port may use (called by the connection itself)."""
        try:
            problem, addresses = self._resolve(host.strip("[]"), port)
        except FetchError as exc:
            raise AddressRefused(str(exc)) from None
        if problem:
            raise AddressRefused(problem)
        return addresses

    def _check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError("unsupported_url", f"not an http(s) URL: {url[:200]}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        problem = self.host_problem(parts.hostname, port)
        if problem:
            raise FetchError("private_address", problem)

    def _robots_for(self, origin: str) -> RobotFileParser | None:
        if origin in self._robots:  # fast path, no lock: entries are only ever added
            return self._robots[origin]
        with self._lock:
            lock = self._robots_locks.setdefault(origin, threading.Lock())
        with lock:
            if origin in self._robots:
                return self._robots[origin]
            parser: RobotFileParser | None = None
            try:
                response = self._get(origin + "/robots.txt", robots=False)
                status = response.status_code
                body = self._read(response, 512 << 10) if status == 200 else b""
                response.close()
            except FetchError as exc:
                if exc.kind in ("private_address", "dns", "unsupported_url"):
                    raise
                status, body, problem = 0, b"", exc
            if status == 200:
                parser = RobotFileParser()
                parser.parse(body.decode("utf-8", "replace").splitlines())
            elif status == 0 or status >= 500:  # unreachable robots.txt: assume a full disallow (RFC 9309)
                parser = RobotFileParser()
                parser.disallow_all = True
                parser.unreachable = (  # type: ignore[attr-defined]
                    f"HTTP {status}" if status else f"{problem.kind}: {problem.reason}"[:200]
                )
            self._robots[origin] = parser  # None: no robots.txt (4xx), everything allowed
            return parser

    def _robots_allow(self, url: str) -> None:
        parts = urlsplit(url)
        parser = self._robots_for(f"{parts.scheme}://{parts.netloc}")
        unreachable = getattr(parser, "unreachable", None)
        if unreachable:  # not the site's word: said as it is, a kind of its own
            raise FetchError(
                "robots_unreachable",
                f"robots.txt of {redact_url(f'{parts.scheme}://{parts.netloc}')} could not be read ({unreachable}): "
                "not fetched (RFC 9309: an unreachable robots.txt means a full disallow)",
            )
        if parser is not None and not parser.can_fetch(self.robots_agent, url):
            raise FetchError("robots_txt", f"disallowed by robots.txt for agent {self.robots_agent!r}")

    # ---- requests ----

    def _get(self, url: str, robots: bool | None = None):
        """GET following redirects by hand, so that every hop's address (and robots.txt) is checked."""
        import requests

        robots = self.respect_robots if robots is None else robots
        for _ in range(self.max_redirects + 1):
            self._check_url(url)
            if robots:
                self._robots_allow(url)
            try:
                response = self.session.get(url, stream=True, timeout=self._timeout(), allow_redirects=False)
            except AddressRefused as exc:
                raise FetchError("private_address", str(exc)) from None
            except requests.Timeout as exc:
                self._check_deadline()
                raise FetchError("timeout", f"timed out after {self.timeout}s: {exc}", retry=True) from None
            except requests.ConnectionError as exc:
                self._check_deadline()
                raise FetchError("connection", f"connection failed: {exc}"[:300], retry=True) from None
            except requests.RequestException as exc:
                raise FetchError("request", f"{type(exc).__name__}: {exc}"[:300]) from None
            self._check_deadline()
            self._check_peer(response)
            if response.is_redirect and response.headers.get("location"):
                url = urljoin(url, response.headers["location"])
                response.close()
                continue
            response.final_url = url
            return response
        raise FetchError("too_many_redirects", f"more than {self.max_redirects} redirects")

    def _timeout(self) -> float:
        """Per-read timeout, never past the download's deadline."""
        deadline = self._deadline()
        return self.timeout if deadline is None else max(0.05, min(self.timeout, deadline.remaining()))

    @staticmethod
    def _deadline() -> Deadline | None:
        return current_deadline()

    def _check_deadline(self) -> None:
        deadline = self._deadline()
        if deadline is not None and (deadline.expired or deadline.remaining() <= 0):
            raise FetchError("deadline", f"download not finished within fetch_deadline={deadline.seconds:g}s")

    def _check_peer(self, response) -> None:
        """The address actually connected to must pass the same check: a host whose DNS answer changed
        between our lookup and the connection (DNS rebinding) is caught here, before the body is read."""
        if self.allow_private:
            return
        peer = peer_address(response)
        if peer and address_problem(peer):
            response.close()
            raise FetchError("private_address", f"connected to {peer} ({address_problem(peer)}); refused")

    def _read(self, response, max_bytes: int) -> bytes:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise FetchError("too_large", f"Content-Length {declared} > max_bytes={max_bytes}")
        chunks, size = [], 0
        try:
            # urllib3 decodes at most one chunk's size per read, so a gzip bomb is stopped at the cap
            for chunk in response.iter_content(1 << 16):
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError("too_large", f"body larger than max_bytes={max_bytes} once decoded")
                if response.raw.tell() > max_bytes:  # bytes as sent, before Content-Encoding decoding
                    raise FetchError("too_large", f"body larger than max_bytes={max_bytes} as sent")
                chunks.append(chunk)
            self._check_deadline()  # a socket shut down at the deadline reads as a (short) end of body
        except FetchError:
            raise
        # a body cut or garbled on the wire (chunking, content decoding, reset, read timeout), or a socket
        # shut down at the deadline
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            self._check_deadline()
            raise FetchError(
                "connection", f"body read failed: {type(exc).__name__}: {exc}"[:300], True
            ) from None
        finally:
            response.close()
        return b"".join(chunks)

    def _fetch_once(self, url: str, result: FetchResult) -> bytes:
        response = self._get(url)
        result.status, result.final_url = response.status_code, response.final_url
        result.content_type = response.headers.get("content-type")
        if response.status_code != 200:
            response.close()
            raise FetchError(
                f"http_{response.status_code}",
                f"HTTP {response.status_code}",
                retry=response.status_code in RETRY_STATUSES,
            )
        opted_out = opt_out_directives(response.headers.get("x-robots-tag"), self.opt_out_tokens)
        if opted_out:
            response.close()
            raise FetchError("opt_out", f"X-Robots-Tag opts out: {', '.join(opted_out)}")
        data = self._read(response, self.max_bytes)
        if not data:
            raise FetchError("empty", "empty body")
        if sniff_format(data) is None and not (result.content_type or "").lower().startswith("image/"):
            raise FetchError(
                "not_an_image", f"content is not an image (Content-Type {result.content_type!r})"
            )
        return data

    def fetch(self, url: str) -> FetchResult:
        """Fetch one image URL; failures come back in the result with their reason."""
        result = FetchResult(url)
        with Deadline(self.deadline) as deadline:
            for attempt in range(self.retries + 1):
                result.attempts = attempt + 1
                try:
                    result.data = self._fetch_once(url, result)
                    result.kind = result.reason = None
                    return result
                except FetchError as exc:
                    result.kind, result.reason = exc.kind, str(exc)
                    if not exc.retry or attempt == self.retries:
                        return result
                # a URL that the HTTP stack cannot even parse (bad IPv6 literal, IDNA, ...) is bad data;
                # anything else is a bug and stops the task with its traceback
                except (
                    ValueError,
                    UnicodeError,
                    requests.RequestException,
                    urllib3.exceptions.HTTPError,
                ) as exc:
                    result.kind, result.reason = "bad_url", f"{type(exc).__name__}: {exc}"[:300]
                    return result
                pause = self.backoff * (2**attempt)
                if pause >= deadline.remaining():
                    result.reason += f"; no time left for a retry within fetch_deadline={self.deadline:g}s"
                    return result
                time.sleep(pause)
        return result

    def fetch_all(self, urls: list[str]) -> dict[str, FetchResult]:
        """Fetch distinct URLs concurrently; returns a result per URL."""
        unique = list(dict.fromkeys(urls))
        if not unique:
            return {}
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="fetch")
        return dict(zip(unique, self._pool.map(self.fetch, unique), strict=True))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.session.close()
