"""Text layer or OCR, per page, on real pages from ../shared/data/pdf: a scan with a tiny text layer is OCRed,
a garbage OCR layer is replaced, a clean one is kept without OCR, and two columns are read in order."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest
from rapidfuzz.distance import Levenshtein

from benchmarks.bench_ocr import bad_ocr  # the same garbling as the benchmark
from curate.pdf.page_text import layer_signals, ocr_reason, text_quality
from curate.pdf.reading_order import ordered_blocks

# linn.pdf's ground truth was itself typed/OCR'd: our OCR measures ~1% CER on it (see test_pdf_pages.py)
MAX_LINN_CER = 0.03


def _read_pages(pdf: pymupdf.Document, folder: Path, **options) -> list:
    from curate.pdf.reader import PdfPageReader

    folder.mkdir(exist_ok=True)
    pdf.save(folder / "page.pdf")
    return list(PdfPageReader(str(folder), **options).run())


def _normalised(text: str) -> str:
    return " ".join(text.split())


def _cer(text: str, truth: str) -> float:
    return Levenshtein.distance(_normalised(text), _normalised(truth)) / len(_normalised(truth))


def _scan_with_layer(scan: Path, layer: str, *, invisible: bool, fontsize: float = 0) -> pymupdf.Document:
    """A real scanned page with a text layer added over its image: invisible and filling the page, as OCR
    engines write it (largest font size that fits), or visible at `fontsize` (a header)."""
    pdf = pymupdf.open(scan)
    page = pdf[0]
    box = page.rect + (36, 36, -36, -36)
    if invisible:
        size = 14.0
        while page.insert_textbox(box, layer, fontsize=size, render_mode=3) < 0:
            size -= 0.5
            assert size > 3, "the layer does not fit the page"
    else:
        page.insert_text((box.x0, box.y0), layer, fontsize=fontsize)
    return pdf


def test_image_of_text_under_a_running_header_is_ocred(shared_data, tmp_path):
    # Federal Register page 8: the page's text (an aircraft manual revision) is an image; the text layer
    # holds the running header and a margin note only
    pdf = pymupdf.open()
    with pymupdf.open(shared_data / "pdf" / "born_digital" / "federal-register-2020-17221.pdf") as source:
        pdf.insert_pdf(source, from_page=7, to_page=7)
    signals = layer_signals(pdf[0])
    assert signals.image_share > 0.5 and len(signals.text.split()) < 60
    [page] = _read_pages(pdf, tmp_path / "in")
    meta = page.metadata
    assert (meta["text_source"], meta["ocr_reason"]) == ("ocr", "text_in_images")
    text = _normalised(page.text)
    assert "Airspeed Unreliable" in text and "autopilot" in text
    assert len(text.split()) > 300


def test_scanned_page_with_a_running_header_only_is_ocred(shared_data, tmp_path):
    # a real scanned book page, given a one-line text layer (a header): the page's text is in the image
    pdf = _scan_with_layer(
        shared_data / "pdf" / "scanned" / "c02-22.pdf",
        "Adventures of Huckleberry Finn",
        invisible=False,
        fontsize=8,
    )
    signals = layer_signals(pdf[0])
    assert signals.image_share > 0.95 and signals.text.strip() == "Adventures of Huckleberry Finn"
    [page] = _read_pages(pdf, tmp_path / "in")
    meta = page.metadata
    assert (meta["text_source"], meta["ocr_reason"]) == ("ocr", "text_in_images")
    assert "tip-toeing along a path amongst" in _normalised(page.text)
    assert len(page.text.split()) > 150


def test_garbage_ocr_layer_is_replaced_by_ocr(shared_data, tmp_path):
    scanned = shared_data / "pdf" / "scanned"
    truth = (scanned / "linn.txt").read_text()
    garbage = bad_ocr(truth)
    assert _cer(garbage, truth) > 0.1
    pdf = _scan_with_layer(scanned / "linn.pdf", garbage, invisible=True)
    assert ocr_reason(layer_signals(pdf[0])) == "poor_ocr_layer"
    [page] = _read_pages(pdf, tmp_path / "in")
    assert (page.metadata["text_source"], page.metadata["ocr_reason"]) == ("ocr", "poor_ocr_layer")
    # OCR in reading order: linn.pdf is two columns, so a column read across would cost far more
    assert _cer(page.text, truth) < MAX_LINN_CER


def test_clean_ocr_layer_on_a_scan_is_kept_without_ocr(shared_data, tmp_path, monkeypatch):
    scanned = shared_data / "pdf" / "scanned"
    truth = (scanned / "linn.txt").read_text()
    pdf = _scan_with_layer(scanned / "linn.pdf", truth, invisible=True)

    def no_ocr(*args, **kwargs):
        raise AssertionError("a clean text layer was OCRed")

    monkeypatch.setattr("curate.pdf.reader.ocr_pixels", no_ocr)
    [page] = _read_pages(pdf, tmp_path / "in")
    assert (page.metadata["text_source"], page.metadata["ocr_reason"]) == ("text_layer", None)
    assert _cer(page.text, truth) < 0.01


def test_garbage_layer_is_kept_and_flagged_when_ocr_is_off(shared_data, tmp_path):
    scanned = shared_data / "pdf" / "scanned"
    garbage = bad_ocr((scanned / "linn.txt").read_text())
    pdf = _scan_with_layer(scanned / "linn.pdf", garbage, invisible=True)
    [page] = _read_pages(pdf, tmp_path / "in", ocr=False)
    assert (page.metadata["text_source"], page.metadata["ocr_reason"]) == ("text_layer", "poor_ocr_layer")


def test_word_validity_tells_garbage_from_text(shared_data):
    truth = (shared_data / "pdf" / "scanned" / "linn.txt").read_text()
    clean, garbage = text_quality(truth), text_quality(bad_ocr(truth))
    assert clean.valid_share > 0.9 and clean.english
    assert garbage.valid_share < clean.valid_share - 0.15 and garbage.noise_share > 0.05
    assert text_quality(bad_ocr(truth)).score < 0.7 * clean.score


def test_born_digital_pages_need_no_ocr(shared_data):
    """Clean text layers covering their page (tables, two columns, code, Latin, right-to-left) are kept;
    the pages sent to OCR are the two whose text is an image of text. A blank page has nothing to OCR."""
    reasons = {}
    for pdf_path in sorted((shared_data / "pdf" / "born_digital").glob("*.pdf")):
        with pymupdf.open(pdf_path) as pdf:
            for page in pdf:
                reasons[f"{pdf_path.name}#{page.number + 1}"] = ocr_reason(layer_signals(page))
    assert {k: v for k, v in reasons.items() if v} == {
        "federal-register-2020-17221.pdf#8": "text_in_images",
        "federal-register-2020-17221.pdf#9": "text_in_images",
    }
    with pymupdf.open(shared_data / "pdf" / "born_digital" / "redp5110_sampled.pdf") as pdf:
        blank = layer_signals(pdf[16])
    assert blank.text == "" and blank.ink_share == 0.0
    assert len(reasons) > 30


TRACEMONKEY_P1 = [  # first and last paragraph of each column of page 1
    "Dynamic languages such as JavaScript are more",
    "Permission to make digital or hard copies",
    "and is used for the application logic",
    "Each compiled trace covers one path",
]


def _positions(text: str) -> list[int]:
    flat = _normalised(text)
    return [flat.find(p) for p in TRACEMONKEY_P1]


def test_two_column_paper_is_read_column_by_column(shared_data):
    with pymupdf.open(shared_data / "pdf" / "born_digital" / "tracemonkey.pdf") as pdf:
        text = layer_signals(pdf[0]).text
        sorted_by_position = pdf[0].get_text(sort=True)
    assert all(p >= 0 for p in _positions(text))
    assert _positions(text) == sorted(_positions(text))
    # PyMuPDF's sort=True reads across both columns, line by line
    assert _positions(sorted_by_position) != sorted(_positions(sorted_by_position))


def test_columns_stored_out_of_order_are_read_in_order(shared_data):
    """TraceMonkey's page 1 rewritten with its paragraphs stored top to bottom across both columns (as
    some producers write them): the stored order and sort=True interleave the columns, ours does not."""
    with pymupdf.open(shared_data / "pdf" / "born_digital" / "tracemonkey.pdf") as src:
        source = src[0]
        blocks = [b for b in source.get_text("dict")["blocks"] if b["type"] == 0]
        out = pymupdf.open()
        page = out.new_page(width=source.rect.width, height=source.rect.height)
    for block in sorted(blocks, key=lambda b: (b["bbox"][1], b["bbox"][0])):
        for line in block["lines"]:
            for span in line["spans"]:
                page.insert_text(span["origin"], span["text"], fontsize=span["size"], fontname="tiro")
    stored = _positions(page.get_text())
    assert stored != sorted(stored), "the rewritten page should store the columns interleaved"
    ours = _positions(layer_signals(page).text)
    assert all(p >= 0 for p in ours) and ours == sorted(ours)


def test_table_rows_stay_rows():
    # cells of a three-column table: no column layout, so the stored (row) order is kept
    rows = [("Name", "Quantity", "Price"), ("apples", "12", "0.50"), ("pears", "7", "0.80")]
    cells = [
        (100 + 150 * c, 100 + 20 * r, 100 + 150 * c + 40, 112 + 20 * r, text + "\n")
        for r, row in enumerate(rows)
        for c, text in enumerate(row)
    ]
    assert [u[4] for u in ordered_blocks(cells)] == [u[4] for u in cells]


@pytest.mark.parametrize("name", ["linn.pdf", "c02-22.pdf"])
def test_scans_without_a_layer_are_ocred_for_that_reason(shared_data, name):
    with pymupdf.open(shared_data / "pdf" / "scanned" / name) as pdf:
        assert ocr_reason(layer_signals(pdf[0])) == "no_text_layer"
