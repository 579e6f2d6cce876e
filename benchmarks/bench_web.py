"""Web sources, two measurements on ../shared/data, each against its baseline in the same run:

1. documents/s from WARC to interleaved records (our WebPageReader: charset detection, boilerplate
   removal, ordered text + images, stored images taken from the WARC) vs datatrove's own WarcReader +
   Trafilatura text extraction on the same files (goal: >= 3x);
2. images/s downloading one URL list from a local HTTP server that answers like a remote one (real images,
   BENCH_WEB_LATENCY = 0.1 s per response, a thread per connection): our ImageFetcher with its checks on
   (robots.txt, X-Robots-Tag, content check, size cap, deadline) vs img2dataset itself (PyPI, in its own
   venv build/venv-img2dataset, made on first run: its pins would downgrade webdataset and pandas here),
   both with the same thread count (goal: >= 1.0x).

Set BENCH_WEB_ROUNDS / BENCH_WEB_IMAGES / BENCH_WEB_THREADS / BENCH_WEB_LATENCY / BENCH_WEB_FETCH_ROUNDS to
change the run (defaults: about a minute), CURATE_IMG2DATASET_PYTHON to use another img2dataset install.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from loguru import logger

SHARED = Path(os.environ.get("CURATE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
WARCS = ["warc__sample-0000.warc.gz", "warc__sample-0001.warc.gz", "whirlwind.warc.gz", "iana.warc.gz"]
ROUNDS = int(os.environ.get("BENCH_WEB_ROUNDS", 3))
IMAGES = int(os.environ.get("BENCH_WEB_IMAGES", 1500))
THREADS = int(os.environ.get("BENCH_WEB_THREADS", 16))
LATENCY = float(os.environ.get("BENCH_WEB_LATENCY", 0.1))
FETCH_ROUNDS = int(os.environ.get("BENCH_WEB_FETCH_ROUNDS", 2))
IMG2DATASET = "1.47.0"
IMG2DATASET_VENV = Path(__file__).resolve().parents[1] / "build" / "venv-img2dataset"


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


def _serve(images: list[str], latency: float, ports) -> None:
    """The image server (its own process, so its threads do not compete with a client's for the GIL):
    /img/N.jpg is the (N mod len)th real image after `latency` seconds, /robots.txt allows everything."""
    import mimetypes

    from benchmarks.image_server import image_server

    bodies = [
        (Path(p).read_bytes(), mimetypes.guess_type(p)[0] or "application/octet-stream") for p in images
    ]
    with image_server(lambda number: bodies[number % len(bodies)], latency) as server:
        ports.put(server.server_address[1])
        server.serve_forever()


def _img2dataset_python() -> tuple[Path | None, str]:
    """img2dataset's interpreter: its own venv (img2dataset 1.47.0 pins webdataset < 0.3 and pandas < 3,
    which the project venv has newer), made on first use; (None, why) when it cannot be had."""
    if os.environ.get("CURATE_IMG2DATASET_PYTHON"):
        return Path(os.environ["CURATE_IMG2DATASET_PYTHON"]), ""
    python = IMG2DATASET_VENV / "bin" / "python"
    check = [
        str(python),
        "-c",
        f"import importlib.metadata as m; assert m.version('img2dataset') == '{IMG2DATASET}'",
    ]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python, ""
    print(f"  (installing img2dataset=={IMG2DATASET} into {IMG2DATASET_VENV}, once)", flush=True)
    steps = [
        [sys.executable, "-m", "venv", str(IMG2DATASET_VENV)],
        [str(python), "-m", "pip", "install", "-q", f"img2dataset=={IMG2DATASET}"],
        check,
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            return None, f"`{' '.join(step[:5])}` failed: {(done.stderr or done.stdout).strip()[-300:]}"
    return python, ""


IMG2DATASET_RUN = """
import json, sys, time
from img2dataset import download
urls, out, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
started = time.time()
download(url_list=urls, input_format="txt", output_folder=out, output_format="files",
         processes_count=1, thread_count=threads, resize_mode="no", disable_all_reencoding=True,
         encode_format="jpg", retries=0, timeout=10, number_sample_per_shard=100000)
wall = time.time() - started
stats = json.load(open(out + "/00000_stats.json"))
print(json.dumps({"wall": wall, "duration": stats["duration"], "successes": stats["successes"],
                  "count": stats["count"], "status": stats["status_dict"]}))
"""


def _ours_fetch(urls: list[str]) -> tuple[int, float, dict[str, int]]:
    from curate.web.http_client import ImageFetcher

    # every check on (robots.txt, X-Robots-Tag, content check, size cap, deadline); only the private-address
    # refusal is lifted, as for any local server
    fetcher = ImageFetcher(allow_private=True, workers=THREADS, retries=0, timeout=10)
    try:
        started = time.perf_counter()
        results = fetcher.fetch_all(urls)
        elapsed = time.perf_counter() - started
    finally:
        fetcher.close()
    failures: dict[str, int] = {}
    for r in results.values():
        if not r.ok:
            failures[r.kind or "?"] = failures.get(r.kind or "?", 0) + 1
    return sum(r.ok for r in results.values()), elapsed, failures


def _img2dataset_fetch(python: Path, urls: list[str]) -> tuple[int, float, dict[str, int], float]:
    """(images, seconds of its shard, failures, seconds with its process start and imports)."""
    import json

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "urls.txt").write_text("\n".join(urls) + "\n")
        done = subprocess.run(
            [str(python), "-c", IMG2DATASET_RUN, f"{tmp}/urls.txt", f"{tmp}/out", str(THREADS)],
            capture_output=True,
            text=True,
            env={**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1", "WANDB_MODE": "disabled"},
        )
    if done.returncode != 0:
        raise RuntimeError(f"img2dataset failed: {done.stderr.strip()[-500:]}")
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    failed = {k: v for k, v in stats["status"].items() if k != "success"}
    return stats["successes"], stats["duration"], failed, stats["wall"]


def bench_fetch() -> None:
    import multiprocessing

    images = sorted(str(p) for p in (SHARED / "images" / "photos").iterdir() if p.is_file())
    print(
        f"image download: {IMAGES} URLs ({len(images)} real images under distinct URLs) from a local threaded "
        f"server adding {LATENCY * 1000:.0f} ms per response, {THREADS} threads each, {FETCH_ROUNDS} rounds"
    )
    python, why = _img2dataset_python()
    if python is None:
        print(f"  img2dataset: skipped, {why}")
    spawn = multiprocessing.get_context("spawn")
    ports = spawn.Queue()
    server = spawn.Process(target=_serve, args=(images, LATENCY, ports), daemon=True)
    server.start()
    totals = {"ours": [0, 0.0, {}], "img2dataset": [0, 0.0, {}]}
    wall = 0.0
    try:
        port = ports.get(timeout=30)
        urls = [f"http://127.0.0.1:{port}/img/{i}.jpg" for i in range(IMAGES)]
        for round_ in range(FETCH_ROUNDS):
            sides = ["ours", "img2dataset"] if python is not None else ["ours"]
            for side in sides if round_ % 2 == 0 else sides[::-1]:  # each side goes first in turn
                if side == "ours":
                    ok, seconds, failed = _ours_fetch(urls)
                else:
                    ok, seconds, failed, started = _img2dataset_fetch(python, urls)
                    wall += started
                totals[side][0] += ok
                totals[side][1] += seconds
                for kind, n in failed.items():
                    totals[side][2][kind] = totals[side][2].get(kind, 0) + n
    finally:
        server.terminate()
        server.join()
    rates = {}
    labels = {
        "ours": "curate ImageFetcher (robots.txt, X-Robots-Tag, content check, size cap, deadline)",
        "img2dataset": f"img2dataset {IMG2DATASET} (files, resize_mode=no, no reencoding, sha256, exif)",
    }
    for side, (ok, seconds, failed) in totals.items():
        if not seconds:
            continue
        rates[side] = ok / seconds
        extra = f"; {wall:.1f}s with its process starts" if side == "img2dataset" else ""
        print(f"  {labels[side]}:")
        print(
            f"      {rates[side]:7.1f} images/s ({ok}/{IMAGES * FETCH_ROUNDS} in {seconds:.1f}s{extra}"
            f"{f', failed {failed}' if failed else ''})"
        )
    if len(rates) == 2:
        print(
            f"  ratio: {rates['ours'] / rates['img2dataset']:.2f}x (goal >= 1.0x); "
            f"ceiling {THREADS / LATENCY:.0f} images/s at this latency and thread count"
        )


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
