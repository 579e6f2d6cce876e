"""Tesseract OCR of a page image, in this process through tesserocr (libtesseract).

Tesseract's work is the cost, nothing around it: the grey pixels go to libtesseract as they are (no
image file written and decoded again, no `tesseract` process a page reloading its model: ~0.3 s a
page), and a page takes one Tesseract pass. Orientation is checked only where that pass's mean word
confidence is low (a sideways or upside-down scan reads as debris): Tesseract's orientation detection
on the same pixels (0.1-0.3 s), and a second pass on the page turned upright only when it says the page
is turned. The libtesseract in tesserocr's wheel has no OpenMP: one thread a page; parallelise by process
(one stage task per core). The language data is the system Tesseract's (Debian `tesseract-ocr-eng`).
"""

from __future__ import annotations

import glob
import io
import os
import re
import subprocess
import threading
from functools import lru_cache

# Below this mean word confidence the page may be sideways or upside down: worth an orientation check.
MIN_CONFIDENCE = 70

_engines = threading.local()  # a Tesseract instance is not thread-safe: one per thread (and language)


def ocr_image(image_bytes: bytes, lang: str = "eng", dpi: float = 300) -> str:
    """Text of an encoded page image (rendered at `dpi`); see `ocr_pixels`."""
    from PIL import Image

    image = Image.open(io.BytesIO(image_bytes)).convert("L")
    return ocr_pixels(image.tobytes(), image.width, image.height, dpi, lang)


def ocr_pixels(
    samples: bytes, width: int, height: int, dpi: float = 300, lang: str = "eng", stride: int | None = None
) -> str:
    """Text of a page image given as 8-bit grey pixels (rows of `stride` bytes, default `width`), e.g. a
    PyMuPDF grey pixmap's `samples`. Pages scanned sideways or upside down are turned upright first.
    Lines come in reading order: columns one after the other, table rows as rows."""
    stride = stride or width
    text, confidence = _read(_engine(lang), samples, width, height, stride, dpi)
    if confidence < MIN_CONFIDENCE:
        turned = _upright(samples, width, height, stride, dpi)
        if turned is not None:
            text2, confidence2 = _read(_engine(lang), *turned, dpi)
            if confidence2 > confidence:
                text = text2
    return text


def tessdata_dir(lang: str = "eng") -> str:
    """The folder of Tesseract's language data holding `lang`: TESSDATA_PREFIX, the usual system places,
    or where the `tesseract` command says."""
    return _tessdata_dir(lang, os.environ.get("TESSDATA_PREFIX", ""))


@lru_cache(maxsize=8)
def _tessdata_dir(lang: str, prefix: str) -> str:
    candidates = [prefix, os.path.join(prefix, "tessdata")] if prefix else []
    candidates += sorted(glob.glob("/usr/share/tesseract-ocr/*/tessdata"), reverse=True)
    candidates += ["/usr/share/tessdata", "/usr/local/share/tessdata", "/opt/homebrew/share/tessdata"]
    try:
        listed = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30)
        candidates += re.findall(r'"([^"]+)"', listed.stdout + listed.stderr)
    except (OSError, subprocess.TimeoutExpired):
        pass
    for folder in candidates:
        if folder and os.path.isfile(os.path.join(folder, f"{lang}.traineddata")):
            return folder
    raise RuntimeError(
        f"no Tesseract language data for {lang!r} (looked in TESSDATA_PREFIX and {', '.join(c for c in candidates if c)}): "
        f"install it (Debian: apt-get install tesseract-ocr-{lang}) or set TESSDATA_PREFIX to its folder"
    )


def _engine(lang: str, psm: str = "AUTO"):
    """This thread's Tesseract for `lang` (loaded once: loading the model is most of a small page's cost)."""
    engines = _engines.__dict__
    key = (lang, psm)
    if key not in engines:
        import tesserocr

        engines[key] = tesserocr.PyTessBaseAPI(
            path=tessdata_dir(lang), lang=lang, psm=getattr(tesserocr.PSM, psm)
        )
    return engines[key]


def text_lines(
    samples: bytes, width: int, height: int, dpi: float, lang: str = "eng", stride: int | None = None
) -> int:
    """Lines of text Tesseract's page layout analysis finds in a page image, without reading them (tens of
    milliseconds at 72 dpi): none in a photo or a drawing, some in a scan of any script."""
    from tesserocr import RIL

    api = _engine(lang)
    api.SetImageBytes(bytes(samples), width, height, 1, stride or width)
    api.SetSourceResolution(max(1, round(dpi)))
    try:
        return len(api.GetComponentImages(RIL.TEXTLINE, True))
    finally:
        api.Clear()


def _read(api, samples: bytes, width: int, height: int, stride: int, dpi: float) -> tuple[str, float]:
    """Text in reading order and the mean confidence of its words. Tesseract's lines are put in order by
    `ordered_blocks` (in points, like a text layer): on pages with text columns it reads them column by
    column and a table's cells row by row, where Tesseract reads a table column by column."""
    from tesserocr import RIL, iterate_level

    from curate.pdf.reading_order import ordered_blocks

    api.SetImageBytes(bytes(samples), width, height, 1, stride)
    api.SetSourceResolution(max(1, round(dpi)))
    api.Recognize()
    scale = 72 / dpi
    units, block, paragraph = [], -1, -1
    iterator = api.GetIterator()
    for line in iterate_level(iterator, RIL.TEXTLINE) if iterator is not None else ():
        if line.IsAtBeginningOf(RIL.BLOCK):
            block += 1
        if line.IsAtBeginningOf(RIL.PARA):
            paragraph += 1
        try:
            words = (line.GetUTF8Text(RIL.TEXTLINE) or "").split()
        except RuntimeError:  # tesserocr's "No text returned": a line Tesseract found no text in
            continue
        box = line.BoundingBox(RIL.TEXTLINE)
        if words and box:
            x0, y0, x1, y1 = (v * scale for v in box)
            units.append((x0, y0, x1, y1, " ".join(words), (block, paragraph)))
    text, previous = [], None
    for unit in ordered_blocks(units):
        if previous is not None and unit[5] != previous:
            text.append("")  # blank line between paragraphs
        text.append(unit[4])
        previous = unit[5]
    confidence = api.MeanTextConf() if units else 0.0
    api.Clear()  # the page's image and results: not kept until the next page
    return "\n".join(text), float(confidence)


def _upright(samples: bytes, width: int, height: int, stride: int, dpi: float):
    """(pixels, width, height, stride) of the page turned upright as Tesseract's orientation detection
    says, or None if it is upright already or has too little text to tell."""
    from PIL import Image

    osd = _engine("osd", "OSD_ONLY")
    osd.SetImageBytes(bytes(samples), width, height, 1, stride)
    osd.SetSourceResolution(max(1, round(dpi)))
    found = osd.DetectOrientationScript()
    osd.Clear()
    angle = int(found["orient_deg"]) if found else 0
    if not angle:
        return None
    image = Image.frombuffer("L", (width, height), bytes(samples), "raw", "L", stride, 1)
    turned = image.rotate(angle, expand=True)  # counter-clockwise by the angle the text is turned
    return turned.tobytes(), turned.width, turned.height, turned.width
