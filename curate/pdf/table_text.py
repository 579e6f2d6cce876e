"""Tables in a PDF page's text layer, written one row per line.

MuPDF groups a table's words into blocks by column, or by odd runs of cells, so a page's block text
gives a table column by column: a reader (an LLM writing questions) then matches a value to the wrong
row. `find_tables` finds table regions from the words of the same text parse (runs of rows whose words
fall into three or more short cells lining up with other rows' cells, most rows with about as many
cells) and replaces the blocks holding them with one unit per table whose text is the table row by
row, cells left to right joined by " | " (not a tab: a number is never read across two cells).
Every word of those blocks is written once, verbatim; a block whose words do not match its text (odd
control characters) keeps the page as it was. Pages with no table keep their blocks untouched.

A table whose first row is a header (labels over columns of numbers) has each body cell after the row
label written with its column's header, "Himachal Pradesh | 1981-1991: 20.79 | 1991-2001: 17.54": a small
model reading " | " rows otherwise picks the wrong column (it cannot count positions). Header words are
then repeated once per labelled cell; every other word is still written once.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from operator import itemgetter
from statistics import median

CELL_SEP = " | "
CELL_GAP = 0.8  # of the median word height: a wider gap between two words on a row separates cells
ROW_TOLERANCE = 0.5  # of the median word height: word centres this close are on one row
ALIGN_TOLERANCE = 0.3  # of the median word height: cell edges this close line up
MIN_CELLS = 3  # a table row has this many cells on one line ...
MAX_CELL_WORDS = 3  # ... most of them this short (side-by-side columns of prose: lines of 5-12 words) ...
MIN_ALIGNED = 3  # ... this many of them lining up with cells of other table rows ...
MIN_ROWS = 4  # ... and a table has this many such rows
MIN_SHARED = 3  # an edge is a column's when this many rows have a cell there ...
MIN_SHARED_SHARE = 0.3  # ... or this share of the candidate rows, if more
MIN_REGULAR_SHARE = 0.5  # of a table's rows, with the most common number of cells (give or take one)
MAX_ROW_STEP = 4.0  # of the median word height: table rows further apart start another table
MIN_SHORT_LINES = 12  # pages with fewer short lines in their blocks have no table worth a words parse
MIN_SHORT_SHARE = 0.3  # ... nor pages where short lines are this rare (prose: long lines)
SHORT_LINE_WORDS = 4  # a cell or a label, not a line of prose
LABEL_SEP = ": "  # between a body cell's column header and the cell
MAX_LABEL_CHARS = 40  # a longer header is not repeated on every row (the text would bloat) ...
MAX_LABELLED_COLUMNS = 12  # ... nor are the headers of a wider table
MAX_VALUE_WORDS = 6  # a column whose cells are longer (median) is prose set beside a table: no labels
# a plain number (not a label): 150, -3.5, $6,205., (12), 45%
PLAIN_NUMBER = re.compile(r"[-+\u2212]?[$\u20ac\u00a3]?\(?\d[\d.,\s]*\)?%?")
_first = itemgetter(0)  # a placed word's left edge (u0); a (key, item) pair's key


def may_hold_table(blocks: list) -> bool:
    """Cheap test on the block text: a table's cells make many short lines, prose makes long ones."""
    lines = [line for b in blocks for line in b[4].split("\n") if line.strip()]
    short = sum(1 for line in lines if len(line.split()) <= SHORT_LINE_WORDS)
    return short >= MIN_SHORT_LINES and short >= MIN_SHORT_SHARE * len(lines)


def find_tables(text_blocks: list, words: list) -> tuple[list, list, tuple[int, int]]:
    """(rest, tables, frame): the text blocks not in a table, one unit (x0, y0, x1, y1, text) per table
    holding its blocks' words row by row, and the direction the page's lines run in. `text_blocks` are
    all text blocks of one parse in order (a word's block number is an index into them), `words` the
    parse's words (x0, y0, x1, y1, text, block, line, word)."""
    if not words:
        return list(text_blocks), [], (1, 0)
    directions = _line_directions(words)
    total = Counter()
    for votes in directions.values():
        total.update(votes)
    frame = total.most_common(1)[0][0] if total else (1, 0)
    # text running another way (a margin note set sideways) is no table's
    across = {b for b, votes in directions.items() if votes.most_common(1)[0][0] != frame}
    words = [w for w in words if w[5] not in across]
    if not words:
        return list(text_blocks), [], frame
    if frame == (1, 0):  # most pages: the frame is the page's
        placed = [(w[0], w[1], w[2], w[3], w) for w in words]  # (u0, v0, u1, v1, word)
    else:
        placed = [(*_to_frame(w, frame), w) for w in words]
    # words of a few letters are longer along their line than across it: if most are not, the lines
    # run another way than the one guessed (a sideways table of one-word cells), and rows would be columns
    long_words = [p for p in placed if len(p[4][4]) >= 4]
    if sum(1 for p in long_words if p[2] - p[0] < p[3] - p[1]) * 2 > len(long_words):
        return list(text_blocks), [], frame
    height = median(p[3] - p[1] for p in placed) or 1.0
    by_block: dict[int, list] = {}
    for p in placed:
        by_block.setdefault(p[4][5], []).append(p)
    tables, in_table = [], set()
    for region in _table_regions(placed, height):
        members = [b for b, ws in by_block.items() if b not in in_table and _inside(ws, region)]
        # every word of the table's blocks must be its text's words, or the page's text would change
        if not members or any(not _words_match(text_blocks[b], by_block[b]) for b in members):
            continue
        boxes = [text_blocks[b][:4] for b in members]
        bbox = (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )
        tables.append((*bbox, _rows_text([p for b in members for p in by_block[b]], height)))
        in_table.update(members)
    rest = [block for index, block in enumerate(text_blocks) if index not in in_table]
    return rest, tables, frame


def place_tables(ordered: list, tables: list, frame: tuple[int, int]) -> list:
    """The page's other units in their order, each table put after the last unit above its top (the
    stored order may start with a page footer)."""
    units = list(ordered)
    for table in tables:
        top = _to_frame(table, frame)[1]
        at = 0
        for i, unit in enumerate(units):
            _, v0, _, v1 = _to_frame(unit, frame)
            if (v0 + v1) / 2 < top:
                at = i + 1
        units.insert(at, table)
    return units


_RIGHT, _LEFT, _DOWN, _UP = (1, 0), (-1, 0), (0, 1), (0, -1)


def _line_directions(words: list) -> dict[int, Counter]:
    """Per block, how many steps between consecutive words of a line go each way: (1, 0) left to right,
    (0, -1) bottom to top (a page rotated in its content), (0, 1) or (-1, 0)."""
    votes: dict[int, Counter] = {}
    for a, b in zip(words, words[1:], strict=False):
        if a[6] != b[6] or a[5] != b[5]:
            continue
        # twice the step between the words' centres: the same signs and the same larger side
        dx, dy = b[0] + b[2] - a[0] - a[2], b[1] + b[3] - a[1] - a[3]
        if abs(dx) >= abs(dy):
            way = _RIGHT if dx >= 0 else _LEFT
        else:
            way = _DOWN if dy >= 0 else _UP
        block = votes.get(a[5])
        if block is None:  # a Counter per block, not one per pair of words (a third of the tables' time)
            block = votes[a[5]] = Counter()
        block[way] += 1
    return votes


def _to_frame(box, frame: tuple[int, int]) -> tuple[float, float, float, float]:
    if frame == (1, 0):
        return box[0], box[1], box[2], box[3]
    dx, dy = frame
    x0, y0, x1, y1 = box[:4]
    us = (dx * x0 + dy * y0, dx * x1 + dy * y1)
    vs = (-dy * x0 + dx * y0, -dy * x1 + dx * y1)
    return min(us), min(vs), max(us), max(vs)


def _rows(placed: list, height: float) -> list[list]:
    """Words grouped into visual rows (centres within a tolerance), top to bottom, each left to right."""
    rows: list[list] = []
    centre = None
    tolerance = ROW_TOLERANCE * height
    mids = [(p[1] + p[3]) / 2 for p in placed]
    for mid, p in sorted(zip(mids, placed, strict=True), key=_first):  # stable: by centre only
        if rows and mid - centre <= tolerance:
            rows[-1].append(p)
        else:
            rows.append([p])
            centre = mid
    return [sorted(row, key=_first) for row in rows]


def _cells(row: list, height: float) -> list[list]:
    gap = CELL_GAP * height
    cell = [row[0]]
    cells, end = [cell], row[0][2]  # the right edge of the cell's last word
    for p in row[1:]:
        if p[0] - end > gap:
            cell = [p]
            cells.append(cell)
        else:
            cell.append(p)
        end = p[2]
    return cells


def _table_regions(placed: list, height: float) -> list[tuple[float, float, float, float]]:
    """Frame boxes (u0, v0, u1, v1) of the tables: runs of rows with cells lining up with other rows'."""
    rows = [(row, _cells(row, height)) for row in _rows(placed, height)]
    candidates = [
        (row, cells)
        for row, cells in rows
        if len(cells) >= MIN_CELLS and median(map(len, cells)) <= MAX_CELL_WORDS
    ]
    if len(candidates) < MIN_ROWS:
        return []
    tolerance = ALIGN_TOLERANCE * height
    # a column shows as a left edge, a right edge (numbers) or a centre (headings) shared by many rows
    edges = [_edges(cells) for _, cells in candidates]
    needed = max(MIN_SHARED, MIN_SHARED_SHARE * len(candidates))
    lefts, rights, centres = (
        _shared(sorted(e[kind] for row in edges for e in row), tolerance, needed) for kind in range(3)
    )
    table_rows = [
        (row, len(cells))
        for (row, cells), row_edges in zip(candidates, edges, strict=True)
        if sum(
            1
            for e in row_edges
            if _near(e[0], lefts, tolerance) or _near(e[1], rights, tolerance) or _near(e[2], centres, tolerance)
        )
        >= MIN_ALIGNED
    ]
    runs: list[list] = [[]]
    for row, count in table_rows:
        if runs[-1] and row[0][1] - runs[-1][-1][0][0][3] > MAX_ROW_STEP * height:
            runs.append([])
        runs[-1].append((row, count))
    boxes = []
    for run in runs:
        if len(run) < MIN_ROWS or not _regular(Counter(count for _, count in run)):
            continue
        ps = [p for row, _ in run for p in row]
        boxes.append(
            (min(p[0] for p in ps), min(p[1] for p in ps), max(p[2] for p in ps), max(p[3] for p in ps))
        )
    return boxes


def _regular(counts: Counter) -> bool:
    """Most rows have about the same number of cells, as in a grid (side-by-side panels of a form, each
    its own short list, make rows of any length)."""
    mode = counts.most_common(1)[0][0]
    near = sum(n for count, n in counts.items() if abs(count - mode) <= 1)
    return near >= MIN_REGULAR_SHARE * sum(counts.values())


def _edges(cells: list[list]) -> list[tuple[float, float, float]]:
    return [(c[0][0], c[-1][2], (c[0][0] + c[-1][2]) / 2) for c in cells]


def _shared(values: list[float], tolerance: float, needed: float) -> list[float]:
    """Positions where at least `needed` of the sorted values cluster (within `tolerance` of the first)."""
    shared, i, j = [], 0, 0
    while i < len(values):
        j = max(j, i)
        while j < len(values) and values[j] - values[i] <= tolerance:
            j += 1
        if j - i >= needed:
            shared.append((values[i] + values[j - 1]) / 2)
            i = j
        else:
            i += 1
    return shared


def _near(value: float, positions: list[float], tolerance: float) -> bool:
    """Is a value within `tolerance` of one of the sorted positions?"""
    at = bisect_left(positions, value - tolerance)
    return at < len(positions) and positions[at] <= value + tolerance


def _inside(placed: list, region) -> bool:
    """Most of a block's words lie in the table's box."""
    u0, v0, u1, v1 = region
    inside = sum(
        1 for p in placed if u0 - 1 <= (p[0] + p[2]) / 2 <= u1 + 1 and v0 - 1 <= (p[1] + p[3]) / 2 <= v1 + 1
    )
    return inside * 2 > len(placed)


def _words_match(block, placed: list) -> bool:
    return Counter(block[4].split()) == Counter(p[4][4] for p in placed)


def _rows_text(placed: list, height: float) -> str:
    rows = [
        [(" ".join(p[4][4] for p in cell), cell[0][0], cell[-1][2]) for cell in _cells(row, height)]
        for row in _rows(placed, height)
    ]
    names, spans, last = _header_labels(rows) or (None, None, len(rows))
    lines = []
    for at, row in enumerate(rows):
        columns = _columns_of(row, spans) if at > last else None
        if columns is None:
            lines.append(CELL_SEP.join(text for text, _, _ in row))
        else:
            lines.append(
                CELL_SEP.join(
                    text if column == 0 else names[column] + LABEL_SEP + text
                    for (text, _, _), column in zip(row, columns, strict=True)
                )
            )
    return "".join(line + "\n" for line in lines)


def _header_labels(rows: list[list]) -> tuple[list[str], list[tuple[float, float]], int] | None:
    """(header texts, column spans, index of the last header line) when the first row heads the table:
    as many cells as most rows, all short labels, over rows most of which hold numbers; the columns, as
    spread by the rows with that many cells, of short values (but the first), apart and each under its
    header cell. None otherwise."""
    count = Counter(len(row) for row in rows).most_common(1)[0][0]
    header, body = rows[0], rows[1:]
    if (
        len(header) != count
        or not 2 <= count <= MAX_LABELLED_COLUMNS
        or any(len(text) > MAX_LABEL_CHARS or PLAIN_NUMBER.fullmatch(text) for text, _, _ in header)
        or sum(1 for row in body if any(_numeric(text) for text, _, _ in row)) * 2 <= len(body)
    ):
        return None
    full = [row for row in body if len(row) == count]
    if not full or any(
        median(len(row[k][0].split()) for row in full) > MAX_VALUE_WORDS for k in range(1, count)
    ):
        return None
    spans = [(min(row[k][1] for row in full), max(row[k][2] for row in full)) for k in range(count)]
    if any(a[1] >= b[0] for a, b in zip(spans, spans[1:], strict=False)):
        return None  # columns overlap: a cell could not be told which it is in
    # a header is centred or aligned over its column, maybe wider: it is nearer its column than any other
    for k, (_, u0, u1) in enumerate(header):
        gaps = [max(0.0, s0 - u1, u0 - s1) for s0, s1 in spans]
        if min(range(count), key=gaps.__getitem__) != k:
            return None
    # lines between the header and the first row with a number continue the header's labels
    last = next(at for at, row in enumerate(rows) if at and any(_numeric(text) for text, _, _ in row)) - 1
    return [text for text, _, _ in header], spans, last


def _numeric(text: str) -> bool:
    """A value cell: digits and no letters (numbers, amounts, dates, ranges)."""
    return any(c.isdigit() for c in text) and not any(c.isalpha() for c in text)


def _columns_of(row: list, spans: list[tuple[float, float]]) -> list[int] | None:
    """Each cell's column, the one span it overlaps, left to right; None if a cell overlaps none or
    several (a line across the table) or two cells share a column."""
    columns = []
    for _, u0, u1 in row:
        hits = [k for k, (s0, s1) in enumerate(spans) if u0 <= s1 and s0 <= u1]
        if len(hits) != 1 or (columns and hits[0] <= columns[-1]):
            return None
        columns.append(hits[0])
    return columns
