"""Tesseract OCR of a page image, through pytesseract.

Tesseract's own OpenMP threads make it ~10x slower per page on small machines; we pin it to one
thread (OMP_THREAD_LIMIT=1) and parallelise by process (one stage task per core) instead.
"""

from __future__ import annotations

import io
import os

os.environ.setdefault("OMP_THREAD_LIMIT", "1")


def ocr_image(image_bytes: bytes, lang: str = "eng") -> str:
    """Text of an encoded page image. Pages scanned sideways are turned upright first."""
    import pytesseract
    from PIL import Image

    image = Image.open(io.BytesIO(image_bytes))
    text = pytesseract.image_to_string(image, lang=lang)
    if _looks_wrong(text):
        rotated = _upright(image)
        if rotated is not None:
            text = pytesseract.image_to_string(rotated, lang=lang)
    return text


def _looks_wrong(text: str) -> bool:
    """Sideways pages come out as few, short, mostly non-word tokens."""
    words = text.split()
    if len(words) < 5:
        return True
    wordlike = sum(1 for w in words if len(w) > 2 and w.isalpha())
    return wordlike / len(words) < 0.3


def _upright(image):
    """The image rotated as Tesseract's orientation detection says, or None if it is already upright."""
    import pytesseract

    try:
        osd = pytesseract.image_to_osd(image, output_type=pytesseract.Output.DICT)
    except pytesseract.TesseractError:
        return None  # too little text to tell the orientation
    angle = int(osd.get("rotate", 0))
    return image.rotate(-angle, expand=True) if angle else None
