"""A WARC record read within a byte cap whatever its Content-Length claims. Before: a record claiming
10 bytes followed by a 1.2 GB line without a newline (1.2 MB compressed) passed 4 GiB in 74 s; the
300 MB variant wrote 629 MB to stderr (the line, once per pass), and the record was never recorded."""

from __future__ import annotations

import gzip
import io
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import hostile_inputs as hostile  # noqa: E402
from test_hostile import run_cli  # noqa: E402

from curate.run.report import error_lines, run_funnel  # noqa: E402
from curate.web.warc import MAX_LINE_BYTES, WarcProblem, WarcResponse, iter_responses  # noqa: E402


def test_lying_content_length_is_an_error_record_within_bounds(tmp_path):
    crawl = tmp_path / "crawl"
    crawl.mkdir()
    hostile.warc_lying_length(crawl / "liar.warc.gz", line_mb=64)
    out = tmp_path / "out"
    result = run_cli("run", "interleaved", "--input", str(crawl), "--output", str(out), "--stage", "extract")
    (error,) = error_lines(out, "extract")
    assert error["metadata"]["file"] == "liar.warc.gz"
    assert f"a line of over {MAX_LINE_BYTES:,} bytes without a newline" in error["reason"]
    assert "http://liar.example/" in error["reason"] and "Content-Length is likely wrong" in error["reason"]
    (extract,) = run_funnel(out, ["extract"])
    assert extract.records_in == 2 and extract.errored == {"too_large": 1}  # the good page, and this
    assert extract.kept + extract.dropped_total == 1
    assert len(result["stderr"]) < 20_000, f"{len(result['stderr']):,} chars on stderr"
    assert "AAAAAAAAAAAAAAAAAAAA" not in result["stderr"]
    assert result["rss_mb"] < 700, f"peak RSS {result['rss_mb']:.0f} MB"


def test_line_cap_in_the_reader_itself(monkeypatch):
    """Uncompressed too, and header lines of many short lines (a budget per record, smaller here)."""
    from curate.web import warc

    monkeypatch.setattr(warc, "MAX_HEADER_BYTES", 256 << 10)
    good = hostile.good_record()
    liar = hostile._warc_head("http://liar.example/", 10, 2) + b"HTTP/1.1 2" + b"B" * (4 * MAX_LINE_BYTES)
    items = list(iter_responses(io.BytesIO(good + liar + good)))
    assert isinstance(items[0], WarcResponse) and isinstance(items[-1], WarcProblem)
    assert items[-1].kind == "too_large" and items[-1].url == "http://liar.example/"
    blank_lines = hostile._warc_head("http://blank.example/", 10, 3) + b"HTTP/1.1 2" + b"\r\n" * (200 << 10)
    items = list(iter_responses(io.BytesIO(gzip.compress(good) + gzip.compress(blank_lines))))
    assert isinstance(items[-1], WarcProblem) and "bytes of header lines" in items[-1].reason
