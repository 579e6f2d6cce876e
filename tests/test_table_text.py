"""Tables in a page's text layer come out one row per line (cells joined by " | "), on real pages from
../shared/data/pdf (ca-warn-report, senate-expenditures, the rotated NICS page) and on built pages;
a table headed by a row of labels has its body cells written with their column's header; every word of
every page is kept (header words repeated once per labelled cell), and pages without a table keep their
text as it was."""

from __future__ import annotations

from collections import Counter

import pymupdf
import pytest

from curate.pdf.page_text import layer_signals
from curate.pdf.reading_order import reading_order
from curate.pdf.table_text import CELL_SEP, LABEL_SEP

ROWS = [
    ("Notice Date", "Company", "City", "Employees"),
    ("06/22/2015", "Maxim Integrated Product", "San Jose", "150"),
    ("06/30/2015", "McGraw-Hill Education", "Monterey", "137"),
    ("07/01/2015", "Leidos", "El Segundo", "72"),
    ("07/02/2015", "Bosch Healthcare Systems, Inc.", "Palo Alto", "55"),
    ("07/06/2015", "Alphatec Spine", "Carlsbad", "99"),
]
# pages of the prose PDFs that hold a real table, so their text changes (checked by eye, see the report)
PROSE_PAGES_WITH_TABLES = {
    ("federal-register-2020-17221.pdf", 4),  # "Estimated costs" table under three columns
    ("redp5110_sampled.pdf", 8),  # Table 2-2, function usage IDs (X marks)
    ("redp5110_sampled.pdf", 11),  # Table 3-2, built-in global variables
    ("tracemonkey.pdf", 11),  # Figure 13, trace statistics per benchmark
    # with MuPDF's own text (PyMuPDF's layout analyser kept out, curate/__init__.py): the labels of
    # Figure 2's state diagram line up as rows, and the precinct bulletin's result columns are a table
    ("tracemonkey.pdf", 1),
    ("la-precinct-bulletin-2014-p1.pdf", 0),
}
PROSE = [
    "tracemonkey.pdf",
    "federal-register-2020-17221.pdf",
    "multi_page.pdf",
    "redp5110_sampled.pdf",
    "scotus-transcript-p1.pdf",
    "la-precinct-bulletin-2014-p1.pdf",
    "code_and_formula.pdf",
]


def _blocks_text(page) -> str:
    """The text as it was before tables were found: MuPDF's blocks in reading order."""
    flags = pymupdf.TEXTFLAGS_BLOCKS | pymupdf.TEXT_PRESERVE_IMAGES
    blocks = [b for b in page.get_text("blocks", flags=flags) if b[6] == 0 and b[4].strip()]
    return "".join(unit[4] for unit in reading_order(page, blocks))


def _lines(path, index: int = 0) -> list[str]:
    with pymupdf.open(path) as pdf:
        return layer_signals(pdf[index]).text.splitlines()


def _labelled(cells) -> str:
    """A body row as written under the header ROWS[0]: each cell after the first with its column's label."""
    return CELL_SEP.join(
        cell if not k else ROWS[0][k] + LABEL_SEP + cell for k, cell in enumerate(cells) if cell is not None
    )


def _table_page(rotate: int, rows=ROWS) -> pymupdf.Document:
    """A page whose table is stored column by column (as many producers write it); `rotate` 90 writes it
    sideways (running bottom to top) on a page shown turned, as a landscape table on a portrait sheet."""
    pdf = pymupdf.open()
    page = pdf.new_page(width=612, height=792)
    for column, left in enumerate((40, 130, 320, 440)):
        for row, cells in enumerate(rows):
            if cells[column] is None:
                continue
            if rotate:
                page.insert_text((100 + 16 * row, 750 - left), cells[column], fontsize=10, rotate=90)
            else:
                page.insert_text((left, 100 + 16 * row), cells[column], fontsize=10)
    page.insert_text(
        (40, 400) if not rotate else (400, 750), "Notes follow the table.", fontsize=10, rotate=rotate
    )
    if rotate:
        page.set_rotation(rotate)
    return pdf


@pytest.mark.parametrize("rotate", [0, 90])
def test_table_stored_by_column_is_written_by_row(rotate):
    with _table_page(rotate) as pdf:
        page = pdf[0]
        old, text = _blocks_text(page), layer_signals(page).text
    assert "06/22/2015\n06/30/2015" in old.replace(" \n", "\n"), "the page should store the table by column"
    lines = text.splitlines()
    assert CELL_SEP.join(ROWS[0]) in lines  # the header as it is
    for cells in ROWS[1:]:
        assert _labelled(cells) in lines
    assert lines[-1] == "Notes follow the table."


def test_cells_of_a_row_with_a_missing_value_keep_their_columns():
    """A row with an empty cell has fewer cells: each is labelled by where it stands, not by its place."""
    rows = [*ROWS[:3], ("07/01/2015", "Leidos", None, "72"), *ROWS[4:]]
    with _table_page(0, rows) as pdf:
        lines = layer_signals(pdf[0]).text.splitlines()
    assert "07/01/2015 | Company: Leidos | Employees: 72" in lines
    assert _labelled(ROWS[1]) in lines


def test_table_without_a_header_row_is_not_labelled():
    """First row of values, not labels: rows are written as before, no cell labelled."""
    with _table_page(0, ROWS[1:]) as pdf:
        lines = layer_signals(pdf[0]).text.splitlines()
    for cells in ROWS[1:]:
        assert CELL_SEP.join(cells) in lines


def test_warn_report_rows_are_lines(shared_data):
    path = shared_data / "pdf" / "born_digital" / "ca-warn-report.pdf"
    lines = _lines(path)
    # page 1 has the header row: the body cells are written with their column's label
    header = "Notice Date | Effective | Received | Company | City | No. Of | Layoff/Closure"
    row = (
        "06/22/2015 | Effective: 03/25/2016 | Received: 07/01/2015 | Company: Maxim Integrated Product | "
        "City: San Jose | No. Of: 150 | Layoff/Closure: Closure Permanent"
    )
    assert header in lines
    assert row in lines
    # the title, stored after the table, still comes first, then the header
    assert lines.index("WARN Report*") < lines.index(header) < lines.index(row)
    assert (
        "07/17/2015 | Effective: 07/13/2015 | Received: 07/21/2015 | Company: American Management Services "
        "LLC | City: Monterey | No. Of: 56 | Layoff/Closure: Closure Permanent" in lines
    )
    # page 2 goes on without a header row: as before
    assert (
        "07/17/2015 | 09/18/2015 | 07/21/2015 | Boeing Company | Huntington Beach | 65 | "
        "Layoff Unknown at this time" in _lines(path, 1)
    )
    # the summary on the last page too
    assert "Total | 632 | 53,454 | 295 | 11 | 90 | 212 | 12 | 12" in _lines(path, 15)


def test_senate_expenditures_rows_are_lines(shared_data):
    """A page rotated 90°, its text running bottom to top in the page's own coordinates. Its header
    words are one per line, apart from the rows: no cell is labelled."""
    lines = _lines(shared_data / "pdf" / "born_digital" / "senate-expenditures.pdf")
    assert "GRUENDER, BENJAMIN L | FIELD REPRESENTATIVE FROM SEP. 16 | 1,458.33" in lines
    assert "BAIN, J MATTHEW | DISTRICT DIRECTOR | 37,499.96" in lines
    assert (
        "DHAW20190001 | 05/03/2019 | CITIBANK - TRAVEL CBA CARD | 03/04/2019 | 03/06/2019 | STAFF TRANSPORTATION "
        "| 920.68" in lines
    )
    assert not any(LABEL_SEP in cell for line in lines for cell in line.split(CELL_SEP)[1:])


def test_rotated_nics_rows_are_lines(shared_data):
    """A page rotated 90° whose text runs left to right in its own coordinates. Its header row has 22
    columns: too wide to repeat on every cell, so no cell is labelled."""
    lines = _lines(shared_data / "pdf" / "born_digital" / "nics-background-checks-2015-11-rotated.pdf")
    alabama = (
        "Alabama | 18,870 | 23,022 | 22,650 | 859 | 1,178 | 0 | 14 | 15 | 0 | 2,179 | 2,307 | 11 | 0 | 0 | 0"
    )
    assert any(line.startswith(alabama) and line.endswith("| 71,137") for line in lines)
    header = next(
        at for at, line in enumerate(lines) if line.startswith("State / Territory | Permit | Handgun")
    )
    assert lines[header + 1].startswith(alabama)  # right under its header, not labelled
    assert not any(LABEL_SEP in cell for line in lines for cell in line.split(CELL_SEP)[1:])


def _all_pages(shared_data):
    for folder in ("born_digital", "scanned"):
        for path in sorted((shared_data / "pdf" / folder).glob("*.pdf")):
            with pymupdf.open(path) as pdf:
                for page in pdf:
                    yield path.name, page


def _without_labels(text: str) -> tuple[str, int]:
    """The text with each body cell's label (a cell of an earlier row of the page, then ": ") taken off,
    and how many were."""
    lines, earlier, labels = [], [], 0
    for line in text.splitlines():
        cells = line.split(CELL_SEP)
        for k in range(1, len(cells)):
            header = next((h for h in earlier if cells[k].startswith(h + LABEL_SEP)), None)
            if header is not None:
                cells[k] = cells[k][len(header + LABEL_SEP) :]
                labels += 1
        earlier.extend(cells if len(cells) > 1 else [])
        lines.append(CELL_SEP.join(cells))
    return "\n".join(lines), labels


def test_every_word_is_kept_once(shared_data):
    """On every page of ../shared/data/pdf (born-digital and scanned), the text holds the same words as
    the blocks did: none lost, none repeated, but for header labels written before body cells; only cell
    separators are added."""
    changed = labelled = 0
    for name, page in _all_pages(shared_data):
        old = Counter(_blocks_text(page).split())
        text, labels = _without_labels(layer_signals(page).text)
        new = Counter(text.split())
        assert not old - new, f"{name} page {page.number}: words lost"
        added = new - old
        assert set(added) <= {CELL_SEP.strip()}, f"{name} page {page.number}: words added {added}"
        changed += bool(added)
        labelled += bool(labels)
    assert changed >= 20  # the table pages: ca-warn (16), senate, nics, ...
    assert labelled >= 1  # ca-warn's first page (the federal register's cost table has long cells)


@pytest.mark.parametrize("name", PROSE)
def test_prose_pages_keep_their_text(shared_data, name):
    with pymupdf.open(shared_data / "pdf" / "born_digital" / name) as pdf:
        for page in pdf:
            changed = layer_signals(page).text != _blocks_text(page)
            assert changed == ((name, page.number) in PROSE_PAGES_WITH_TABLES), f"{name} page {page.number}"


def test_sideways_table_of_one_word_cells_is_left_as_stored():
    """No line of two words tells which way the text runs: rows are not guessed (they could be columns)."""
    pdf = pymupdf.open()
    page = pdf.new_page(width=612, height=792)
    for column in range(4):
        for row in range(6):
            page.insert_text(
                (100 + 40 * row, 700 - 120 * column), f"cell{row}{column}", fontsize=10, rotate=90
            )
    page.set_rotation(90)
    assert layer_signals(page).text == _blocks_text(page)
