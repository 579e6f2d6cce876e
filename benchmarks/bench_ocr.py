"""Page text quality: our per-page choice of text layer or OCR vs the plain text layer vs plain Tesseract.

    python -m benchmarks ocr        (or `make bench`)

Measured in one run, on real scans with a ground-truth transcription:
- ../shared/data/pdf/scanned/linn.pdf with linn.txt (OCRmyPDF's test page, two columns);
- pages of scribeocr/ocr-benchmark (https://github.com/scribeocr/ocr-benchmark, AGPL-3.0): real scans of
  court filings and reports with hand-corrected hOCR truth. Not copied here: give a clone (or bare git
  directory) in CURATE_OCR_BENCHMARK, default /work/.mirror/scribeocr+ocr-benchmark/repo; skipped if absent.
Figures:
1. Clean scans: character and word error rate (CER, WER). Goal: CER <= 2%.
2. Bad OCR layers: three of the scans with an invisible text layer of garbled text (old-OCR confusions).
3. Hybrid pages: three of the scans with a one-line visible text layer (a running header), as PDFs whose text
   is mostly in images: share of the page's words recovered. Goal: >= 90%.
4. Born-digital pages (../shared/data/pdf/born_digital): what the text decision costs per page, against a
   plain `get_text()`, and how many pages it sends to OCR.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import tempfile
import time
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CURATE_SHARED_DATA", REPO.parent / "shared" / "data"))
SCRIBE = Path(os.environ.get("CURATE_OCR_BENCHMARK", "/work/.mirror/scribeocr+ocr-benchmark/repo"))
# clean single- and two-column scans (US Letter pages); the benchmark's tables and forms are not clean scans
# allenai/olmocr's tests/gnarly_pdfs (Apache-2.0): real PDFs with old OCR layers, text in images, broken fonts
OLMOCR = Path(os.environ.get("CURATE_OLMOCR", "/work/.mirror/allenai+olmocr/repo"))
SCRIBE_PAGES = ("singlecol_01", "filing_01", "multicol_11", "multicol_03")
MODIFIED_PAGES = ("linn", "singlecol_01", "multicol_11")
HEADER = "Quarterly Report 2024 - Page 3"  # the hybrid pages' whole text layer


def words(text: str) -> list[str]:
    return text.split()


def cer(text: str, truth: str) -> float:
    from rapidfuzz.distance import Levenshtein

    ours, ref = " ".join(words(text)), " ".join(words(truth))
    return Levenshtein.distance(ours, ref) / max(len(ref), 1)


def wer(text: str, truth: str) -> float:
    from rapidfuzz.distance import Levenshtein

    return Levenshtein.distance(words(text), words(truth)) / max(len(words(truth)), 1)


def recovered(text: str, truth: str) -> float:
    """Share of the page's words (with repeats) found in the text, in any order."""
    found, ref = Counter(_plain_words(text)), Counter(_plain_words(truth))
    return sum((found & ref).values()) / max(sum(ref.values()), 1)


def _plain_words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


class _HocrText(HTMLParser):
    """Lines of an hOCR file in file order, words in a line left to right."""

    def __init__(self):
        super().__init__()
        self.lines: list[list[tuple[int, str]]] = []
        self._word: list | None = None

    def handle_starttag(self, tag, attrs):
        kind, title = dict(attrs).get("class", ""), dict(attrs).get("title", "")
        if kind == "ocr_line":
            self.lines.append([])
        elif kind == "ocrx_word" and self.lines:
            self._word = [int(re.search(r"bbox (\d+)", title).group(1)), ""]
            self.lines[-1].append(self._word)

    def handle_endtag(self, tag):
        if tag == "span":
            self._word = None

    def handle_data(self, data):
        if self._word is not None:
            self._word[1] += data

    def text(self) -> str:
        return "\n".join(" ".join(w for _, w in sorted(line)) for line in self.lines if line)


def _scribe_file(path: str) -> bytes | None:
    if (SCRIBE / path).is_file():
        return (SCRIBE / path).read_bytes()
    git = subprocess.run(["git", f"--git-dir={SCRIBE}", "show", f"HEAD:{path}"], capture_output=True)
    return git.stdout if git.returncode == 0 else None


def ground_truth_scans() -> tuple[list[tuple[str, bytes, float, str]], list[str]]:
    """(name, PNG or PDF bytes, dpi, truth) per page, and the reasons for pages left out."""
    pages, skipped = [], []
    linn = SHARED / "pdf" / "scanned"
    if (linn / "linn.pdf").is_file():
        pages.append(("linn", (linn / "linn.pdf").read_bytes(), 0.0, (linn / "linn.txt").read_text()))
    else:
        skipped.append(f"linn.pdf: no test data at {SHARED}")
    if not SCRIBE.exists():
        skipped.append(
            f"scribeocr/ocr-benchmark: not found at {SCRIBE} (git clone https://github.com/scribeocr/ocr-benchmark"
            " and set CURATE_OCR_BENCHMARK to it)"
        )
        return pages, skipped
    for name in SCRIBE_PAGES:
        image = _scribe_file(f"img/{name}.png")
        hocr = _scribe_file(f"ground_truth/{name}.truth.hocr") or _scribe_file(f"ground_truth/{name}.hocr")
        if image is None or hocr is None:
            skipped.append(f"{name}: not in {SCRIBE}")
            continue
        parser = _HocrText()
        parser.feed(hocr.decode("utf-8"))
        from PIL import Image

        width = Image.open(io.BytesIO(image)).width
        pages.append((name, image, width / 8.5, parser.text()))  # US Letter pages; their PNGs say 96 dpi
    return pages, skipped


def scan_pdf(data: bytes, dpi: float):
    """A one-page scanned PDF: the page image at its resolution (or the PDF itself)."""
    import pymupdf

    if data[:4] == b"%PDF":
        return pymupdf.open(stream=data, filetype="pdf")
    from PIL import Image

    width, height = Image.open(io.BytesIO(data)).size
    pdf = pymupdf.open()
    page = pdf.new_page(width=width / dpi * 72, height=height / dpi * 72)
    page.insert_image(page.rect, stream=data)
    return pdf


def bad_ocr(text: str) -> str:
    """An old OCR engine's layer: letters confused (c/e, b/h, rn/m), words split, debris (as in tests)."""
    lines, i = [], 0
    for line in text.splitlines():
        out = []
        for word in line.split():
            if i % 3 == 0:
                word = word.translate(str.maketrans("ehamC", "cbcnG"))
            if i % 5 == 0 and len(word) > 3:
                word = word[:2] + " " + word[2:]
            if i % 7 == 0:
                word += " t>."
            out.append(word)
            i += 1
        lines.append(" ".join(out))
    return "\n".join(lines)


def with_invisible_layer(pdf, text: str):
    page = pdf[0]
    box, size = page.rect + (18, 18, -18, -18), 14.0
    while page.insert_textbox(box, text, fontsize=size, render_mode=3) < 0 and size > 2:
        size -= 0.5
    return pdf


def with_header(pdf, header: str):
    pdf[0].insert_text((36, 24), header, fontsize=9)
    return pdf


def plain_layer(pdf) -> str:
    return pdf[0].get_text()


def plain_tesseract(pdf, dpi: int = 300) -> str:
    import pymupdf
    import pytesseract
    from PIL import Image

    pix = pdf[0].get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY)
    return pytesseract.image_to_string(Image.frombytes("L", (pix.width, pix.height), pix.samples))


def ours(pdfs: dict[str, object]) -> dict[str, tuple[str, str, str | None]]:
    """The pages stage's reader on every PDF: (text, text_source, ocr_reason) by name."""
    from curate.pdf.reader import PdfPageReader

    with tempfile.TemporaryDirectory() as folder:
        for name, pdf in pdfs.items():
            pdf.save(Path(folder) / f"{name}.pdf")
        out = {}
        for record in PdfPageReader(folder).run():
            meta = record.metadata
            out[Path(meta["file"]).stem] = (record.text, meta["text_source"], meta["ocr_reason"])
        return out


def born_digital_cost() -> None:
    import pymupdf

    from curate.pdf.page_text import layer_signals, ocr_reason

    files = sorted((SHARED / "pdf" / "born_digital").glob("*.pdf"))
    plain_s = ours_s = render_s = 0.0
    pages, reasons = 0, Counter()
    for _ in range(2):  # the second pass is measured: fonts and the word list are loaded
        plain_s = ours_s = render_s = 0.0
        pages, reasons = 0, Counter()
        for path in files:
            with pymupdf.open(path) as pdf:
                for page in pdf:
                    started = time.perf_counter()
                    page.get_text()
                    plain_s += time.perf_counter() - started
                    started = time.perf_counter()
                    reason = ocr_reason(layer_signals(page))
                    ours_s += time.perf_counter() - started
                    started = time.perf_counter()
                    page.get_pixmap(dpi=150).tobytes("png")
                    render_s += time.perf_counter() - started
                    pages += 1
                    reasons[reason or "kept"] += 1
    print(f"4. born-digital pages ({pages}, ../shared/data/pdf/born_digital): the text decision's cost")
    print(f"  plain get_text()                  {plain_s / pages * 1000:6.2f} ms/page")
    print(
        f"  ours (reading order + signals)    {ours_s / pages * 1000:6.2f} ms/page   "
        f"({(ours_s - plain_s) / pages * 1000:+.2f} ms)"
    )
    per_page_plain, per_page_ours = (plain_s + render_s) / pages, (ours_s + render_s) / pages
    print(
        f"  with the 150-dpi render: {1 / per_page_plain:.1f} -> {1 / per_page_ours:.1f} pages/s "
        f"({per_page_plain / per_page_ours:.2f}x)"
    )
    print(f"  sent to OCR: {pages - reasons['kept']} of {pages} ({dict(reasons)})")


def table_rows_cost(passes: int = 3) -> None:
    """Text extraction with tables written row by row vs as MuPDF stores them, page by page in turn."""
    import pymupdf

    from curate.pdf.page_text import layer_signals

    files = sorted((SHARED / "pdf" / "born_digital").glob("*.pdf"))
    with_s, without_s, table_with_s, table_without_s = Counter(), Counter(), Counter(), Counter()
    pages = table_pages = 0
    for run in range(passes + 1):  # the first pass warms up (fonts, caches) and is not counted
        pages = table_pages = 0
        for path in files:
            with pymupdf.open(path) as pdf:
                for page in pdf:
                    started = time.perf_counter()
                    plain = layer_signals(page, table_rows=False).text
                    middle = time.perf_counter()
                    rows = layer_signals(page).text
                    ended = time.perf_counter()
                    pages += 1
                    if run:
                        without_s[run] += middle - started
                        with_s[run] += ended - middle
                    if rows != plain:
                        table_pages += 1
                        if run:
                            table_without_s[run] += middle - started
                            table_with_s[run] += ended - middle
    best = min(range(1, passes + 1), key=lambda r: with_s[r] + without_s[r])
    print(f"6. tables row by row ({pages} born-digital pages, {table_pages} with a table; best of {passes})")
    print(
        f"  all pages:   {pages / without_s[best]:7.0f} -> {pages / with_s[best]:7.0f} pages/s "
        f"(pages/s ratio {without_s[best] / with_s[best]:.2f})"
    )
    if pages > table_pages:
        other_with, other_without = with_s[best] - table_with_s[best], without_s[best] - table_without_s[best]
        print(
            f"  other pages: {(pages - table_pages) / other_without:7.0f} -> "
            f"{(pages - table_pages) / other_with:7.0f} pages/s (pages/s ratio {other_without / other_with:.2f})"
        )
    if table_pages:
        print(
            f"  table pages: {table_pages / table_without_s[best]:7.0f} -> "
            f"{table_pages / table_with_s[best]:7.0f} pages/s "
            f"(pages/s ratio {table_without_s[best] / table_with_s[best]:.2f})"
        )


def gnarly_decisions() -> None:
    """Which pages of olmOCR's hard PDFs we send to OCR, and why (no OCR run: no ground truth there)."""
    import pymupdf

    from curate.pdf.page_text import layer_signals, ocr_reason

    listing = subprocess.run(
        ["git", f"--git-dir={OLMOCR}", "ls-tree", "--name-only", "HEAD", "tests/gnarly_pdfs/"],
        capture_output=True,
        text=True,
    )
    names = [n for n in listing.stdout.split() if n.endswith(".pdf")]
    if listing.returncode or not names:
        print(f"5. skipped: allenai/olmocr not found at {OLMOCR} (git clone it and set CURATE_OLMOCR)")
        return
    reasons, examples = Counter(), {}
    for name in names:
        data = subprocess.run(
            ["git", f"--git-dir={OLMOCR}", "show", f"HEAD:{name}"], capture_output=True
        ).stdout
        with pymupdf.open(stream=data, filetype="pdf") as pdf:
            for page in list(pdf)[:4]:
                reason = ocr_reason(layer_signals(page)) or "kept"
                reasons[reason] += 1
                examples.setdefault(reason, []).append(f"{Path(name).stem}#{page.number + 1}")
    print(f"5. olmOCR gnarly_pdfs, first 4 pages of {len(names)} PDFs: {sum(reasons.values())} pages")
    for reason, n in reasons.most_common():
        shown = ", ".join(examples[reason][:6]) if reason != "kept" else "..."
        print(f"  {reason:<22}{n:>4}  {shown}")


def main() -> None:
    os.environ["OMP_THREAD_LIMIT"] = "1"
    if not SHARED.is_dir():
        print(f"skipped: no test data at {SHARED}")
        return
    scans, skipped = ground_truth_scans()
    for reason in skipped:
        print(f"skipped: {reason}")
    truth = {name: text for name, _, _, text in scans}

    clean = {name: scan_pdf(data, dpi) for name, data, dpi, _ in scans}
    # garbage layers and hybrids on three of the scans (one two-column): OCR is the cost of this bench
    some = [scan for scan in scans if scan[0] in MODIFIED_PAGES]
    garbage = {f"{n}~bad": with_invisible_layer(scan_pdf(d, dpi), bad_ocr(t)) for n, d, dpi, t in some}
    hybrid = {f"{n}~hybrid": with_header(scan_pdf(d, dpi), HEADER) for n, d, dpi, _ in some}
    started = time.perf_counter()
    result = ours({**clean, **garbage, **hybrid})
    ours_seconds = time.perf_counter() - started
    started = time.perf_counter()
    tesseract = {name: plain_tesseract(pdf) for name, pdf in clean.items()}
    tesseract_seconds = time.perf_counter() - started

    def truth_of(name: str) -> str:
        return truth[name.split("~")[0]]

    print(
        f"1. clean scans with ground truth ({len(clean)} pages): CER / WER, lower is better (goal CER <= 2%)"
    )
    print(f"  {'page':<16}{'text layer':>16}{'plain Tesseract':>20}{'ours':>18}  source (reason)")
    totals = Counter()
    for name in clean:
        layer, plain, (text, source, reason) = plain_layer(clean[name]), tesseract[name], result[name]
        row = [(cer(t, truth_of(name)), wer(t, truth_of(name))) for t in (layer, plain, text)]
        for label, (c, w) in zip(("layer", "plain", "ours"), row, strict=True):
            totals[f"{label}_cer"] += c
            totals[f"{label}_wer"] += w
        cells = "".join(f"{c:>9.1%} /{w:>6.1%}" for c, w in row)
        print(f"  {name:<16}{cells}  {source} ({reason})")
    n = max(len(clean), 1)
    cells = "".join(
        f"{totals[k + '_cer'] / n:>9.1%} /{totals[k + '_wer'] / n:>6.1%}" for k in ("layer", "plain", "ours")
    )
    print(f"  {'mean':<16}{cells}")

    print("2. the same scans under a garbage OCR layer (invisible): CER / WER")
    for name in garbage:
        layer, (text, source, reason) = plain_layer(garbage[name]), result[name]
        print(
            f"  {name:<16} text layer {cer(layer, truth_of(name)):6.1%} / {wer(layer, truth_of(name)):6.1%}"
            f"   ours {cer(text, truth_of(name)):6.1%} / {wer(text, truth_of(name)):6.1%}   {source} ({reason})"
        )

    print(
        f"3. hybrid pages (the scans with a one-line text layer, {HEADER!r}): page words recovered (goal >= 90%)"
    )
    shares = Counter()
    for name in hybrid:
        layer, (text, source, reason) = plain_layer(hybrid[name]), result[name]
        plain = tesseract[name.split("~")[0]]
        row = [recovered(t, truth_of(name)) for t in (layer, plain, text)]
        for label, share in zip(("layer", "plain", "ours"), row, strict=True):
            shares[label] += share
        print(
            f"  {name:<20} text layer {row[0]:6.1%}   plain Tesseract {row[1]:6.1%}   ours {row[2]:6.1%}"
            f"   {source} ({reason})"
        )
    n = max(len(hybrid), 1)
    print(
        f"  {'mean':<20} text layer {shares['layer'] / n:6.1%}   plain Tesseract {shares['plain'] / n:6.1%}"
        f"   ours {shares['ours'] / n:6.1%}"
    )
    print(
        f"  time: ours {ours_seconds:.1f}s for {len(result)} pages (renders, decides, OCRs "
        f"{sum(1 for _, _, reason in result.values() if reason)}); "
        f"plain Tesseract {tesseract_seconds:.1f}s for {len(tesseract)} pages"
    )
    born_digital_cost()
    table_rows_cost()
    gnarly_decisions()


if __name__ == "__main__":
    main()
