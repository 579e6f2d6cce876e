"""Web sources, two measurements on ../shared/data, each against its baseline in the same run:

1. documents/s from WARC to interleaved records (our WebPageReader: charset detection, boilerplate
   removal, ordered text + images, stored images taken from the WARC) vs datatrove's own WarcReader +
   Trafilatura text extraction on the same files (goal: >= 3x);
2. image-download throughput against a local HTTP server (our ImageFetcher: address checks, robots.txt,
   X-Robots-Tag, size cap, content check) vs a plain concurrent fetch loop with requests (goal: >= 0.9x).

Set BENCH_WEB_ROUNDS / BENCH_WEB_IMAGES to measure longer (defaults keep the run under a minute).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from loguru import logger

SHARED = Path(os.environ.get("CURATE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
WARCS = ["warc__sample-0000.warc.gz", "warc__sample-0001.warc.gz", "whirlwind.warc.gz", "iana.warc.gz"]
ROUNDS = int(os.environ.get("BENCH_WEB_ROUNDS", 3))
IMAGES = int(os.environ.get("BENCH_WEB_IMAGES", 600))
WORKERS = 16


def _ours() -> tuple[int, float]:
    from curate.web.document import WebPageReader

    started, docs = time.perf_counter(), 0
    for name in WARCS:
        docs += sum(1 for _ in WebPageReader(str(SHARED / "warc"), glob_pattern=name).run())
    return docs, time.perf_counter() - started


def _datatrove() -> tuple[int, float]:
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.readers import WarcReader

    started, docs = time.perf_counter(), 0
    for name in WARCS:
        reader = WarcReader(str(SHARED / "warc"), glob_pattern=name)
        docs += sum(1 for _ in Trafilatura().run(reader.run()))
    return docs, time.perf_counter() - started


def _payloads() -> list[tuple[bytes, str, str | None]]:
    from curate.web.warc import WarcResponse, iter_responses

    pages = []
    for name in WARCS:
        with open(SHARED / "warc" / name, "rb") as f:
            pages += [(r.payload, r.url, r.charset) for r in iter_responses(f) if isinstance(r, WarcResponse)]
    return pages


def bench_extraction_only() -> None:
    """The extraction alone on the same HTML, without WARC reading or datatrove's sandbox process."""
    import trafilatura

    from curate.web.extract import detect_charset, extract_page

    pages = _payloads()
    started = time.perf_counter()
    for payload, url, charset in pages:
        extract_page(payload, url, charset=charset)
    ours = len(pages) / (time.perf_counter() - started)
    started = time.perf_counter()
    for payload, _, charset in pages:
        trafilatura.extract(
            payload.decode(detect_charset(payload, charset), "replace"),
            favor_precision=True,
            include_comments=False,
            deduplicate=True,
        )
    base = len(pages) / (time.perf_counter() - started)
    print(f"extraction alone, same {len(pages)} pages (no WARC reading, no sandbox)")
    print(f"  curate extract_page:          {ours:8.1f} pages/s")
    print(f"  trafilatura.extract (direct): {base:8.1f} pages/s")
    print(f"  ratio: {ours / base:.2f}x")


def bench_extraction() -> None:
    ours_docs = ours_s = base_docs = base_s = 0.0
    for _ in range(ROUNDS):  # interleaved rounds, so both sides see the same machine load
        n, s = _ours()
        ours_docs, ours_s = ours_docs + n, ours_s + s
        n, s = _datatrove()
        base_docs, base_s = base_docs + n, base_s + s
    ours, base = ours_docs / ours_s, base_docs / base_s
    print(f"WARC -> documents, {len(WARCS)} files x {ROUNDS} rounds")
    print(
        f"  curate WebPageReader (interleaved records): {ours_docs / ROUNDS:.0f} docs/round, {ours:8.1f} docs/s"
    )
    print(
        f"  datatrove WarcReader + Trafilatura (text):  {base_docs / ROUNDS:.0f} docs/round, {base:8.1f} docs/s"
    )
    print(f"  ratio: {ours / base:.2f}x (goal >= 3x)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _plain_loop(urls: list[str]) -> int:
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    session.mount("http://", HTTPAdapter(pool_maxsize=WORKERS))

    def get(url: str) -> int:
        response = session.get(url, timeout=10)
        return len(response.content) if response.status_code == 200 else 0

    with ThreadPoolExecutor(WORKERS) as pool:
        return sum(pool.map(get, urls))


def _fetcher(urls: list[str]) -> int:
    from curate.web.fetch import ImageFetcher

    fetcher = ImageFetcher(allow_private=True, workers=WORKERS, retries=0, timeout=10)
    try:
        return sum(len(r.data or b"") for r in fetcher.fetch_all(urls).values())
    finally:
        fetcher.close()


def bench_fetch() -> None:
    photos = sorted(p.name for p in (SHARED / "images" / "photos").iterdir())
    port = _free_port()
    with tempfile.TemporaryDirectory() as site:
        (Path(site) / "photos").symlink_to(SHARED / "images" / "photos")
        server = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", site],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(50):  # wait for the server
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            times = {"ours": 0.0, "plain": 0.0}
            sizes = {"ours": 0, "plain": 0}
            for round_ in range(2):
                # distinct URLs per round and per side, so no side benefits from a cache
                for side, run in (("plain", _plain_loop), ("ours", _fetcher)):
                    urls = [
                        f"http://127.0.0.1:{port}/photos/{photos[i % len(photos)]}?{side}{round_}-{i}"
                        for i in range(IMAGES // 2)
                    ]
                    started = time.perf_counter()
                    sizes[side] += run(urls)
                    times[side] += time.perf_counter() - started
        finally:
            server.terminate()
            server.wait()
    ours, plain = IMAGES / times["ours"], IMAGES / times["plain"]
    print(f"image download from a local server, {IMAGES} images per side, {WORKERS} threads")
    print(
        f"  curate ImageFetcher (checks, robots, size cap): {ours:8.1f} images/s ({sizes['ours'] >> 20} MB)"
    )
    print(
        f"  plain requests loop (ThreadPoolExecutor):       {plain:8.1f} images/s ({sizes['plain'] >> 20} MB)"
    )
    print(f"  ratio: {ours / plain:.2f}x (goal >= 0.9x)")


def main() -> None:
    if not (SHARED / "warc").is_dir():
        print(f"skipped: real test data not found at {SHARED}")
        return
    import datatrove.pipeline.readers  # noqa: F401  (datatrove adds its log handler on import)

    logger.remove()  # datatrove logs every file it opens
    logger.add(sys.stderr, level="ERROR")
    bench_extraction()
    bench_extraction_only()
    bench_fetch()


if __name__ == "__main__":
    main()
