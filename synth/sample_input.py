"""A small default input for `make docmatix`: real-looking one-page PDFs built from texts in the repo.

The texts (synth/sample_docs/*.txt: meeting minutes, a product data sheet, an annual report) were
written for this project, with the names, numbers and dates a document-QA model should learn to
read. Each becomes a PDF with PyMuPDF: a bold title line and wrapped body paragraphs on A4.

    python -m curate.synth.sample_input OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).parent / "sample_docs"
A4 = (595, 842)
MARGIN = 56


def text_to_pdf(text: str, target: Path) -> None:
    import pymupdf

    lines = text.strip().splitlines()
    title = lines[0].lstrip("# ").strip()
    body = "\n".join(lines[1:]).strip()
    pdf = pymupdf.open()
    page = pdf.new_page(width=A4[0], height=A4[1])
    page.insert_textbox(
        pymupdf.Rect(MARGIN, MARGIN, A4[0] - MARGIN, MARGIN + 40), title, fontsize=15, fontname="hebo"
    )
    rect = pymupdf.Rect(MARGIN, MARGIN + 44, A4[0] - MARGIN, A4[1] - MARGIN)
    left = page.insert_textbox(rect, body, fontsize=10.5, fontname="helv", lineheight=1.35)
    if left < 0:
        raise ValueError(f"{target.name}: text does not fit on one page")
    pdf.set_metadata({"title": title, "creator": "curate synth.sample_input"})
    pdf.save(target, garbage=3, deflate=True)


def build(output: str | Path) -> list[Path]:
    """Write one PDF per sample text into `output`; returns their paths. Existing files are rewritten."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    paths = []
    for source in sorted(DOCS.glob("*.txt")):
        target = output / f"{source.stem}.pdf"
        text_to_pdf(source.read_text(encoding="utf-8"), target)
        paths.append(target)
    return paths


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m curate.synth.sample_input OUT_DIR", file=sys.stderr)
        return 2
    for path in build(argv[0]):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
