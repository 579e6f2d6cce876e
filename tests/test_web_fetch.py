"""Image fetching and the web recipes against a local HTTP server on 127.0.0.1 that these tests start
(serving ../shared/data/images); no other address is ever contacted."""

from __future__ import annotations

import csv
import io
import json
import tarfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from curate.pipelines import get_recipe

from curate.record import image_media, pair_record
from curate.run.executors import ExecutorConfig
from curate.run.report import error_lines, run_funnel
from curate.run.runner import run_recipe
from curate.web.fetch import FetchImages
from curate.web.http_client import ImageFetcher, address_problem, opt_out_directives


class _Handler(SimpleHTTPRequestHandler):
    requests_seen: list[str] = []

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        _Handler.requests_seen.append(self.path)
        if self.path.startswith("/redirect/"):  # /redirect/NAME -> /photos/NAME
            self.send_response(302)
            self.send_header("Location", "/photos/" + self.path.split("/", 2)[2])
            self.end_headers()
            return
        if self.path.startswith("/slow/"):  # answers after the client's timeout
            time.sleep(1.5)
        super().do_GET()

    def end_headers(self):
        if self.path.startswith("/noai/"):
            self.send_header("X-Robots-Tag", "noai, noimageai")
        super().end_headers()


@pytest.fixture(scope="module")
def server(shared_data, tmp_path_factory):
    """Serves photos/, broken/, noai/ (with X-Robots-Tag: noai), disallowed/ (robots.txt) and a page."""
    root = tmp_path_factory.mktemp("site")
    images = shared_data / "images"
    (root / "photos").symlink_to(images / "photos")
    (root / "broken").symlink_to(images / "broken")
    (root / "noai").symlink_to(images / "photos")
    (root / "disallowed").symlink_to(images / "photos")
    (root / "slow").symlink_to(images / "photos")
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /disallowed/\n")
    (root / "page.html").write_text("<html><body>not an image</body></html>")
    handler = lambda *a, **kw: _Handler(*a, directory=str(root), **kw)  # noqa: E731
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_address_checks():
    assert address_problem("8.8.8.8") is None
    assert address_problem("127.0.0.1") == "loopback"
    assert address_problem("::1") == "loopback"
    assert address_problem("169.254.169.254") == "link-local"
    assert address_problem("10.1.2.3") == "private"
    assert address_problem("::ffff:192.168.0.1") == "private"
    assert opt_out_directives("noindex, NoAI") == ["noai"]
    assert opt_out_directives("otherbot: noimageai") == ["noimageai"]
    assert opt_out_directives("noindex") == []


def test_fetch_with_allowance_on(server, shared_data):
    fetcher = ImageFetcher(allow_private=True, retries=0, timeout=5, workers=4)
    urls = {
        "ok": f"{server}/photos/flower.jpg",
        "missing": f"{server}/photos/nope.jpg",
        "opt_out": f"{server}/noai/flower.jpg",
        "robots": f"{server}/disallowed/flower.jpg",
        "html": f"{server}/page.html",
    }
    results = fetcher.fetch_all(list(urls.values()))
    fetcher.close()
    ok = results[urls["ok"]]
    assert ok.data == (shared_data / "images/photos/flower.jpg").read_bytes() and ok.status == 200
    assert results[urls["missing"]].kind == "http_404"
    assert results[urls["opt_out"]].kind == "opt_out" and "noai" in results[urls["opt_out"]].reason
    assert results[urls["robots"]].kind == "robots_txt"
    assert results[urls["html"]].kind == "not_an_image"
    small = ImageFetcher(allow_private=True, retries=0, max_bytes=10_000).fetch(f"{server}/photos/flower.jpg")
    assert small.kind == "too_large"


def test_redirects_timeouts_and_retries(server):
    fetcher = ImageFetcher(allow_private=True, retries=1, backoff=0.05, timeout=0.5)
    redirected = fetcher.fetch(f"{server}/redirect/hopper.png")
    assert redirected.ok and redirected.final_url == f"{server}/photos/hopper.png"
    slow = fetcher.fetch(f"{server}/slow/hopper.png")
    assert slow.kind == "timeout" and slow.attempts == 2  # retried once, then recorded
    missing = fetcher.fetch(f"{server}/photos/none.png")
    assert missing.kind == "http_404" and missing.attempts == 1  # a 404 is not retried


def test_dns_rebinding_is_caught_at_connection(server, monkeypatch):
    """The URL check passes (as if DNS said a public address), but the connection would land on
    127.0.0.1: the connection itself checks the address it uses, so nothing reaches the server
    (tests/hostile/test_fetch_hostile.py changes the DNS answer between the two)."""
    _Handler.requests_seen.clear()
    fetcher = ImageFetcher(retries=0, respect_robots=False)
    monkeypatch.setattr(fetcher, "host_problem", lambda host, port: None)
    result = fetcher.fetch(f"{server}/photos/hopper.png")
    assert result.kind == "private_address" and "127.0.0.1 (loopback)" in result.reason
    assert result.data is None and _Handler.requests_seen == []


def test_private_addresses_refused_without_allowance(server):
    _Handler.requests_seen.clear()
    fetcher = ImageFetcher(retries=0, timeout=2)
    port = server.rsplit(":", 1)[1]
    for url in (
        f"{server}/photos/flower.jpg",
        f"http://localhost:{port}/photos/flower.jpg",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/x.jpg",
        f"http://[::1]:{port}/a.jpg",
    ):
        result = fetcher.fetch(url)
        assert result.kind == "private_address", (url, result)
        assert "refused" in result.reason
    assert fetcher.fetch("ftp://example.org/a.jpg").kind == "unsupported_url"
    assert _Handler.requests_seen == []  # refused before any connection


def test_broken_images_are_error_records_with_reasons(server, shared_data):
    names = [
        "truncated_image.png",
        "truncated_jpeg.jpg",
        "broken_data_stream.png",
        "decompression_bomb.gif",
        "broken.png",
    ]
    docs = [
        pair_record(
            f"p{i}", "a caption", image_media(None, media_id=f"m{i}", url=f"{server}/broken/{n}"), source=n
        )
        for i, n in enumerate(names)
    ]
    docs.append(
        pair_record(
            "ok",
            "hopper",
            image_media(None, media_id="ok", url=f"{server}/photos/hopper.jpg"),
            source="hopper",
        )
    )
    step = FetchImages({"allow_private": True, "retries": 0})
    kept = list(step.run(iter(docs)))
    assert [d.id for d in kept] == ["ok"]
    assert kept[0].media[0].metadata["width"] == 128
    reasons = {d.metadata["source"]: d.metadata["error"]["reason"] for d in docs if "error" in d.metadata}
    assert "corrupt" in reasons["truncated_image.png"] and "truncated" in reasons["truncated_image.png"]
    assert "corrupt" in reasons["truncated_jpeg.jpg"]
    assert "decompression_bomb" in reasons["decompression_bomb.gif"]
    assert len(reasons) == 5
    stats = {k: getattr(v, "total", v) for k, v in step.stats.stats.items()}
    assert stats["total"] == 6 == stats["forwarded"] + stats["errored"]


def test_exif_orientation_is_applied(server):
    step = FetchImages({"allow_private": True, "retries": 0})
    doc = pair_record(
        "o",
        "hopper rotated",
        image_media(None, media_id="o", url=f"{server}/photos/hopper_orientation_6.jpg"),
        source="o",
    )
    (kept,) = list(step.run(iter([doc])))
    meta = kept.media[0].metadata
    assert meta["exif_orientation"] == 6 and meta["exif_applied"] is True


# ---- recipes ------------------------------------------------------------------------------------

CAKTUS_IMAGES = {
    # the post's images, served locally; what the OBELICS image filter must do with each
    "https://s3.amazonaws.com/caktus-website-production-2015/media/blog-images/test-failure.png": "photos/flower.jpg",
    "https://s3.amazonaws.com/caktus-website-production-2015/media/blog-images/test-passing.png": "photos/flower2.jpg",
    "https://s3.amazonaws.com/caktus-website-production-2015/media/blog-images/tests-all-passing.png": "photos/hopper.jpg",  # 128 px: too small
    "https://cw-production-assetsbucket-8j84s7jns7p2.s3.amazonaws.com/media/blog-categories/technical.jpg": "photos/208_495.jpg",  # aspect ratio 2.4
    # a related post's thumbnail and a call-to-action banner: not the post's, never fetched
    "https://cw-production-assetsbucket-8j84s7jns7p2.s3.amazonaws.com/media/thumbnail-cache/3e/d7/"
    "3ed792cd96a903acf9f5b83cd6f85475.jpg": "broken/truncated_image.png",
    "https://no-cache.hubspot.com/cta/default/1883108/71427a9f-f564-4f65-a1c5-a6f7852d655e.png": "noai/flower.jpg",
}


@pytest.fixture
def caktus_input(shared_data, server, tmp_path):
    html = (shared_data / "html" / "caktusgroup.com.django.html").read_text(encoding="utf-8")
    for remote, local in CAKTUS_IMAGES.items():
        assert remote in html
        html = html.replace(remote, f"{server}/{local}")
    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "caktus.html").write_text(html, encoding="utf-8")
    return folder


# images from the test server on 127.0.0.1, one try each, no CLIP model
LOCAL_IMAGES = {"allow_private": True, "fetch_retries": 0, "clip": False}


def run_one_task(recipe: str, folder: Path, output: Path, only_stage: str | None = None, **options) -> None:
    """`recipe` (or its stage `only_stage`) over `folder` in one local task."""
    run_recipe(get_recipe(recipe), str(folder), output, ExecutorConfig(workers=1), only_stage, options)


def _samples(output: Path) -> list[dict]:
    samples: dict[str, dict] = {}
    for shard in sorted((output / "shards").glob("*.tar")):
        with tarfile.open(shard) as tar:
            for member in tar.getmembers():
                key, ext = member.name.split(".", 1)
                samples.setdefault(key, {})[ext] = tar.extractfile(member).read()
    return list(samples.values())


def test_interleaved_recipe_with_local_images(caktus_input, shared_data, tmp_path):
    output = tmp_path / "out"
    run_one_task("interleaved", caktus_input, output, **LOCAL_IMAGES)
    assert all(f.balanced for f in run_funnel(output))
    (sample,) = _samples(output)
    record = json.loads(sample["json"])
    texts, images = record["texts"], record["images"]
    assert len(texts) == len([t for t in texts if t]) + len(images)
    # the two flowers survive, in place: flower.jpg where test-failure.png was
    assert [i["url"].rsplit("/", 1)[1] for i in images] == ["flower.jpg", "flower2.jpg"]
    first = texts.index(None)
    assert texts[first - 1].startswith("It was my second webcast")
    assert texts[first + 1].startswith("I quickly abandoned the idea")
    assert sample[images[0]["member"]] == (shared_data / "images/photos/flower.jpg").read_bytes()
    assert (
        images[0]["member"] == "0.jpg"
        and sample["1.jpg"] == (shared_data / "images/photos/flower2.jpg").read_bytes()
    )
    removed = {r["url"].rsplit("/", 1)[1]: r["reason"] for r in record["metadata"]["removed_images"]}
    assert removed == {"hopper.jpg": "image_too_small", "208_495.jpg": "image_aspect_ratio"}
    # the "You might also like" thumbnail and the call-to-action banner after the post are not part of it:
    # the block classifier leaves them out, so they are never fetched (corrupt and opt-out images are
    # tested on the fetcher itself above)
    urls = [i["url"] for i in images] + [r["url"] for r in record["metadata"]["removed_images"]]
    assert not any("broken/" in u or "noai/" in u for u in urls)


def test_interleaved_recipe_refuses_private_addresses_without_allowance(caktus_input, tmp_path):
    output = tmp_path / "out"
    recipe = get_recipe("interleaved")
    upto_images = recipe.stage_names[: recipe.stage_names.index("images") + 1]  # extract, dedup..., images
    for stage in upto_images:
        run_one_task("interleaved", caktus_input, output, only_stage=stage, fetch_retries=0)
    funnels = {f.stage: f for f in run_funnel(output)}
    assert funnels["images"].balanced and funnels["images"].kept == 0
    assert funnels["images"].dropped == {"too_few_images": 1}
    reasons = [e["reason"] for e in error_lines(output, "images")]
    # the post's four images (its related-post thumbnail and call-to-action banner are not part of it)
    assert len(reasons) == 4 and all("private_address" in r and "refused" in r for r in reasons)


def test_pairs_recipe_from_a_url_list(server, shared_data, tmp_path):
    rows = [
        ("photos/flower.jpg", "a pink flower in the garden"),
        ("photos/524_316.jpg", "a photo from the clip retrieval tests"),
        ("photos/hopper.jpg", "grace hopper portrait"),  # 128 px < 200: dropped
        ("broken/truncated_jpeg.jpg", "a truncated jpeg"),  # error
        ("broken/decompression_bomb.gif", "a decompression bomb"),  # error
        ("photos/flower2.jpg", ""),  # no caption: error
    ]
    folder = tmp_path / "list"
    folder.mkdir()
    with open(folder / "urls.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["URL", "TEXT", "similarity"])
        writer.writerows([(f"{server}/{path}", caption, 0.3) for path, caption in rows])
    output = tmp_path / "out"
    run_one_task("pairs", folder, output, **LOCAL_IMAGES)
    funnels = {f.stage: f for f in run_funnel(output)}
    assert all(f.balanced for f in funnels.values())
    assert funnels["extract"].records_in == 6 and funnels["extract"].errored == {"missing_caption": 1}
    assert funnels["images"].dropped == {"image_too_small": 1}
    assert funnels["images"].errored == {"image_corrupt": 1, "image_decompression_bomb": 1}
    samples = _samples(output)
    assert sorted(s["txt"].decode() for s in samples) == [
        "a photo from the clip retrieval tests",
        "a pink flower in the garden",
    ]
    from PIL import Image

    assert all(Image.open(io.BytesIO(s["jpg"])).size[0] >= 200 for s in samples)
    assert json.loads(samples[0]["json"])["metadata"]["list"] == {"similarity": "0.3"}


def test_url_lists_in_parquet_and_jsonl(server, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curate.web.pairs import UrlListReader

    folder = tmp_path / "lists"
    folder.mkdir()
    # LAION metadata names its columns URL and TEXT; DataComp url and text
    pq.write_table(
        pa.table({"URL": [f"{server}/photos/flower.jpg"], "TEXT": ["a flower"], "WIDTH": [480]}),
        folder / "laion.parquet",
    )
    (folder / "datacomp.jsonl").write_text(
        json.dumps({"url": f"{server}/photos/hopper.png", "text": "a portrait", "uid": "u1"})
        + "\n"
        + json.dumps({"url": "", "text": "no url"})
        + "\n"
    )
    (folder / "bad.csv").write_text("link_to_image,words\nx,y\n")
    reader = UrlListReader(str(folder))
    docs = sorted(reader.run(), key=lambda d: d.text)
    assert [(d.text, d.media[0].url.rsplit("/", 1)[1]) for d in docs] == [
        ("a flower", "flower.jpg"),
        ("a portrait", "hopper.png"),
    ]
    assert docs[0].metadata["list"] == {"WIDTH": 480} and docs[1].metadata["list"] == {"uid": "u1"}
    stats = {k: getattr(v, "total", v) for k, v in reader.stats.stats.items()}
    assert stats["errored_missing_url"] == 1 and stats["errored_unreadable_list"] == 1


def test_pairs_recipe_extracts_captioned_images_from_warcs(shared_data, tmp_path):
    output = tmp_path / "out"
    run_one_task("pairs", shared_data / "warc", output, only_stage="extract")
    (funnel,) = run_funnel(output, ["extract"])
    # every image left after the tag/class clean-up counts, teasers' thumbnails with their alt text too (as
    # LAION/DataComp take a page's images); icons and bare names are no pairs, nor the portraits in
    # commoncrawl.org's author boxes (`uui-blogpost03_author-image`: boilerplate by name since issue 24)
    assert funnel.balanced and funnel.kept == 70
    from curate.io import RecordReader

    pairs = list(RecordReader(str(output / "stages" / "extract" / "data")).run())
    values = next(p for p in pairs if "CCValues2021-2025" in p.media[0].url)
    assert values.metadata["caption_source"] == "figcaption"
    assert values.text.startswith("“CC Core Values” graphic from “CC Strategy 2021–2025”")
    assert values.metadata["page_url"] == "https://creativecommons.org/mission/"
    assert all(len(p.text.split()) >= 3 and p.media[0].url.startswith("http") for p in pairs)
    assert not any(p.text.lower().endswith("icon") for p in pairs)
    rirs = next(p for p in pairs if p.text == "Map of RIRs")  # iana: the image is stored in the WARC
    assert rirs.media[0].metadata["fetched_from"] == "warc" and rirs.media[0].media_bytes.startswith(b"<?xml")


def test_page_opt_out_meta_tag_stops_image_fetching(server, shared_data, tmp_path):
    from curate.web.document import WebPageReader

    html = (shared_data / "html" / "blog.python.org.html").read_text(encoding="utf-8")
    html = html.replace("<head>", '<head><meta name="robots" content="noai, noimageai">', 1)
    html = html.replace(
        "We hope you enjoy", f'<img src="{server}/photos/flower.jpg" alt="a flower">We hope you enjoy', 1
    )
    (tmp_path / "page.html").write_text(html, encoding="utf-8")
    (doc,) = list(WebPageReader(str(tmp_path)).run())
    assert doc.metadata["opt_out"] == ["noai", "noimageai"]
    assert doc.media[0].url == f"{server}/photos/flower.jpg"
    _Handler.requests_seen.clear()
    (kept,) = list(FetchImages({"allow_private": True, "retries": 0}).run(iter([doc])))
    assert kept.media[0].media_bytes is None
    assert kept.media[0].metadata["fetch_error"].startswith("opt_out: the page opts out")
    assert _Handler.requests_seen == []
