"""Tesseract OCR of a page image, through pytesseract.

Tesseract's own OpenMP threads make it ~10x slower per page on small machines; we pin it to one
thread (OMP_THREAD_LIMIT=1) and parallelise by process (one stage task per core) instead.
"""

from __future__ import annotations

import io
import os

# Below this mean word confidence the page may be sideways or upside down: worth an orientation check.
MIN_CONFIDENCE = 70


def ocr_image(image_bytes: bytes, lang: str = "eng") -> str:
    """Text of an encoded page image. Pages scanned sideways or upside down are turned upright first."""
    from PIL import Image

    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # the tesseract processes started below inherit it
    image = Image.open(io.BytesIO(image_bytes))
    text, confidence = _read(image, lang)
    if confidence < MIN_CONFIDENCE:
        upright = _upright(image)
        if upright is not None:
            text2, confidence2 = _read(upright, lang)
            if confidence2 > confidence:
                text = text2
    return text


def _read(image, lang: str) -> tuple[str, float]:
    """Text in reading order (blocks, paragraphs, lines) and the mean confidence of its words."""
    import pytesseract

    data = pytesseract.image_to_data(image, lang=lang, output_type=pytesseract.Output.DICT)
    lines: dict[tuple, list[str]] = {}
    confidences = []
    for i, word in enumerate(data["text"]):
        if not word.strip():
            continue
        key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
        lines.setdefault(key, []).append(word)
        confidences.append(float(data["conf"][i]))
    text, previous = [], None
    for key, words in lines.items():
        if previous is not None and key[:2] != previous[:2]:
            text.append("")  # blank line between paragraphs
        text.append(" ".join(words))
        previous = key
    mean_conf = sum(confidences) / len(confidences) if confidences else 0.0
    return "\n".join(text), mean_conf


def _upright(image):
    """The image rotated as Tesseract's orientation detection says, or None if it is already upright."""
    import pytesseract

    try:
        osd = pytesseract.image_to_osd(image, output_type=pytesseract.Output.DICT)
    except pytesseract.TesseractError:
        return None  # too little text to tell the orientation
    angle = int(osd.get("rotate", 0))
    return image.rotate(-angle, expand=True) if angle else None
