"""Text the page does not show stays out of its text, on real pages from ../shared/data/pdf: white
print, text under an opaque box, an invisible layer with nothing beneath; what is shown stays."""

from __future__ import annotations

from pathlib import Path

import pymupdf

from curate.pdf.hidden_text import PageRender
from curate.pdf.page_text import layer_signals

ZOOM = 150 / 72  # the pages stage's default render


def _signals(page):
    pixmap = page.get_pixmap(matrix=pymupdf.Matrix(ZOOM, ZOOM), alpha=False)
    return layer_signals(page, render=PageRender(pixmap, ZOOM, page.rotation_matrix))


def _read_pages(pdf: pymupdf.Document, folder: Path) -> list:
    from curate.pdf.reader import PdfPageReader

    folder.mkdir(exist_ok=True)
    pdf.save(folder / "page.pdf")
    return list(PdfPageReader(str(folder)).run())


def test_white_print_is_left_out_and_counted(shared_data, tmp_path):
    # the Federal Register's production stamps are printed white on white in the margins of every page
    with pymupdf.open(shared_data / "pdf" / "born_digital" / "federal-register-2020-17221.pdf") as source:
        pdf = pymupdf.open()
        pdf.insert_pdf(source, from_page=0, to_page=0)
    assert "jbell on DSKJLSW7X2PROD" in layer_signals(pdf[0]).text
    stamps = [b[4].strip() for b in pdf[0].get_text("blocks") if b[4].startswith(("VerDate", "jbell on"))]
    [page] = _read_pages(pdf, tmp_path / "in")
    assert "jbell on DSKJLSW7X2PROD" not in page.text and "VerDate" not in page.text
    assert "Federal Register" in page.text  # the page's own header
    assert page.metadata["hidden_text_chars"] == sum(len(stamp) for stamp in stamps)


def test_text_under_an_opaque_box_is_left_out_and_under_a_translucent_one_kept(shared_data):
    path = shared_data / "pdf" / "born_digital" / "tracemonkey.pdf"
    with pymupdf.open(path) as pdf:
        page = pdf[0]
        [abstract] = [
            b for b in page.get_text("blocks") if b[4].startswith("Dynamic languages such as JavaScript are")
        ]
        before = _signals(page)
        assert before.hidden_chars == 0 and abstract[4] in before.text
        page.draw_rect(abstract[:4], color=None, fill=(1, 1, 1), fill_opacity=0.3, overlay=True)
        assert abstract[4] in _signals(page).text  # still readable through it
    with pymupdf.open(path) as pdf:
        page = pdf[0]
        page.draw_rect(abstract[:4], color=None, fill=(1, 1, 1), overlay=True)
        after = _signals(page)
    assert "are more difﬁcult to com-" not in after.text
    assert after.hidden_chars == len(abstract[4].strip())
    assert after.text == before.text.replace(abstract[4], "")  # nothing else changed


def test_an_invisible_layer_with_nothing_beneath_is_left_out(shared_data):
    with pymupdf.open(shared_data / "pdf" / "born_digital" / "invisible_text_layer.pdf") as pdf:
        signals = _signals(pdf[0])
    assert signals.text.strip() == "Visible heading line"
    assert signals.hidden_chars == len("Invisible OCR text layer")


def test_shown_text_is_kept_on_every_other_page(shared_data):
    # every born-digital page of the shared set (rotated, tables, two columns, right to left, code): the
    # render shows all of its text but for the white print found above and the white cover labels of
    # the Redbook
    hidden = {}
    for path in sorted((shared_data / "pdf" / "born_digital").glob("*.pdf")):
        with pymupdf.open(path) as pdf:
            for page in pdf:
                signals = _signals(page)
                if signals.hidden_chars:
                    hidden[f"{path.name}#{page.number + 1}"] = signals.hidden_chars
    register = {key for key in hidden if key.startswith("federal-register")}
    assert len(register) == 15  # every page
    assert {key: n for key, n in hidden.items() if key not in register} == {
        "invisible_text_layer.pdf#1": 24,
        "redp5110_sampled.pdf#1": len("Front cover"),
        "redp5110_sampled.pdf#3": len("DB2 for i Center of Excellence"),
        "redp5110_sampled.pdf#18": len("Back cover"),
    }


def test_a_grey_render_is_judged_as_an_rgb_one(shared_data):
    with pymupdf.open(shared_data / "pdf" / "born_digital" / "federal-register-2020-17221.pdf") as pdf:
        page = pdf[0]
        grey = page.get_pixmap(matrix=pymupdf.Matrix(ZOOM, ZOOM), colorspace=pymupdf.csGRAY)
        by_grey = layer_signals(page, render=PageRender(grey, ZOOM, page.rotation_matrix))
        assert by_grey.text == _signals(page).text and by_grey.hidden_chars > 0
