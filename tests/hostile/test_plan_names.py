"""A stage's plan (`stages/NAME/inputs.txt`, one work unit a line) holds any file name. Before: a name
with a newline was split across two lines, never read, and the error named a file that did not exist."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from test_hostile import run_cli  # noqa: E402

from curate.names import plan_line, plan_name  # noqa: E402
from curate.run.report import error_lines, run_funnel  # noqa: E402

NAMES = [
    "line\nbreak.pdf",
    "carriage\rreturn.pdf",
    " leading space.pdf",
    "sep\u2028arator.pdf",
    "%raw:looks-encoded.pdf",
]


@pytest.mark.parametrize("name", [*NAMES, "plain.pdf", "ü/a b.pdf"])
def test_every_name_reads_back_from_its_line(name):
    line = plan_line(name)
    assert line.splitlines() == [line] and line.strip() == line
    assert plan_name(line) == name


def test_a_name_with_a_newline_is_read(shared_data, tmp_path):
    pdfs = tmp_path / "pdfs"
    pdfs.mkdir()
    source = shared_data / "pdf" / "born_digital" / "multi_page.pdf"
    for name in [*NAMES, "plain.pdf"]:
        shutil.copy(source, pdfs / name)
    out = tmp_path / "out"
    run_cli(
        "run", "pdf-pages", "--input", str(pdfs), "--output", str(out), "--stage", "pages",
        "--set", "ocr=false", "--set", "max_pages=1",
    )  # fmt: skip
    assert error_lines(out, "pages") == []
    (pages,) = run_funnel(out, ["pages"])
    assert pages.kept == len(NAMES) + 1 and pages.errored_total == 0
    lines = [line for line in (out / "stages" / "pages" / "inputs.txt").read_text().split("\n") if line]
    assert sorted(plan_name(line) for line in lines) == sorted([*NAMES, "plain.pdf"])
