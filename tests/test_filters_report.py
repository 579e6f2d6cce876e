"""The HTML report of a real filtered run: every chart exists and is not blank, thresholds are marked,
examples sit nearest the thresholds, and the page renders whole in headless Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess

import lxml.html
import numpy as np
import pyarrow.parquet as pq
import pytest
from curate.filters.stages import filters_stage, perplexity_cut_stage
from PIL import Image

from curate.io import RecordWriter
from curate.recipe import Recipe
from curate.record import image_media, pair_record
from curate.run.executors import ExecutorConfig
from curate.run.report_html import write_html_report
from curate.run.runner import run_recipe

THRESHOLD_RED = np.array([198, 40, 40])  # the colour of the threshold line (#c62828)


def paragraphs(shared_data) -> list[str]:
    """Real paragraphs of the saved web pages, in German, English and French."""
    out = []
    for page in sorted((shared_data / "html").glob("*.html"))[:30]:
        tree = lxml.html.fromstring(page.read_bytes())
        for node in tree.xpath("//script|//style"):
            node.drop_tree()
        blocks = sorted({" ".join(p.text_content().split()) for p in tree.iter("p")}, key=len, reverse=True)
        out.extend(b for b in blocks[:2] if len(b) >= 60)
    return out


@pytest.fixture(scope="module")
def run(shared_data, tmp_path_factory):
    photos = sorted(p for p in (shared_data / "images/photos").iterdir() if p.suffix in (".jpg", ".png"))
    texts = paragraphs(shared_data)
    source = tmp_path_factory.mktemp("input")
    with RecordWriter(str(source)) as writer:
        for i, text in enumerate(texts):
            photo = photos[i % len(photos)]
            image = image_media(photo.read_bytes(), media_id=photo.name)
            writer.write(pair_record(f"r{i}", text, image, source=photo.name), 0)
    out = tmp_path_factory.mktemp("run")
    recipe = Recipe(
        "report-test", [filters_stage("filter", ["language", "nsfw", "perplexity"]), perplexity_cut_stage()]
    )
    run_recipe(
        recipe,
        str(source),
        out,
        ExecutorConfig("local", workers=1),
        options={"perplexity_drop_fraction": 0.1},
    )
    return out, write_html_report(out)


def not_blank(path) -> bool:
    pixels = np.asarray(Image.open(path).convert("RGB"))
    return pixels.std() > 5 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 10


def red_pixels(path) -> int:
    pixels = np.asarray(Image.open(path).convert("RGB")).astype(int)
    return int((np.abs(pixels - THRESHOLD_RED).sum(axis=2) < 30).sum())


def test_every_chart_exists_and_is_not_blank(run):
    out, page = run
    charts = sorted((out / "report" / "charts").glob("*.png"))
    names = [c.name for c in charts]
    assert "funnel.png" in names
    assert {"00-filter-language.png", "01-filter-nsfw.png", "02-filter-perplexity.png"} <= set(names)
    assert any("perplexity_cut-perplexity" in n for n in names)
    assert all(not_blank(c) for c in charts)
    html = page.read_text()
    for chart in charts:
        assert f"charts/{chart.name}" in html


def test_thresholds_are_marked_where_applied(run):
    out, page = run
    charts = out / "report" / "charts"
    assert red_pixels(charts / "00-filter-language.png") > 50  # min 0.8
    assert red_pixels(charts / "01-filter-nsfw.png") > 50  # max 0.5
    assert (
        red_pixels(next(charts.glob("*perplexity_cut-perplexity.png"))) > 50
    )  # the computed 90th percentile
    assert red_pixels(charts / "02-filter-perplexity.png") == 0  # scoring only: no threshold to draw
    assert "threshold 0.8" in page.read_text()


def test_examples_are_the_records_nearest_the_threshold(run):
    out, page = run
    kept = _scores(out / "stages/filter/data", "language")
    dropped = _scores(out / "stages/filter/excluded", "language")
    assert kept and dropped
    nearest_kept = sorted(kept, key=lambda kv: abs(kv[1] - 0.8))[:3]
    nearest_dropped = sorted(dropped, key=lambda kv: abs(kv[1] - 0.8))[:3]
    doc = lxml.html.fromstring(page.read_bytes())
    section = doc.xpath("//div[@class='examples']")[0]
    shown = [m.text_content() for m in section.xpath(".//div[@class='meta']")]
    expected = nearest_kept + nearest_dropped
    assert len(shown) == len(expected)
    for (record_id, value), meta in zip(expected, shown, strict=True):
        assert record_id in meta and f"{value:.4g}" in meta
    thumbs = section.xpath(".//img/@src")
    assert len(thumbs) == len(expected)
    assert all(not_blank(out / "report" / t) for t in thumbs)


def _scores(folder, name) -> list[tuple[str, float]]:
    out = []
    for path in folder.glob("*.parquet"):
        for row in pq.read_table(path, columns=["id", "metadata"]).to_pylist():
            value = json.loads(row["metadata"])["scores"].get(name)
            if value is not None:
                out.append((row["id"], value))
    return out


def test_page_renders_in_headless_chromium(run, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        pytest.skip(
            "SKIPPED: Debian chromium is not installed (apt-get install chromium); charts are checked above"
        )
    out, page = run
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=5000",
    ]
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    body = lxml.html.fromstring(dom).xpath("//body")[0]
    total = int(body.get("data-images-total"))
    assert total > 5 and int(body.get("data-images-loaded")) == total  # every chart and thumbnail loaded
    shot = tmp_path / "shot.png"
    subprocess.run(
        [browser, *flags, "--window-size=1200,1600", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert not_blank(shot)


def test_cli_report_html_writes_the_page(run, capsys):
    from curate.cli import main

    out, page = run
    page.unlink()
    assert main(["report", str(out), "--html"]) == 0
    assert f"HTML report: {page}" in capsys.readouterr().out
    assert page.is_file() and "Funnel" in page.read_text()
