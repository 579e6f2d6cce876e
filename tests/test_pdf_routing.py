"""PDF text routing on born-digital pages (code, TeX, maths, chemistry, other languages keep their layer;
a broken font's layer is replaced), the choice between layer and OCR, and the routing audit in the HTML
report. benchmarks/bench_routing.py measures the same on hundreds of pages."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import lxml.html
import pymupdf
import pytest

from benchmarks.routing_pages import broken_font_pdf
from curate.pdf.page_text import agreement, better_text, layer_signals, ocr_reason

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
PROSE = (
    "This package provides commands for typesetting units and numbers. The options are given as a "
    "comma separated list, and each of them can also be set for the whole document in the preamble. "
)
TEX_CODE = r"""\newcommand*\SIobeyboldtrue{\let\@SI@bold\relax}
\def\xl@kern@Xe@Xe{-.1em}%
\ifx\@tempa\@tempb \edef\@tempc{#1}\fi
\DeclareUnicodeCharacter{0132}{\IJ}
\begin{tabular}{l S[table-format=3.2]} \toprule
$\int_0^\infty e^{-x^2}\,dx = \frac{\sqrt{\pi}}{2}$ \\
\ce{2H2 + O2 -> 2H2O} \quad \ce{Fe^{3+} + 3OH- -> Fe(OH)3 v}
x_{i+1} = x_i - f(x_i)/f'(x_i);  a[i] |= (b << 2) ^ ~c;"""


def _page_with(blocks: list[tuple[str, str | None]]) -> pymupdf.Document:
    """One page holding each (text, font file) block in turn, visible, as a PDF producer typesets it."""
    pdf = pymupdf.open()
    page = pdf.new_page()
    y = 54.0
    for i, (text, font) in enumerate(blocks):
        name = "helv"
        if font:
            name = f"F{i}"
            page.insert_font(fontname=name, fontfile=str(DEJAVU / font))
        lines = text.count("\n") + 1 + len(text) // 90
        box = pymupdf.Rect(54, y, page.rect.width - 54, y + 14 * lines + 20)
        assert page.insert_textbox(box, text, fontname=name, fontsize=9) >= 0
        y = box.y1 + 6
    return pymupdf.open("pdf", pdf.tobytes())


def _reason(pdf: pymupdf.Document, index: int = 0) -> str | None:
    return ocr_reason(layer_signals(pdf[index]))


def test_tex_code_maths_and_chemistry_keep_their_layer():
    # the pages: TeX commands, code, maths and chemistry between short paragraphs of prose
    pdf = _page_with([(PROSE, None), (TEX_CODE, "DejaVuSansMono.ttf"), (PROSE, None), (TEX_CODE, None)])
    assert "\\SIobeyboldtrue" in pdf[0].get_text()
    assert _reason(pdf) is None


@pytest.mark.parametrize(
    "text",
    [
        # Latin (not English words) under an English abstract: judged bad English by a word list
        "This file provides an example of typesetting verse.\n"
        + "Lorem ipsum dolor sit amet, consectetur adipisicing elit, sed do eiusmod tempor incididunt ut "
        "labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco "
        "laboris nisi ut aliquip ex ea commodo consequat. " * 4,
        "Příliš žluťoučký kůň úpěl ďábelské ódy. Zvolte soubor, který chcete otevřít, a potvrďte volbu. " * 6,
        "Η διεργασία τερματίστηκε με σφάλμα· ελέγξτε το αρχείο ρυθμίσεων και δοκιμάστε ξανά. " * 6,
        # Hebrew with vowel points (combining marks): letters of a script, not unreadable glyphs
        "בְּרֵאשִׁית בָּרָא אֱלֹהִים אֵת הַשָּׁמַיִם וְאֵת הָאָרֶץ׃ וְהָאָרֶץ הָיְתָה תֹהוּ וָבֹהוּ " * 5,
    ],
    ids=["latin", "czech", "greek", "hebrew-points"],
)
def test_other_languages_keep_their_layer(text):
    pdf = _page_with([(text, "DejaVuSans.ttf")])
    assert len(pdf[0].get_text().split()) > 20
    assert _reason(pdf) is None


def test_a_blank_page_is_not_ocred():
    pdf = pymupdf.open()
    pdf.new_page().insert_text((300, 800), "2", fontsize=9)  # a page number alone
    signals = layer_signals(pdf[0])
    assert signals.ink_share is not None and signals.ink_share < 0.002
    assert ocr_reason(signals) is None


def test_text_drawn_as_outlines_is_ocred_and_a_figure_is_not():
    # a page of text converted to outlines (MuPDF's SVG with text as paths, back to PDF): no text layer,
    # hundreds of glyph-sized paths; a figure (a few large strokes, a label) has no text beyond its layer
    page = _page_with([(PROSE * 4, None)])[0]
    svg = page.get_svg_image(text_as_path=True).encode()
    outlined = pymupdf.open("pdf", pymupdf.open("svg", svg).convert_to_pdf())
    assert outlined[0].get_text() == ""
    signals = layer_signals(outlined[0])
    assert signals.glyph_paths > 300 and ocr_reason(signals) == "no_text_layer"
    figure = pymupdf.open()
    drawing = figure.new_page()
    drawing.draw_circle((300, 300), 150, color=(0, 0, 0), fill=(0.2, 0.4, 0.8))
    drawing.draw_line((100, 600), (500, 500), color=(0, 0, 0), width=3)
    drawing.insert_text((280, 480), "Fig. 1", fontsize=9)
    signals = layer_signals(figure[0])
    assert signals.ink_share > 0.002 and signals.glyph_paths < 10 and ocr_reason(signals) is None


def test_a_broken_font_layer_is_garbled_and_ocr_replaces_it(tmp_path):
    from curate.pdf.reader import PdfPageReader

    pdf = broken_font_pdf(PROSE * 3)
    layer = pdf[0].get_text()
    assert "7KLV SDFNDJH" in layer  # "This package": each glyph's id given as its character
    assert _reason(pdf) == "garbled_text_layer"
    (tmp_path / "in").mkdir()
    pdf.save(tmp_path / "in" / "broken.pdf")
    [page] = list(PdfPageReader(str(tmp_path / "in"), max_seconds_per_page=0).run())
    meta = page.metadata
    assert (meta["text_source"], meta["ocr_reason"]) == ("ocr", "garbled_text_layer")
    assert agreement(PROSE * 3, page.text) > 0.9
    assert meta["other_text"] == layer.strip()  # the layer it replaced, for the audit
    assert meta["routing_signals"]["vowel_share"] < 0.2


def test_pdflatex_page_keeps_its_layer(tmp_path):
    if not shutil.which("pdflatex"):
        pytest.skip("pdflatex not found (apt-get install texlive-latex-base, or `make bench-deps`)")
    source = r"""\documentclass{article}\usepackage{amsmath}\begin{document}
The macro \verb|\SIobeyboldtrue| makes \verb|\SI{1}{\kilo\gram}| bold when the surrounding text is bold;
see the options below, which are set with \verb|\sisetup{detect-weight}| in the preamble of a document.
\begin{verbatim}
\newcommand*\SIobeyboldtrue{\let\@SI@bold\relax}
\ifx\@tempa\@tempb \edef\@tempc{#1}\fi
for (i = 0; i < n; i++) { a[i] |= (b << 2) ^ ~c; }
\end{verbatim}
\[ \int_0^\infty e^{-x^2}\,dx = \frac{\sqrt{\pi}}{2}, \qquad \sum_{k=1}^{n} k = \frac{n(n+1)}{2} \]
\end{document}"""
    (tmp_path / "doc.tex").write_text(source)
    subprocess.run(["pdflatex", "-interaction=batchmode", "doc.tex"], cwd=tmp_path, timeout=120, check=True)
    with pymupdf.open(tmp_path / "doc.pdf") as pdf:
        assert "SIobeyboldtrue" in pdf[0].get_text()
        assert _reason(pdf) is None


def test_the_layer_is_kept_when_ocr_confirms_it():
    layer = PROSE * 2
    misread = layer.replace("units", "nnits").replace("whole", "wbole")  # OCR's usual few errors
    assert better_text(layer, misread) == (layer, "text_layer")
    # a partial layer (a header over an image of text): OCR has what the layer lacks
    assert (
        better_text("Quarterly Report 2024 - Page 3", "Quarterly Report 2024 - Page 3\n" + layer)[1] == "ocr"
    )
    # a garbage layer: OCR confirms next to none of it
    assert better_text("7KLV SDFNDJH SURYLGHV " * 10, layer)[1] == "ocr"
    # any script: the words are compared as they are, with no word list
    greek = "Η διεργασία τερματίστηκε με σφάλμα στο αρχείο ρυθμίσεων του συστήματος. " * 3
    assert better_text(greek, greek.replace("σφάλμα", "σφάλµα"))[1] == "text_layer"


@pytest.fixture(scope="module")
def routed_run(shared_data, tmp_path_factory):
    """The pdf-pages recipe on a born-digital page, a broken-font page and a scan under a running header
    (real: Huckleberry Finn's page), then the HTML report."""
    from curate.pipelines import get_recipe

    from curate.run.executors import ExecutorConfig
    from curate.run.report_html import write_html_report
    from curate.run.runner import run_recipe

    source = tmp_path_factory.mktemp("pdfs")
    _page_with([(PROSE, None), (TEX_CODE, "DejaVuSansMono.ttf")]).save(source / "born-digital.pdf")
    broken_font_pdf(PROSE * 3).save(source / "broken-font.pdf")
    with pymupdf.open(shared_data / "pdf" / "scanned" / "c02-22.pdf") as scan:
        scan[0].insert_text((36, 24), "Adventures of Huckleberry Finn", fontsize=8)
        scan.save(source / "scan-with-header.pdf")
    output = tmp_path_factory.mktemp("run")
    run_recipe(get_recipe("pdf-pages"), str(source), output, ExecutorConfig("local", workers=1))
    return output, write_html_report(output)


def test_report_shows_each_routing_reason_with_page_image_and_both_texts(routed_run):
    output, index = routed_run
    tree = lxml.html.fromstring(index.read_text(encoding="utf-8"))
    assert "PDF text routing" in [h.text_content() for h in tree.iter("h2")]
    counts = {
        tr[0].text_content(): int(tr[1].text_content())
        for tr in tree.xpath("//table[.//th='reason']//tr[td]")
    }
    assert counts == {"garbled_text_layer": 1, "text_in_images": 1, "kept without OCR": 1}
    headings = [h.text_content() for h in tree.iter("h3")]
    assert any(h.startswith("garbled_text_layer") for h in headings)
    assert any(h.startswith("text_in_images") for h in headings)
    routes = tree.xpath("//div[@class='route']")
    assert len(routes) == 2  # one example per reason that sent a page to OCR
    texts = {}
    for route in routes:
        [image] = route.xpath(".//img")
        assert (index.parent / image.get("src")).stat().st_size > 5_000  # the page, readable size
        layer, ocr = (pre.text_content() for pre in route.xpath(".//pre"))
        kept = route.xpath(".//pre[@class='kept']")[0].text_content()
        texts[layer[:30]] = (layer, ocr, kept)
    broken = next(v for k, v in texts.items() if k.startswith("7KLV"))
    assert "This package provides" in broken[1] and broken[2] == broken[1]  # OCR kept, layer shown
    header = next(v for k, v in texts.items() if k.startswith("Adventures"))
    assert "tip-toeing" in " ".join(header[1].split()) and header[2] == header[1]
    assert "vowel_share" in index.read_text(encoding="utf-8")  # the signals behind the decision
