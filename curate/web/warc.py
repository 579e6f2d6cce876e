"""WARC reading with warcio: HTML responses (URL, date, headers, payload) and stored image responses.

A damaged record (truncated body, failed digest, unreadable gzip member) becomes a `WarcProblem` with
its reason; the file is read on where warcio can go on, and stops with a problem where it cannot.

Bodies are read as streams with two caps, so a hostile record cannot take the memory: the record as
stored (`max_record_bytes`, its WARC Content-Length, checked before any byte is read) and the payload
after HTTP Content-Encoding/chunked decoding (`max_payload_bytes`, counted while reading). An over-cap
record becomes a `too_large` problem. Records not read are skipped in 4 MiB blocks (warcio's own skip
reads 16 KB at a time: 12 s for a 1.2 GB gzip-bomb record, 3 s this way).

Headers are read line by line whatever a record's Content-Length claims: a lying Content-Length leaves
the reader in the middle of a body, where warcio would read a 1.2 GB line without a newline into memory
(and print it to stderr). Every line warcio reads is capped (`MAX_LINE_BYTES`), and so are the bytes of
lines read between two records (`MAX_HEADER_BYTES`); past either, the file is an `unreadable_warc`
problem naming the offset and the record before it.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

HTML_TYPES = ("text/html", "application/xhtml+xml")
# image payloads stored in a WARC are kept in memory up to this size per file, then left for fetching
DEFAULT_IMAGE_BUDGET = 256 << 20
MAX_STORED_IMAGE = 20 << 20
# Caps per record. Common Crawl truncates payloads at 1 MiB; real pages rarely pass a few MB of HTML,
# and lxml takes ~15-20x the HTML's size in memory, so 16 MiB of HTML is ~300 MB to parse.
DEFAULT_MAX_HTML_BYTES = 16 << 20
DEFAULT_MAX_RECORD_BYTES = 64 << 20
READ_BLOCK = 1 << 16
SKIP_BLOCK = 4 << 20
PREPASS_STOP_BYTES = 256 << 20
# a WARC or HTTP header line (long URLs, cookies) is a few KB; a record's header lines, a few hundred KB
MAX_LINE_BYTES = 64 << 10
MAX_HEADER_BYTES = 4 << 20


class HeaderTooLarge(ValueError):
    """A line (or a record's header lines) over the cap: not a WARC header, e.g. after a lying length."""


class _LineCap:
    """Caps what warcio reads with `readline` from its reader: one line at most `max_line` bytes, and
    at most `budget` bytes of lines until `reset()` (called at every record)."""

    def __init__(self, reader, max_line: int = MAX_LINE_BYTES, budget: int = MAX_HEADER_BYTES):
        self.readline_uncapped = reader.readline
        reader.readline = self.readline  # warcio's LimitReaders read through this attribute too
        self.max_line, self.budget, self.used = max_line, budget, 0

    def reset(self) -> None:
        self.used = 0

    def readline(self, length: int | None = None) -> bytes:
        limit = self.max_line + 1 if not length or length > self.max_line else length
        line = self.readline_uncapped(limit)
        while line and not line.endswith(b"\n") and len(line) < limit:  # warcio may stop short of `limit`
            more = self.readline_uncapped(limit - len(line))
            if not more:
                break
            line += more
        self.used += len(line)
        if len(line) > self.max_line and not line.endswith(b"\n"):
            raise HeaderTooLarge(f"a line of over {self.max_line:,} bytes without a newline")
        if self.used > self.budget:
            raise HeaderTooLarge(f"over {self.budget:,} bytes of header lines")
        return line


def _archive_iterator(stream: BinaryIO):
    from warcio.archiveiterator import ArchiveIterator

    class CappedIterator(ArchiveIterator):
        # warcio prints the rest of the line after a record not followed by a blank line: the offset only
        INC_RECORD = "WARNING: WARC record not followed by a blank line at offset {0} (wrong Content-Length?)\n"

    iterator = CappedIterator(stream, check_digests=True, arc2warc=True)
    return iterator, _LineCap(iterator.reader, MAX_LINE_BYTES, MAX_HEADER_BYTES)


@dataclass
class WarcResponse:
    """An HTTP response captured in a WARC file."""

    url: str
    date: str | None
    record_id: str
    status: int
    headers: dict[str, str]  # HTTP headers, lower-cased names
    payload: bytes
    content_type: str = ""
    charset: str | None = None

    @property
    def is_html(self) -> bool:
        return self.content_type in HTML_TYPES or (not self.content_type and _looks_like_html(self.payload))


@dataclass
class WarcProblem:
    """A record (or the rest of a file) that could not be read."""

    reason: str
    url: str | None = None
    record_id: str | None = None
    offset: int | None = None
    kind: str = "malformed_record"


@dataclass
class StoredImages:
    """Image responses found in a WARC, by URL, within a memory budget."""

    budget: int = DEFAULT_IMAGE_BUDGET
    by_url: dict[str, bytes] = field(default_factory=dict)
    used: int = 0

    def add(self, url: str, data: bytes) -> None:
        if data and len(data) <= MAX_STORED_IMAGE and self.used + len(data) <= self.budget:
            self.by_url[url] = data
            self.used += len(data)

    def get(self, url: str) -> bytes | None:
        return self.by_url.get(url)


def _looks_like_html(payload: bytes) -> bool:
    head = payload[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


def _content_type(value: str | None) -> tuple[str, str | None]:
    if not value:
        return "", None
    parts = [p.strip() for p in value.split(";")]
    charset = None
    for p in parts[1:]:
        if p.lower().startswith("charset="):
            charset = p.split("=", 1)[1].strip("\"' ") or None
    return parts[0].lower(), charset


def read_capped(stream: BinaryIO, cap: int) -> bytes | None:
    """The stream's bytes, or None as soon as there are more than `cap` (at most cap + one block read)."""
    chunks, size = [], 0
    while True:
        chunk = stream.read(min(READ_BLOCK, cap + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            return None


def _skip(record) -> None:
    """Read past the rest of a record's block (memory: one SKIP_BLOCK at a time)."""
    while record.raw_stream.read(SKIP_BLOCK):
        pass


def _status(record) -> int:
    try:
        return int(record.http_headers.get_statuscode())
    except (TypeError, ValueError, AttributeError):
        return 0


def iter_responses(
    stream: BinaryIO,
    html: bool = True,
    images: bool = False,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    max_payload_bytes: int = DEFAULT_MAX_HTML_BYTES,
    stop_at_bytes: int | None = None,
    payload_cap_name: str = "max_html_bytes",
) -> Iterator[WarcResponse | WarcProblem]:
    """Responses of a WARC (or ARC) stream in file order; damaged and over-cap records as `WarcProblem`s.

    `html` / `images` choose which responses are yielded; only their bodies are read, and only up to
    the caps (see the module docstring). With `stop_at_bytes`, a record longer than that ends the
    iteration silently (a pass that may stop early, rather than decompress a bomb to skip it).
    """
    from warcio.bufferedreaders import ChunkedDataException
    from warcio.exceptions import ArchiveLoadFailed

    iterator, lines = _archive_iterator(stream)
    records = iter(iterator)
    previous = None  # (url, record id) of the record before: a wrong length is usually its own
    while True:
        lines.reset()
        try:
            record = next(records)
        except StopIteration:
            return
        except (ArchiveLoadFailed, OSError, EOFError, ValueError) as exc:  # the file cannot be read on
            reason = " ".join(str(exc)[:600].split())[:300] or type(exc).__name__
            if isinstance(exc, HeaderTooLarge) and previous:
                reason += f" after record {previous[1]} ({previous[0]}): its Content-Length is likely wrong"
            yield WarcProblem(
                f"unreadable WARC data: {reason}",
                previous[0] if previous else None,
                previous[1] if previous else None,
                offset=iterator.offset,
                kind="too_large" if isinstance(exc, HeaderTooLarge) else "unreadable_warc",
            )
            return
        previous = (
            record.rec_headers.get_header("WARC-Target-URI") or record.rec_headers.get_header("uri"),
            record.rec_headers.get_header("WARC-Record-ID") or f"{record.rec_type} record at {iterator.offset}",
        )
        if stop_at_bytes is not None and (record.length or 0) > stop_at_bytes:
            return
        if record.rec_type != "response" or record.http_headers is None:
            _skip(record)
            continue
        url = record.rec_headers.get_header("WARC-Target-URI") or record.rec_headers.get_header("uri") or ""
        record_id = record.rec_headers.get_header("WARC-Record-ID") or f"{url}@{iterator.offset}"
        content_type, charset = _content_type(record.http_headers.get_header("Content-Type"))
        is_image = content_type.startswith("image/")
        wanted = (html and (content_type in HTML_TYPES or not content_type)) or (images and is_image)
        if not wanted:
            _skip(record)
            continue
        if record.length and record.length > max_record_bytes:
            yield WarcProblem(
                f"record too large: {record.length:,} bytes stored, over max_record_bytes={max_record_bytes:,}",
                url,
                record_id,
                kind="too_large",
            )
            _skip(record)
            continue
        try:
            payload = read_capped(record.content_stream(), max_payload_bytes)
        # bad chunking (warcio's ChunkedDataException) or compression (zlib, brotli) inside one record
        except (ChunkedDataException, zlib.error, OSError, EOFError, ValueError) as exc:
            yield WarcProblem(f"unreadable record body: {type(exc).__name__}: {exc}"[:300], url, record_id)
            continue
        if payload is None:
            encoding = record.http_headers.get_header("Content-Encoding")
            yield WarcProblem(
                f"payload too large: over {max_payload_bytes:,} bytes ({payload_cap_name})"
                + (f" after Content-Encoding {encoding} decoding" if encoding else "")
                + f" ({record.length:,} bytes stored)",
                url,
                record_id,
                kind="too_large",
            )
            _skip(record)
            continue
        missing = getattr(record.raw_stream, "limit", 0) or 0
        if missing > 0:
            yield WarcProblem(
                f"truncated record: {missing} of {record.length} bytes missing",
                url,
                record_id,
                kind="truncated_record",
            )
            continue
        checker = getattr(record, "digest_checker", None)
        if checker is not None and checker.passed is False:
            yield WarcProblem(
                f"digest mismatch ({'; '.join(checker.problems)[:200]})",
                url,
                record_id,
                kind="digest_mismatch",
            )
            continue
        status = _status(record)
        if status != 200 or not payload:
            continue  # redirects, errors and empty bodies are not pages
        headers = {k.lower(): v for k, v in record.http_headers.headers}
        yield WarcResponse(
            url=url,
            date=record.rec_headers.get_header("WARC-Date") or record.rec_headers.get_header("archive-date"),
            record_id=record_id,
            status=status,
            headers=headers,
            payload=payload,
            content_type=content_type,
            charset=charset,
        )


def stored_images(
    open_stream, budget: int = DEFAULT_IMAGE_BUDGET, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
) -> StoredImages:
    """First pass over a WARC: the image responses it holds, so pages can take their images from it.
    Over-cap and damaged image records are left out here (the page pass reports the file's problems);
    the pass stops at a record over PREPASS_STOP_BYTES rather than decompress it twice (images after it
    are then fetched like any other)."""
    images = StoredImages(budget)
    with open_stream() as stream:
        for item in iter_responses(
            stream,
            html=False,
            images=True,
            max_record_bytes=max_record_bytes,
            max_payload_bytes=MAX_STORED_IMAGE,
            stop_at_bytes=max(max_record_bytes, PREPASS_STOP_BYTES),
        ):
            if isinstance(item, WarcResponse) and item.content_type.startswith("image/"):
                images.add(item.url, item.payload)
    return images
