"""The QA review pages of a docmatix run (curate/run/report_qa.py): every sample's page images with its kept
and rejected pairs, each pair's reason and its evidence marked in the page text, paged, in a browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import lxml.html
import pyarrow.parquet as pq
import pytest
from curate.pipelines.docmatix import recipe
from stub_llm import StubLLM

from curate.run.executors import ExecutorConfig
from curate.run.report_html import write_html_report
from curate.run.report_qa import find_span, marked_text, sample_pairs, write_qa_review
from curate.run.runner import run_recipe

REPO = Path(__file__).resolve().parent.parent


def docmatix_run(pdfs, out, roundtrip_answer: str | None = None):
    options = {
        "llm_url": "",
        "llm_retries": 0,
        "llm_timeout": 30,
        "response_format": "none",
        "ocr": False,
        "sample_unit": "document",
        "perplexity": False,
        "language": False,
    }  # every page reaches the LLM
    with StubLLM(roundtrip_answer=roundtrip_answer) as stub:
        options["llm_url"] = stub.url
        run_recipe(recipe(), str(pdfs), out, ExecutorConfig(workers=1), options=options)
    return out


@pytest.fixture(scope="module")
def two_pdfs(tmp_path_factory, request):
    shared = request.getfixturevalue("shared_data")
    folder = tmp_path_factory.mktemp("pdfs")
    for name in ("code_and_formula.pdf", "scotus-transcript-p1.pdf"):  # 2 pages and 1
        shutil.copy(shared / "pdf" / "born_digital" / name, folder)
    return folder


@pytest.fixture(scope="module")
def kept_run(two_pdfs, tmp_path_factory):
    return docmatix_run(two_pdfs, tmp_path_factory.mktemp("run") / "out")


@pytest.fixture(scope="module")
def rejected_run(two_pdfs, tmp_path_factory):
    # the round trip answers something else: every pair is rejected, and so every sample (no_kept_qa)
    return docmatix_run(
        two_pdfs, tmp_path_factory.mktemp("run") / "out", roundtrip_answer="a different answer"
    )


def checked_records(out):
    rows = []
    for folder in ("data", "excluded"):
        for path in sorted((out / "stages" / "checks" / folder).glob("*.parquet")):
            rows += pq.read_table(path, columns=["id", "metadata", "media"]).to_pylist()
    return rows


def test_every_sample_shows_its_page_images_and_every_pair(kept_run):
    page = write_html_report(kept_run)
    index = page.read_text()
    assert 'href="qa/page-1.html"' in index
    review = lxml.html.fromstring((kept_run / "report" / "qa" / "page-1.html").read_bytes())
    records = checked_records(kept_run)
    sections = review.xpath("//section[@class='sample']")
    assert len(sections) == len(records) == 2
    for record, section in zip(records, sections, strict=True):
        meta = json.loads(record["metadata"])
        assert record["id"] in section.xpath("string(h2)")
        assert len(section.xpath(".//div[@class='imgs']/img")) == len(record["media"]) == len(meta["pages"])
        items = section.xpath(".//ol[@class='pairs']/li")
        assert len(items) == len(meta["qa"]) + len(meta["qa_rejected"]) + len(meta["qa_rejects"])
        kept = section.xpath(".//li[@class='kept']")
        assert [li.xpath("string(span[@class='a'])") for li in kept] == [t["assistant"] for t in meta["qa"]]
        evidence = meta.get("qa_evidence") or [{}] * len(kept)
        for li, entry in zip(kept, evidence, strict=True):
            # each kept pair's evidence (the stored lines, else its answer) is marked in the page text, and
            # the pair links to its mark
            target = li.xpath(".//a/@href")[0].lstrip("#")
            mark = section.xpath(f".//mark[@id='{target}']")[0]
            lines = entry.get("evidence")
            expected = (
                " ".join(lines) if isinstance(lines, list) else lines or li.xpath("string(span[@class='a'])")
            )
            words = lambda text: re.findall(r"[^\W_]+", text.lower())  # noqa: E731
            assert words(mark.xpath("sup")[0].tail) == words(expected)
            if lines:
                assert "evidence: " in li.text_content()
    for image in (kept_run / "report" / "qa" / "img").glob("*.jpg"):
        assert image.stat().st_size > 1000


def test_rejected_pairs_show_their_reason(rejected_run):
    write_html_report(rejected_run)
    review = lxml.html.fromstring((rejected_run / "report" / "qa" / "page-1.html").read_bytes())
    assert not review.xpath("//li[@class='kept']")
    rejected = review.xpath("//li[@class='rejected']")
    reasons = [
        p["reason"] for r in checked_records(rejected_run) for p in json.loads(r["metadata"])["qa_rejected"]
    ]
    assert len(rejected) == len(reasons) and "roundtrip" in reasons
    for li, reason in zip(rejected, reasons, strict=True):
        assert f"rejected: {reason} (grounding" in li.text_content()
        if reason == "roundtrip":  # what the round trip answered instead
            assert "round trip: 'a different answer'" in li.text_content()
    assert all("dropped: no_kept_qa" in h.text_content() for h in review.xpath("//section/h2"))


def test_large_runs_are_paged_with_links(kept_run, tmp_path):
    totals = write_qa_review(kept_run, tmp_path, per_page=1)
    assert totals["pages"] == totals["samples"] == 2
    first = lxml.html.fromstring((tmp_path / "qa" / "page-1.html").read_bytes())
    second = lxml.html.fromstring((tmp_path / "qa" / "page-2.html").read_bytes())
    assert len(first.xpath("//section")) == len(second.xpath("//section")) == 1
    assert first.xpath("//a[@rel='next']/@href")[0] == "page-2.html"
    assert second.xpath("//a[@rel='prev']/@href")[0] == "page-1.html"
    assert not first.xpath("//a[@rel='prev']") and not second.xpath("//a[@rel='next']")


def test_stored_evidence_is_marked_rather_than_the_answer(shared_data):
    # real OCR text with its spacing (linn.txt is the ground truth of a scanned page)
    text = (shared_data / "pdf" / "scanned" / "linn.txt").read_text()
    line = next(x for x in text.splitlines() if len(x.split()) >= 8)
    words = line.split()
    answer = words[-2]
    ocr_like = " ,".join(words[1:6])  # as OCR splits words from their punctuation
    meta = {"qa": [{"user": "What does the line say?", "assistant": answer}],
            "qa_provenance": [{"pages": [1], "grounding": 1.0}],
            "qa_evidence": [{"pages": [1], "evidence": ocr_like}],
            "qa_rejected": [{"question": "Who?", "answer": "nobody at all", "reason": "not_grounded",
                             "grounding": 0.0}]}  # fmt: skip
    pairs = sample_pairs(meta)
    assert [p.kept for p in pairs] == [True, False] and pairs[0].evidence == ocr_like
    assert "not_grounded" in pairs[1].reason
    body = marked_text(text, [(1, pairs[0].evidence, True), (2, pairs[1].answer, False)])
    mark = lxml.html.fromstring(f"<div>{body}</div>").xpath("//mark")
    assert len(mark) == 1 and mark[0].get("class") == "kept"  # the rejected answer is not on the page
    assert mark[0].xpath("sup")[0].text == "1"  # the pair's number, then the page's own words
    assert " ".join(mark[0].xpath("sup")[0].tail.split()) == " ".join(words[1:6])


def test_find_span_ignores_ocr_spacing_and_case():
    text = "Date: 4- 30- 92\nTOTAL  $ 1, 228. 2\nu. s. a."
    assert text[slice(*find_span("4-30-92", text))] == "4- 30- 92"
    assert text[slice(*find_span("$1,228.2", text))] == "1, 228. 2"
    assert find_span("U.S.A.", text) is not None
    assert find_span("12282", text) is None  # digits of two runs are not joined into a number


def test_review_renders_in_headless_chromium(kept_run, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        pytest.skip("SKIPPED: Debian chromium is not installed (make install installs it)")
    write_html_report(kept_run)
    page = kept_run / "report" / "qa" / "page-1.html"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
             "--virtual-time-budget=5000"]  # fmt: skip
    dom = subprocess.run([browser, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True).stdout  # fmt: skip
    body = lxml.html.fromstring(dom).xpath("//body")[0]
    total = int(body.get("data-images-total"))
    assert total == 3 and int(body.get("data-images-loaded")) == total  # 2 + 1 page images
    shot = tmp_path / "review.png"
    subprocess.run([browser, *flags, "--window-size=1300,1500", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120, check=True)  # fmt: skip
    from PIL import Image, ImageStat

    with Image.open(shot) as image:
        assert max(ImageStat.Stat(image.convert("L")).stddev) > 20  # text and page images, not a blank page
    keep = tmp_path.parent / "review-screenshot.png"  # kept beside the test's folder to be looked at
    shutil.copy(shot, keep)


def test_control_characters_of_a_real_text_layer_do_not_reach_the_page():
    # the LayoutParser paper's text layer (Unstructured's example-docs) holds a NUL character
    rows = [json.loads(line) for line in open(REPO / "benchmarks" / "data" / "docmatix_test_pages.jsonl")]
    text = next(
        r["text"] for r in rows if r["page_id"] == "unstructured/layout-parser-paper-fast.p1-2.pdf#page=1"
    )
    assert "\x00" in text
    body = marked_text(text, [(1, "LayoutParser", True)])
    assert "\x00" not in body and "\ufffd" in body and '<mark class="kept" id="m1"' in body
