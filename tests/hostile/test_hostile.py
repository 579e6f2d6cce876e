"""Hostile inputs: each case is built here (tests/hostile/hostile_inputs.py; nothing large is committed),
run in a child process, and must finish with the input recorded with its reason, under a peak-memory
and a wall-time bound. Servers listen on 127.0.0.1 only. `make stress` prints the same cases as a
table (benchmarks/bench_hostile.py).

Bounds are stated per case; before these limits, the gzip bombs passed 4 GiB within 10 s, the 200 MB
page took 3.7 GiB, a slow page rendered for 685 s, a drip image held 135 s and a silent LLM 900 s x 5.
"""

from __future__ import annotations

import json
import socket
import sys
import tarfile
from io import BytesIO
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import hostile_inputs as hostile  # noqa: E402

from curate.run.report import error_lines, run_funnel  # noqa: E402
from curate.web.http_client import ImageFetcher  # noqa: E402

PYTHON = sys.executable


def run_cli(*args: str, timeout: float = 240) -> dict:
    result = hostile.measure([PYTHON, "-m", "curate.cli", *args], timeout=timeout)
    assert result["returncode"] == 0, result["stderr"][-3000:]
    return result


def run_case(case: str, workdir: Path) -> dict:
    result = hostile.measure([PYTHON, str(HERE / "hostile_runner.py"), case, str(workdir)], timeout=120)
    assert result["returncode"] == 0, result["stderr"][-3000:]
    return {**result, **json.loads(result["stdout"].strip().splitlines()[-1])}


def test_warc_bombs_and_huge_pages_are_recorded_within_bounds(tmp_path):
    """Four hostile web inputs in one run: each ends as a `too_large` error naming its file (and URL),
    the good page after each bomb in the same file is still read, memory stays bounded."""
    crawl = tmp_path / "crawl"
    crawl.mkdir()
    hostile.warc_content_encoding_bomb(crawl / "ce_bomb.warc.gz", decoded_mb=1200)
    hostile.warc_member_bomb(crawl / "member_bomb.warc.gz", decoded_mb=300)
    hostile.warc_huge_html(crawl / "huge.warc", size_mb=200)
    hostile.html_gz_bomb(crawl / "bomb.html.gz", decoded_mb=1200)
    out = tmp_path / "out"
    result = run_cli("run", "interleaved", "--input", str(crawl), "--output", str(out), "--stage", "extract")

    errors = {Path(e["metadata"]["file"]).name: e for e in error_lines(out, "extract")}
    assert set(errors) == {"ce_bomb.warc.gz", "member_bomb.warc.gz", "huge.warc", "bomb.html.gz"}
    assert "after Content-Encoding gzip decoding" in errors["ce_bomb.warc.gz"]["reason"]
    assert errors["ce_bomb.warc.gz"]["metadata"]["url"] == "http://bomb.example/content-encoding"
    assert "over max_record_bytes" in errors["member_bomb.warc.gz"]["reason"]
    assert "over max_record_bytes" in errors["huge.warc"]["reason"]
    assert "max_html_bytes" in errors["bomb.html.gz"]["reason"]
    (extract,) = run_funnel(out, ["extract"])
    # 4 hostile inputs errored + 3 good pages (one after each WARC bomb), each kept or dropped by a filter
    assert extract.errored == {"too_large": 4}
    assert extract.records_in == 7 and extract.kept + extract.dropped_total == 3
    assert result["rss_mb"] < 700, f"peak RSS {result['rss_mb']:.0f} MB"
    assert result["wall_s"] < 90, f"{result['wall_s']:.0f} s"


def test_slow_pdf_page_is_stopped_and_recorded(shared_data, tmp_path):
    """A page that renders for minutes (10^7 nested form draws) is stopped at max_seconds_per_page and
    recorded as `time_limit` naming the file and page; the next PDF's pages are all read."""
    pdfs = tmp_path / "pdfs"
    pdfs.mkdir()
    hostile.slow_pdf(pdfs / "a_slow.pdf", depth=7)
    (pdfs / "b_normal.pdf").write_bytes((shared_data / "pdf/born_digital/multi_page.pdf").read_bytes())
    out = tmp_path / "out"
    result = run_cli(
        "run", "pdf-pages", "--input", str(pdfs), "--output", str(out), "--stage", "pages",
        "--set", "max_seconds_per_page=3", "--set", "ocr=false",
    )  # fmt: skip
    (error,) = error_lines(out, "pages")
    assert error["metadata"]["file"] == "a_slow.pdf" and error["metadata"]["page"] == 1
    assert (
        error["reason"].startswith("time_limit: page 1 not made")
        and "max_seconds_per_page=3s" in error["reason"]
    )
    (pages,) = run_funnel(out, ["pages"])
    assert pages.errored == {"time_limit": 1} and pages.kept == 5  # multi_page.pdf has 5 pages
    assert result["wall_s"] < 60, f"{result['wall_s']:.0f} s"
    assert result["rss_mb"] < 1200, f"peak RSS {result['rss_mb']:.0f} MB"


def test_drip_image_stopped_at_the_deadline(tmp_path):
    """One byte a second with a 10 s read timeout: the 3 s overall deadline stops it (retries included)."""
    result = run_case("fetch-drip", tmp_path)
    (error,) = result["errors"]
    assert (
        error["id"] == "hostile"
        and "deadline: download not finished within fetch_deadline=3s" in error["reason"]
    )
    assert result["kept"] == ["good"]
    assert result["wall_s"] < 20 and result["rss_mb"] < 500


def test_gzip_bomb_image_capped_once_decoded(tmp_path):
    """An image sent with Content-Encoding: gzip, 1.2 MB -> 1.2 GB: stopped at max_bytes (20 MB)."""
    result = run_case("fetch-gzip-bomb", tmp_path)
    (error,) = result["errors"]
    assert "too_large: body larger than max_bytes=20971520 once decoded" in error["reason"]
    assert result["kept"] == ["good"]
    assert result["rss_mb"] < 500, f"peak RSS {result['rss_mb']:.0f} MB"


def test_robots_txt_checked_for_the_redirect_target():
    """/redirect.png is allowed, its target /private/x.png is not: the target is never requested."""
    with hostile.LocalServer(hostile.ImageSiteHandler) as site:
        fetcher = ImageFetcher(allow_private=True, retries=0)
        result = fetcher.fetch(f"{site.url}/redirect.png")
        fetcher.close()
        assert result.kind == "robots_txt"
        assert "/redirect.png" in site.requests and "/private/x.png" not in site.requests


def test_dns_rebinding_never_reaches_the_private_host(monkeypatch):
    """The name resolves to a public address when checked and to 127.0.0.1 afterwards (DNS rebinding):
    the fetcher resolves once and connects to the checked address, so nothing reaches the local server."""
    real = socket.getaddrinfo
    answers = []

    def rebinding(host, port, *args, **kwargs):
        if host != "images.rebind.test":
            return real(host, port, *args, **kwargs)
        address = "93.184.216.34" if not answers else "127.0.0.1"
        answers.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with hostile.LocalServer(hostile.ImageSiteHandler) as site:
        port = site.url.rsplit(":", 1)[1]
        fetcher = ImageFetcher(retries=0, respect_robots=False, timeout=1, deadline=3)
        result = fetcher.fetch(f"http://images.rebind.test:{port}/ok.png")
        fetcher.close()
        assert site.requests == []  # before: the GET reached 127.0.0.1 and only the answer was dropped
    assert not result.ok and result.kind in ("connection", "timeout", "deadline")
    assert answers == ["93.184.216.34"]  # resolved once, by the check


def test_silent_llm_server_gives_timed_out_pages_and_a_status(tmp_path):
    """A server that accepts and never answers: each page is an `llm_timeout` error after the 3 s
    deadline (not 900 s x 5), and a "waiting for the LLM server" line is printed meanwhile."""
    result = run_case("llm-silent", tmp_path)
    assert [e["id"] for e in result["errors"]] == ["page-1", "page-2"]
    assert all("within llm_deadline=3s" in e["reason"] for e in result["errors"])
    assert "waiting for the LLM server" in result["stderr"] and "requests in flight" in result["stderr"]
    assert result["wall_s"] < 20 and result["rss_mb"] < 500


def test_llm_reply_without_choices_is_a_bad_response(tmp_path):
    """JSON without `choices` (it ended the whole run with KeyError) is that page's error; the run goes on."""
    result = run_case("llm-no-choices", tmp_path)
    (error,) = result["errors"]
    assert error["id"] == "page-1" and error["reason"].startswith("BadResponse: not a chat completion")
    assert "'choices'" in error["reason"] and "the model is overloaded" in error["reason"]
    assert result["kept"] == ["page-2"]


def _hostile_shard(path: Path, outside: Path) -> None:
    """A shard whose keys try to leave the folder: `../`, an absolute path, and a plain one."""
    png = hostile.tiny_png()
    keys = ["../../escaped", str(outside / "absolute"), "a/../../../up", "plain"]
    with tarfile.open(path, "w") as tar:
        for key in keys:
            meta = {"kind": "pair", "source": "x", "images": [{"member": "png", "width": 300, "height": 200}]}
            for ext, data in (("json", json.dumps(meta).encode()), ("png", png)):
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                tar.addfile(info, BytesIO(data))


def test_inspect_saves_images_inside_the_folder_only(tmp_path, capsys):
    from curate.cli import main

    outside = tmp_path / "outside"
    outside.mkdir()
    shard = tmp_path / "work" / "deep" / "shard.tar"
    shard.parent.mkdir(parents=True)
    _hostile_shard(shard, outside)
    save = tmp_path / "work" / "deep" / "saved"
    assert main(["inspect", str(shard), "-n", "10", "--save-images", str(save)]) == 0
    saved = sorted(p.name for p in save.iterdir())
    assert len(saved) == 4 and all(p.is_file() for p in save.iterdir())
    written = {p for p in tmp_path.rglob("*") if p.is_file()} - {shard} - set(save.iterdir())
    assert written == set(), f"written outside --save-images: {written}"
    assert list(outside.iterdir()) == []
