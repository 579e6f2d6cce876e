"""Reading order of a page's text: blocks (or Tesseract's lines) of a multi-column page put column by
column, a block across the page (title, abstract, wide figure) where it stands. Used for the text layer
(`curate.pdf.page_text`) and for OCR's lines (`curate.pdf.ocr`), both in points."""

from __future__ import annotations

import numpy as np

from curate.pdf.hidden_text import inside_any

WIDE_BLOCK = 0.6  # of the text's width: a block this wide spans columns (title, abstract, wide figure)
MIN_GUTTER_PT = 6  # narrowest white strip between two columns
MIN_COLUMN_SHARE = 0.2  # a column is at least this share of the text's width ...
MIN_COLUMN_CHARS = 200  # ... and starts this much text, so captions and labels do not make columns
MIN_UNIT_CHARS = 12  # shorter blocks/lines (page numbers, figure labels) do not start columns
EDGE_PT = 3  # left edges this close are one edge
MIN_COLUMN_FILL = 0.6  # a line or block this wide, of its column's width, is prose (a table's cells: less)
MIN_PROSE_SHARE = 0.4  # of a column's characters, in such full-width units


def reading_order(page, blocks: list, textpage=None, hidden: list = ()) -> list:
    """A page's text blocks in reading order (see `ordered_blocks`). Where the layer stores the lines of
    two columns one after the other, MuPDF merges them into blocks as wide as the page: such blocks are
    split into their lines (on pages with a block across a column edge only), read from `textpage` (a
    parse of the page without images, or whose images made no block) or else from a parse of its own;
    the `hidden` blocks' lines (curate.pdf.hidden_text) stay out of it."""
    columns = column_bounds(blocks)
    if columns is None:
        return list(blocks)
    if any(b[4].count("\n") >= 3 and _crosses(b, columns) for b in blocks):
        blocks = _split_merged_blocks(page, columns, textpage)
        if hidden:
            blocks = [b for b in blocks if not inside_any(b, hidden)]
    return in_columns(blocks, columns)


def _crosses(unit, columns: list[tuple[float, float]]) -> bool:
    return any(unit[0] < c0 - EDGE_PT < unit[2] - EDGE_PT for c0, _ in columns[1:])


def _split_merged_blocks(page, columns: list[tuple[float, float]], textpage=None) -> list:
    """The page's blocks, each block that holds lines of two or more columns replaced by its lines."""
    import pymupdf

    units = []
    flags = pymupdf.TEXTFLAGS_DICT & ~pymupdf.TEXT_PRESERVE_IMAGES
    for block in page.get_text("dict", flags=flags, textpage=textpage)["blocks"]:
        lines = [
            (*line["bbox"], "".join(s["text"] for s in line["spans"]) + "\n")
            for line in block.get("lines", [])
        ]
        lines = [line for line in lines if line[4].strip()]
        if not lines:
            continue
        whole = (*block["bbox"], "".join(line[4] for line in lines))
        if _crosses(whole, columns) and _holds_columns(lines, columns):
            units.extend(lines)
        else:
            units.append(whole)
    return units


def _holds_columns(lines: list, columns: list[tuple[float, float]]) -> bool:
    """Lines in two or more columns, almost none across them, and prose in at least one (lines filling
    the column): a block MuPDF merged from side-by-side columns, not a table's cells or a figure."""
    inside = [(_column_of(line, columns), line) for line in lines]
    placed = [(i, line) for i, line in inside if i is not None]
    if len({i for i, _ in placed}) < 2 or len(placed) < 0.8 * len(lines):
        return False
    for column in {i for i, _ in placed}:
        c0, c1 = columns[column]
        fills = [(ln[2] - ln[0]) / max(c1 - c0 - MIN_GUTTER_PT, 1) for i, ln in placed if i == column]
        if len(fills) >= 2 and float(np.median(fills)) >= MIN_COLUMN_FILL:
            return True
    return False


def column_bounds(units: list) -> list[tuple[float, float]] | None:
    """The x-ranges of text columns, or None. A column starts where narrow units with enough text share
    a left edge (centred lines, captions and labels do not); a page has columns when each is wide enough
    and its units fill it the way justified or ragged prose does (a table's short cells do not)."""
    if len(units) < 4:
        return None
    left, right = min(u[0] for u in units), max(u[2] for u in units)
    width = right - left
    if width <= 0:
        return None
    edges: dict[int, int] = {}
    for u in units:
        if u[2] - u[0] < WIDE_BLOCK * width and len(u[4].strip()) >= MIN_UNIT_CHARS:
            key = round(u[0] / EDGE_PT)
            edges[key] = edges.get(key, 0) + len(u[4])
    # edges a few points apart are one edge (a scan's lines start a pixel or two apart)
    groups: list[list[int]] = []
    for key in sorted(edges):
        if groups and key - groups[-1][-1] <= 2:
            groups[-1].append(key)
        else:
            groups.append([key])
    starts: list[float] = []
    for group in groups:
        if sum(edges[key] for key in group) < MIN_COLUMN_CHARS:
            continue
        if not starts or group[0] * EDGE_PT - starts[-1] >= MIN_COLUMN_SHARE * width:
            starts.append(group[0] * EDGE_PT)  # an indented paragraph's edge is in the same column
    if not starts:
        return None
    starts[0] = min(starts[0], left)
    # a column that is not prose usually has its lines cut by a false start on its right (a table's
    # value column): drop that start; the last column, not prose, joins the one on its left
    while len(starts) >= 2:
        columns = list(zip(starts, [*starts[1:], right + MIN_GUTTER_PT], strict=False))
        prose = _prose_columns(units, columns)
        if all(prose):
            return columns
        first = prose.index(False)
        starts.pop(first + 1 if first + 1 < len(starts) else first)
    return None


def _prose_columns(units: list, columns: list[tuple[float, float]]) -> list[bool]:
    """Per column: is most of its text in lines or blocks filling it, as prose (a table's cells do not)?"""
    chars, full = [0] * len(columns), [0] * len(columns)
    for u in units:
        inside = _column_of(u, columns)
        if inside is not None:
            c0, c1 = columns[inside]
            chars[inside] += len(u[4])
            if (u[2] - u[0]) / max(c1 - c0 - MIN_GUTTER_PT, 1) >= MIN_COLUMN_FILL:
                full[inside] += len(u[4])
    return [c > 0 and f >= MIN_PROSE_SHARE * c for f, c in zip(full, chars, strict=True)]


def _column_of(unit, columns: list[tuple[float, float]]) -> int | None:
    """The column a unit lies in (ending before the next column starts), or None if it spans columns."""
    for i, (c0, c1) in enumerate(columns):
        if unit[0] >= c0 - EDGE_PT and unit[2] <= c1 - MIN_GUTTER_PT / 2:
            return i
    return None


def ordered_blocks(units: list) -> list:
    """Text blocks or lines (x0, y0, x1, y1, text, ...) in reading order: on a page with text columns,
    column by column (left to right) within each band between full-width units, bands top to bottom.
    A page without a clear column layout keeps its stored order (a table's rows stay rows)."""
    columns = column_bounds(units)
    return list(units) if columns is None else in_columns(units, columns)


def in_columns(units: list, columns: list[tuple[float, float]]) -> list:
    spanning, placed = [], []
    for u in units:
        inside = _column_of(u, columns)
        if inside is None:
            spanning.append(u)
        else:
            placed.append((inside, u))
    spanning.sort(key=lambda u: (u[1], u[0]))
    cuts = [u[1] for u in spanning]
    bands: list[list[list]] = [[[] for _ in columns] for _ in range(len(spanning) + 1)]
    for column, u in placed:
        band = sum(1 for cut in cuts if cut <= (u[1] + u[3]) / 2)
        bands[band][column].append(u)
    ordered = []
    for index, band in enumerate(bands):
        for column_units in band:
            ordered.extend(_by_rows(column_units))
        if index < len(spanning):
            ordered.append(spanning[index])
    return ordered


def _by_rows(units: list) -> list:
    """Units top to bottom; units side by side (their heights overlapping by half) left to right, so a
    table's cells within a column come row by row."""
    rows: list[list] = []
    for u in sorted(units, key=lambda u: (u[1], u[0])):
        row = rows[-1] if rows else None
        if row and min(u[3], row[0][3]) - max(u[1], row[0][1]) > 0.5 * min(
            u[3] - u[1], row[0][3] - row[0][1]
        ):
            row.append(u)
        else:
            rows.append([u])
    return [u for row in rows for u in sorted(row, key=lambda u: u[0])]
