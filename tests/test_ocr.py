"""OCR of page images (curate/ocr.py) on real scans: quality, one Tesseract pass a page, turned pages read
upright; and what a pages process imports (no torch for shards, no PyMuPDF layout analyser)."""

from __future__ import annotations

import subprocess
import sys

import pymupdf
import pytest
from PIL import Image
from rapidfuzz.distance import Levenshtein

from curate.pdf import ocr
from curate.pdf.ocr import ocr_image, ocr_pixels

MAX_LINN_CER = 0.03  # as tests/test_pdf_pages.py: 1.0-1.1% measured here


def normalise(text: str) -> str:
    return " ".join(text.split())


def grey_page(path, dpi: int = 300) -> Image.Image:
    with pymupdf.open(path) as pdf:
        pix = pdf[0].get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY)
    return Image.frombytes("L", (pix.width, pix.height), pix.samples)


@pytest.fixture(scope="module")
def linn(shared_data) -> tuple[Image.Image, str]:
    scanned = shared_data / "pdf" / "scanned"
    return grey_page(scanned / "linn.pdf"), normalise((scanned / "linn.txt").read_text())


class CountingEngine:
    """A Tesseract engine that counts its recognition passes."""

    def __init__(self, engine, passes: list):
        self._engine, self._passes = engine, passes

    def Recognize(self, *args):  # noqa: N802 (tesserocr's name)
        self._passes.append(1)
        return self._engine.Recognize(*args)

    def __getattr__(self, name):
        return getattr(self._engine, name)


@pytest.fixture
def passes(monkeypatch) -> list:
    counted: list = []
    real = ocr._engine
    monkeypatch.setattr(ocr, "_engine", lambda *a: CountingEngine(real(*a), counted))
    return counted


def test_two_column_scan_reads_in_order_in_one_pass(linn, passes):
    image, truth = linn
    text = ocr_pixels(image.tobytes(), image.width, image.height, 300)
    cer = Levenshtein.distance(normalise(text), truth) / len(truth)
    assert cer < MAX_LINN_CER
    assert len(passes) == 1  # confident page: no orientation check, no second pass


@pytest.mark.parametrize("angle", [90, 180, 270])
def test_turned_scan_is_read_upright(linn, passes, angle):
    image, truth = linn
    turned = image.rotate(angle, expand=True)
    text = ocr_pixels(turned.tobytes(), turned.width, turned.height, 300)
    assert Levenshtein.distance(normalise(text), truth) / len(truth) < MAX_LINN_CER
    # a second pass only when the first read debris (Tesseract reads some sideways pages as they are)
    assert len(passes) == 2 if angle == 180 else len(passes) <= 2


def test_sideways_pdf_scan_is_read_upright(shared_data):
    scanned = shared_data / "pdf" / "scanned"
    upright, sideways = grey_page(scanned / "ocr_test.pdf"), grey_page(scanned / "ocr_test_rotated_90.pdf")
    a = ocr_pixels(upright.tobytes(), upright.width, upright.height)
    b = ocr_pixels(sideways.tobytes(), sideways.width, sideways.height)
    assert "Docling bundles PDF" in a and Levenshtein.normalized_distance(normalise(a), normalise(b)) < 0.05


def test_padded_rows_and_encoded_images_give_the_same_text(shared_data):
    import io

    image = grey_page(shared_data / "pdf" / "scanned" / "ocr_test.pdf", dpi=150)
    pad = 13  # rows longer than the image (a pixmap's stride): the padding must not be read as pixels
    rows = b"".join(
        image.tobytes()[y * image.width : (y + 1) * image.width] + b"\xff" * pad for y in range(image.height)
    )
    png = io.BytesIO()
    image.save(png, format="PNG")
    plain = ocr_pixels(image.tobytes(), image.width, image.height, 150)
    assert "Docling" in plain
    assert ocr_pixels(rows, image.width, image.height, 150, stride=image.width + pad) == plain
    assert ocr_image(png.getvalue(), dpi=150) == plain


def test_blank_page_gives_no_text():
    blank = Image.new("L", (1200, 1600), 255)
    assert ocr_pixels(blank.tobytes(), blank.width, blank.height) == ""


def test_missing_language_names_it_and_the_fix():
    with pytest.raises(RuntimeError, match="tesseract-ocr-xx_no_such"):
        ocr.tessdata_dir("xx_no_such")


def test_a_pages_process_imports_neither_torch_nor_the_layout_analyser(tmp_path):
    """The shards writer and the PDF reader, as a pages + shards run uses them, in a fresh interpreter."""
    code = f"""
import sys
from curate.output.shards import SampleTarWriter
from curate.pdf.reader import PdfPageReader
import pymupdf
writer = SampleTarWriter({str(tmp_path / "s.tar")!r})
writer.write({{"__key__": "a", "json": b"{{}}", "txt": b"x"}})
writer.close()
print(sorted(m for m in ("torch", "webdataset", "pymupdf.layout", "pymupdf4llm") if sys.modules.get(m)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    import webdataset as wds

    sample = next(iter(wds.WebDataset(str(tmp_path / "s.tar"), shardshuffle=False)))
    assert sample["__key__"] == "a" and sample["txt"] == b"x"
