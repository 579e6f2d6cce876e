"""Credentials in URLs are never written: `warc_base_url`'s `user:password@` is in no message, log,
executor.json, error line or `report --errors`; a crawled page URL's credentials are in no record id or
sample key; `roundtrip_llm_url`/`second_opinion` credentials are not in executor.json; with
credentials in `llm_url`, requests send LLM_API_KEY's bearer (the userinfo as Basic auth only without
a key). Before: all of these carried them in clear, and the bearer was replaced by Basic auth."""

from __future__ import annotations

import base64
import gzip
import json
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import hostile_inputs as hostile  # noqa: E402
from test_hostile import run_cli  # noqa: E402

from curate.secrets import redact_text, redact_url, split_credentials, strip_credentials  # noqa: E402

PASSWORD = "hunter2-S3CRET"
PAGE = (
    b"<html><head><title>A page</title></head><body><article><p>"
    + b"Words of a page. " * 40
    + b"</p></article></body></html>"
)


def _page_record(url: str, number: int) -> bytes:
    http = hostile._http_head(len(PAGE)) + PAGE
    return hostile._warc_head(url, len(http), number) + http + b"\r\n\r\n"


class WarcSite(BaseHTTPRequestHandler):
    """Serves /crawl/good.warc.gz (a page whose URL holds credentials) and /crawl/bad.warc.gz (not a
    WARC) to Basic auth user:PASSWORD."""

    def do_GET(self):
        expected = "Basic " + base64.b64encode(f"user:{PASSWORD}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            return self.send_error(401)
        if self.path.startswith("/crawl/good.warc.gz"):
            body = gzip.compress(_page_record(f"https://reader:{PASSWORD}@news.example/story", 1))
            return hostile.send_bytes(self, 200, body, "application/octet-stream")
        if self.path.startswith("/crawl/bad.warc.gz"):  # an error record, whose line names the file
            return hostile.send_bytes(self, 200, gzip.compress(b"not a WARC file\n"), "application/octet-stream")
        return self.send_error(404)

    do_HEAD = do_GET


def _all_text(folder: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in folder.rglob("*") if p.is_file())


def test_warc_base_url_and_page_credentials_are_written_nowhere(tmp_path):
    listing = tmp_path / "warc.paths"
    listing.write_text("crawl/good.warc.gz\ncrawl/bad.warc.gz\n")
    out = tmp_path / "out"
    with hostile.LocalServer(WarcSite) as site:
        base = site.url.replace("http://", f"http://user:{PASSWORD}@") + "/"
        result = run_cli(
            "run", "interleaved", "--input", str(listing), "--output", str(out), "--stage", "extract",
            "--set", f"warc_base_url={base}", "--verbose",
        )  # fmt: skip
        assert any(path.startswith("/crawl/good.warc.gz") for path in site.requests)  # read with them
    report = run_cli("report", str(out), "--errors")
    written = _all_text(out)
    assert "bad.warc.gz" in written and "news.example/story" in written  # both files were read
    for where, text in (("files", written), ("stderr", result["stderr"]), ("report", report["stdout"])):
        assert PASSWORD not in text, f"the password is in {where}"
    assert "bad.warc.gz" in report["stdout"] and "unreadable WARC data" in report["stdout"]
    assert (out / "stages" / "extract" / "logs" / "executor.json").exists()


def test_llm_urls_are_masked_in_the_step_and_executor_json():
    from curate.synth.generate import QAGenerator
    from datatrove.executor.base import ExecutorJSONEncoder

    step = QAGenerator(
        f"http://u:{PASSWORD}@llm.example/v1",
        roundtrip=True,
        roundtrip_url=f"http://rt:{PASSWORD}@rt.example/v1",
        second_url=f"https://so:{PASSWORD}@so.example/v1",
        api_key="sk-KEY-not-shown",
    )
    text = json.dumps(step, cls=ExecutorJSONEncoder)
    assert PASSWORD not in text and "sk-KEY-not-shown" not in text
    assert "http://***@rt.example/v1" in text and "https://***@so.example/v1" in text


class AuthEcho(hostile.JsonServer):
    def __init__(self):
        super().__init__()
        self.seen: list[str | None] = []

    def respond(self, method, headers, payload):
        self.seen.append(headers.get("Authorization"))
        if method == "GET":
            return 200, hostile.MODELS
        return 200, hostile.completion("fine", {"prompt_tokens": 1, "completion_tokens": 1})


def test_llm_url_credentials_never_replace_the_api_key():
    from curate.synth.client import ChatClient

    with AuthEcho() as server:
        url = server.url.replace("http://", f"http://u:{PASSWORD}@")
        client = ChatClient(url, "m", retries=0, api_key="KEY")
        client.check()
        client.chat([{"role": "user", "content": "hi"}])
        assert server.seen == ["Bearer KEY", "Bearer KEY"]  # the key; the URL's userinfo is not sent
        assert PASSWORD not in client.shown_url and "***@" in client.shown_url
        server.seen.clear()
        ChatClient(url, "m", retries=0).check()  # no key: the userinfo as Basic auth
        assert server.seen == ["Basic " + base64.b64encode(f"u:{PASSWORD}".encode()).decode()]


def test_one_place_strips_and_masks():
    url = f"https://user:{PASSWORD}@host.example:8443/a?b=c"
    assert strip_credentials(url) == "https://host.example:8443/a?b=c"
    assert redact_url(url) == "https://***@host.example:8443/a?b=c"
    assert split_credentials(url) == ("https://host.example:8443/a?b=c", ("user", PASSWORD))
    assert redact_text(f"GET {url} failed") == "GET https://***@host.example:8443/a?b=c failed"
    assert strip_credentials("/local/path.warc") == "/local/path.warc"


def test_log_lines_are_masked_and_printable():
    """A loguru line (and its exception) with credentials or a non-UTF-8 file name: masked, no
    logging traceback (before: "--- Logging error in Loguru Handler ---")."""
    import io

    from loguru import logger

    import curate  # noqa: F401  (installs the guard)

    sink = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict", write_through=True)
    handler = logger.add(sink, format="{message}")
    stderr = io.StringIO()
    real_stderr, sys.stderr = sys.stderr, stderr
    try:
        name = b"x_\xe9\xff.pdf".decode("utf-8", "surrogateescape")
        logger.warning(f"reading {name} from http://u:{PASSWORD}@h.example/x")
        try:
            raise OSError(f"cannot open http://u:{PASSWORD}@h.example/{name}")
        except OSError:
            logger.exception("failed")
    finally:
        sys.stderr = real_stderr
        logger.remove(handler)
    written = sink.buffer.getvalue().decode("utf-8")
    assert "reading x_\\xe9\\xff.pdf from http://***@h.example/x" in written
    assert "OSError: cannot open http://***@h.example/x_\\xe9\\xff.pdf" in written
    assert PASSWORD not in written and "Logging error" not in stderr.getvalue()
