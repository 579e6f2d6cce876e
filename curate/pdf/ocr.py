"""Tesseract OCR of a page image, through pytesseract.

Tesseract's own OpenMP threads make it ~10x slower per page on small machines; we pin it to one
thread (OMP_THREAD_LIMIT=1) and parallelise by process (one stage task per core) instead.
"""

from __future__ import annotations

import io
import os

# Below this mean word confidence the page may be sideways or upside down: worth an orientation check.
MIN_CONFIDENCE = 70


def ocr_image(image_bytes: bytes, lang: str = "eng", dpi: float = 300) -> str:
    """Text of an encoded page image (rendered at `dpi`). Pages scanned sideways or upside down are turned
    upright first. Lines come in reading order: columns one after the other, table rows as rows."""
    from PIL import Image

    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # the tesseract processes started below inherit it
    image = Image.open(io.BytesIO(image_bytes))
    text, confidence = _read(image, lang, dpi)
    if confidence < MIN_CONFIDENCE:
        upright = _upright(image)
        if upright is not None:
            text2, confidence2 = _read(upright, lang, dpi)
            if confidence2 > confidence:
                text = text2
    return text


def _read(image, lang: str, dpi: float = 300) -> tuple[str, float]:
    """Text in reading order and the mean confidence of its words. Tesseract's lines are put in order by
    `ordered_blocks` (in points, like a text layer): on pages with text columns it reads them column by
    column and a table's cells row by row, where Tesseract reads a table column by column."""
    import pytesseract

    from curate.pdf.page_text import ordered_blocks

    data = pytesseract.image_to_data(image, lang=lang, output_type=pytesseract.Output.DICT)
    lines: dict[tuple, list] = {}
    confidences = []
    for i, word in enumerate(data["text"]):
        if not word.strip():
            continue
        key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
        x0, y0 = data["left"][i], data["top"][i]
        x1, y1 = x0 + data["width"][i], y0 + data["height"][i]
        line = lines.setdefault(key, [x0, y0, x1, y1, []])
        line[:4] = min(line[0], x0), min(line[1], y0), max(line[2], x1), max(line[3], y1)
        line[4].append(word)
        confidences.append(float(data["conf"][i]))
    scale = 72 / dpi
    units = [
        (x0 * scale, y0 * scale, x1 * scale, y1 * scale, " ".join(ws), key)
        for key, (x0, y0, x1, y1, ws) in lines.items()
    ]
    text, previous = [], None
    for unit in ordered_blocks(units):
        if previous is not None and unit[5][:2] != previous[:2]:
            text.append("")  # blank line between paragraphs
        text.append(unit[4])
        previous = unit[5]
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
