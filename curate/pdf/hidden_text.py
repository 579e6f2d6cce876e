"""Text a reader of the page cannot see: drawn white on white, under an opaque box (a "redaction" that
only covers), clipped away, or invisible with nothing drawn beneath it.

Such text is not what the page shows: a vision-language model trained on the page image and its text
learns to read what is not there, a QA pair about it cannot be answered from the image, and covered
text is often what the author meant to hide (a receipt's e-mail address under a white box). Found on
the page's own render, which the pages stage makes anyway: a text block whose area shows no ink at all.
An OCR engine's invisible layer over a scan stays, since the scan under it shows the glyphs.
"""

from __future__ import annotations

import numpy as np

from curate.pdf.page_image import pixel_rows

# grey levels between a block's lightest and darkest sampled pixel below which it shows nothing: light
# grey print on white spans 50 or more, text drawn in the background's colour 0-3
INK_RANGE = 24
# rows sampled across a block's height: a whole row cuts through the glyphs of the line it crosses. At
# evenly spaced rows a block's line pitch can put every row in the gaps between lines (an IRS page at 150
# dpi did), so the rows sit at the golden ratio's multiples of the height: no pitch aliases them all
SAMPLED_ROWS = 12
ROW_PHASES = (np.arange(1, SAMPLED_ROWS + 1) * 0.6180339887) % 1.0
# coarser renders (thumbnails) cannot tell a label in small print from nothing: their text is kept whole
MIN_DPI = 72


class PageRender:
    """A page's RGB render (a PyMuPDF pixmap) and the matrix from page coordinates to its pixels."""

    def __init__(self, pixmap, zoom: float, rotation_matrix=None):
        import pymupdf

        self.pixmap = pixmap  # the array below is a view of its samples: it must outlive it
        self.width, self.height, self.n = pixmap.width, pixmap.height, pixmap.n
        self.channel = min(1, pixmap.n - 1)  # green of RGB, or the grey of a grey render
        self.pixels = pixel_rows(pixmap)
        self.zoom = zoom
        rotated = rotation_matrix is not None and tuple(rotation_matrix) != tuple(pymupdf.Identity)
        self.matrix = rotation_matrix * pymupdf.Matrix(zoom, zoom) if rotated else None

    def shows_ink(self, bbox) -> bool:
        """Whether anything is drawn inside `bbox` (page coordinates) on the render. A box outside the
        render shows nothing."""
        if self.matrix is None:
            x0, y0, x1, y1 = (v * self.zoom for v in bbox[:4])
        else:
            import pymupdf

            x0, y0, x1, y1 = pymupdf.Rect(bbox[:4]) * self.matrix
        x0, y0 = max(int(x0), 0), max(int(y0), 0)
        x1, y1 = min(int(x1) + 1, self.width), min(int(y1) + 1, self.height)
        if x1 <= x0 or y1 <= y0:
            return False
        channel = self.pixels[y0:y1, x0 * self.n + self.channel : x1 * self.n : self.n]  # a view: no copy yet
        if y1 - y0 > SAMPLED_ROWS:
            channel = channel[(ROW_PHASES * (y1 - y0)).astype(int)]
        return int(channel.max()) - int(channel.min()) >= INK_RANGE


def hidden_blocks(blocks: list, render: PageRender | None) -> list:
    """The text blocks (PyMuPDF's extractBLOCKS tuples) that show no ink on the page's render."""
    if render is None or render.zoom * 72 < MIN_DPI:
        return []
    return [b for b in blocks if b[6] == 0 and b[4].strip() and not render.shows_ink(b)]


def inside_any(unit, boxes: list) -> bool:
    """Whether the centre of `unit` (a bbox-first tuple) lies in one of `boxes`: a line of a block that
    a second parse of the page splits differently."""
    cx, cy = (unit[0] + unit[2]) / 2, (unit[1] + unit[3]) / 2
    return any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in boxes)
