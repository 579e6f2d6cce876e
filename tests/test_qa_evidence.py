"""Defects of QA generation seen on documents nobody tuned on (issue 23), each on a real page: TeX commands
corrupted by JSON parsing, long pages clipped to their first column, a table of contents split over lines,
source pages tagged where the answer only happens to be too; and the evidence each pair carries."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from curate.synth import checks
from curate.synth.checks import QAChecks, check_evidence, check_pair, page_index, page_kind
from curate.synth.client import ChatClient
from curate.synth.evidence import PageLines
from curate.synth.generate import Chunk, QAGenerator, choose_chunks, fit_chunks, parse_answer, parse_pairs
from curate.synth.qa_config import Endpoint, Generation, LlmServers, Requests, RoundTrip
from datatrove.data import Document
from stub_llm import StubLLM
from test_synth import page_text

# a package manual as LaTeX typesets it: a table of contents, then the commands it defines
MANUAL = r"""\documentclass{article}
\begin{document}
\tableofcontents
\newpage
\section{Introduction}
This package defines estimators for linear models.
\section{Commands}
\subsection{Estimates}
The command \verb|\bias| prints the bias of an estimator.
The command \verb|\tr| prints the trace of a matrix.
The command \verb|\resid| prints the residual vector.
\subsection{Ranks}
The command \verb|\rk| prints the rank of a matrix, and \verb|\bbar| prints the mean of the b vector.
\section{Options}
\subsection{Output}
\subsection{Fonts}
\section{Examples}
\section{Bugs}
\end{document}
"""


@pytest.fixture(scope="module")
def manual_pages(tmp_path_factory) -> list[str]:
    """The text layer of a real PDF typeset by pdflatex (Debian's texlive), read with PyMuPDF."""
    import pymupdf

    if not shutil.which("pdflatex"):
        pytest.skip("pdflatex not found (apt-get install texlive-latex-base) to typeset the manual page")
    folder = tmp_path_factory.mktemp("manual")
    (folder / "manual.tex").write_text(MANUAL)
    for _ in range(2):  # the second run writes the table of contents
        subprocess.run(["pdflatex", "-interaction=batchmode", "manual.tex"], cwd=folder, check=True,
                       capture_output=True, timeout=120)  # fmt: skip
    with pymupdf.open(folder / "manual.pdf") as pdf:
        return [page.get_text() for page in pdf]


# ---- TeX commands in the model's JSON ------------------------------------------------------------------


def test_tex_commands_copied_into_json_are_kept_literally(manual_pages):
    page = manual_pages[1]
    assert "\\bias" in page and "\\tr" in page and "\\rk" in page
    # what the small models write: the page's backslashes copied into JSON strings without doubling
    reply = (
        '{"pairs": [{"question": "What does the \\bias command print?", "answer": "the bias of an estimator", '
        '"evidence": "The command \\bias prints the bias of an estimator."}, '
        '{"question": "Which command prints the trace of a matrix?", "answer": "\\tr", '
        '"evidence": "The command \\tr prints\\nthe trace of a matrix."}, '
        '{"question": "What do \\rk and \\bbar print?", "answer": "the rank of a matrix", '
        '"evidence": "The command \\rk prints the rank of a matrix, and \\bbar prints the mean of"}, '
        '{"question": "What does \\resid print, unlike \\alpha?", "answer": "the residual vector", '
        '"evidence": "The command \\resid prints the residual vector."}]}'
    )
    pairs, problem = parse_pairs(reply, page)
    assert problem is None and len(pairs) == 4
    assert pairs[0]["question"] == "What does the \\bias command print?"
    assert pairs[1]["answer"] == "\\tr" and pairs[1]["evidence"] == "The command \\tr prints\nthe trace of a matrix."
    assert pairs[2]["question"] == "What do \\rk and \\bbar print?"
    assert "\\resid" in pairs[3]["question"] and "\\alpha" in pairs[3]["question"]  # invalid escape kept
    for pair in pairs:
        assert not any(ord(c) < 32 for c in pair["question"] + pair["answer"])
        assert check_pair(pair["question"], pair["answer"], page_index(page), set(), 0.8)[0] is None
        reason, evidence, _ = check_evidence(pair["question"], pair["answer"], pair["evidence"],
                                             [(2, PageLines(page))], 0.8)  # fmt: skip
        assert reason is None and evidence in page.replace("\n", "\n")


def test_a_question_with_control_characters_is_never_sent_again(manual_pages):
    """Before the fix, `\\resid` arrived as a carriage return and `\\tr` as a tab: such a question is
    bad_encoding, and the round trip and the second opinion are not asked it."""
    page = manual_pages[1]
    broken = {"question": "What does \resid print?", "answer": "the residual vector",
              "evidence": "The command \\resid prints the residual vector."}  # fmt: skip
    fine = {"question": "What does \\resid print?", "answer": "the residual vector",
            "evidence": "The command \\resid prints the residual vector."}  # fmt: skip
    assert check_pair(broken["question"], broken["answer"], page_index(page), set(), 0.8)[0] == "bad_encoding"
    with StubLLM(roundtrip_answer="the residual vector") as stub:
        generator = QAGenerator(
            LlmServers(Endpoint(stub.url, "stub")), roundtrip=RoundTrip(enabled=True), requests=Requests(retries=0)
        )
        totals = generator.ask_roundtrip(ChatClient(stub.url, "stub"), Chunk(0, page, [2]), [broken, fine])
    assert totals["questions"] == 1 and stub.calls == 1
    assert "roundtrip" not in broken and fine["roundtrip"] == "the residual vector"


def test_a_half_surrogate_escape_is_kept_as_a_command_and_never_sent(manual_pages):
    """The 1.5B model wrote fancyvrb's `\\DefineShortVerb` as `\\uDefDefineShortVerb` (test split, fancyvrb
    manual p5): JSON decodes `\\uDefD` to U+DEFD, half of a UTF-16 pair, which no UTF-8 request can carry;
    the server answered the round trip with HTTP 500 five times and the qa stage failed. The escape is kept
    as written; a half surrogate that still reaches a pair is bad_encoding, never sent."""
    page = manual_pages[1]
    # the model's pair as recorded (its evidence is one of its own making), then an emoji written as a pair
    reply = (
        '{"pairs": [{"question": "What is the purpose of the \\uDefDefineShortVerb macro?", "answer": '
        '"To define a special character as an abbreviation to enclose verbatim text and suppress its special '
        'meaning.", "evidence": "The \\uDefDefineShortVerb macro allows us to define a special character as an '
        'abbre- viation to enclose verbatim text"}, '
        '{"question": "Which face \\ud83d\\ude00 does \\u00e9 print?", "answer": "the bias", "evidence": "x"}]}'
    )
    pairs, problem = parse_pairs(reply, page)
    assert problem is None and len(pairs) == 2
    assert pairs[0]["question"] == "What is the purpose of the \\uDefDefineShortVerb macro?"
    assert "\\uDefDefineShortVerb" in pairs[0]["evidence"]
    assert pairs[1]["question"] == "Which face \U0001f600 does \u00e9 print?"  # a whole pair is a character
    for pair in pairs:
        (pair["question"] + pair["answer"] + pair["evidence"]).encode("utf-8")  # raises on a half surrogate
    half = {"question": "What does \udefdDefineShortVerb print?", "answer": "the bias of an estimator"}
    assert check_pair(half["question"], half["answer"], page_index(page), set(), 0.8)[0] == "bad_encoding"
    with StubLLM(roundtrip_answer="the bias of an estimator") as stub:
        generator = QAGenerator(
            LlmServers(Endpoint(stub.url, "stub")), roundtrip=RoundTrip(enabled=True), requests=Requests(retries=0)
        )
        totals = generator.ask_roundtrip(ChatClient(stub.url, "stub"), Chunk(0, page, [2]), [half])
    assert totals["questions"] == 0 and stub.calls == 0 and "roundtrip" not in half
    # the round trip's answer, as the model wrote it about that page (a run failed writing it to Parquet)
    answer = parse_answer('{"answer": "the \\uDefDefineShortVerb macro suppresses the special meaning"}', page)
    assert answer == "the \\uDefDefineShortVerb macro suppresses the special meaning"
    assert parse_answer('{"answer": "\\tr"}', page) == "\\tr" and parse_answer("plain \\tr", page) == "plain \\tr"


# ---- a table of contents split over lines ----------------------------------------------------------------


def test_a_latex_table_of_contents_is_recognised_and_not_asked(manual_pages):
    toc = manual_pages[0]
    assert ". . . . ." in toc and "Introduction\n" in toc  # numbers, titles and leaders on lines of their own
    assert page_kind(toc) == "table_of_contents"
    assert page_kind(manual_pages[1]) is None
    doc = Document(text="\f".join(manual_pages), id="manual.pdf",
                   metadata={"pages": [{"page": 1}, {"page": 2}]})  # fmt: skip
    asked, skipped = QAGenerator(LlmServers(Endpoint("http://127.0.0.1:9/v1"))).pages_to_ask(doc)
    assert [n for n, _ in asked] == [2] and skipped == ["table_of_contents"]


def test_tables_with_dotted_leaders_are_not_tables_of_contents():
    """Statistical tables lead their row labels to the values with dots (held-out pages of camelot's tests):
    their leaders are followed by values, not page numbers."""
    rows = [json.loads(line) for line in open(Path(__file__).parent.parent / "benchmarks" / "data" /
                                              "docmatix_heldout_pages.jsonl", encoding="utf-8")]  # fmt: skip
    tables = [r["text"] for r in rows if r["page_id"].split("#")[0] in
              ("camelot/12s0324.pdf", "camelot/district_health.pdf", "camelot/missing_values.pdf")]  # fmt: skip
    assert len(tables) == 3 and all(". . . ." in t or "....." in t for t in tables)
    assert [page_kind(t) for t in tables] == [None, None, None]


# ---- whole pages -----------------------------------------------------------------------------------------


def test_a_long_page_sends_its_informative_parts_not_its_first_column(shared_data):
    """The CA WARN report's text layer starts with a column of 36 notice dates; the rows (companies,
    cities, counts) follow. As the newspaper page whose first 2,500 characters were a column of cards."""
    text = page_text(shared_data, "ca-warn-report.pdf", 0)
    chunks = fit_chunks(text, 1000, 10_000)
    assert len(chunks) == 4 and chunks[0].startswith("Notice Date")
    (chosen,) = choose_chunks(chunks, 1)
    assert chosen != 0 and "Layoff Permanent" in chunks[chosen]
    spread = choose_chunks(chunks, 2)
    assert spread[0] in (0, 1) and spread[1] in (2, 3)  # one from each half of the page
    assert choose_chunks(chunks, 4) == [0, 1, 2, 3]

    generator = QAGenerator(
        LlmServers(Endpoint("http://127.0.0.1:9/v1")), Generation(max_chunk_chars=1000, max_chunks_per_page=2)
    )
    doc = Document(text=text, id="ca-warn-report.pdf#1", metadata={"page": 1})
    requests = generator.requests_for(doc)
    assert len(requests) == 2
    sent, total = doc.metadata["qa_coverage"]["1"]
    assert total >= len(text.strip()) - 50 and sent == sum(len(r[0].text) for r in requests) < total


# ---- evidence --------------------------------------------------------------------------------------------


def _two_page_warn(shared_data) -> Document:
    texts = [page_text(shared_data, "ca-warn-report.pdf", i) for i in (0, 1)]
    return Document(text="\f".join(texts), id="ca-warn-report.pdf",
                    metadata={"pages": [{"page": 1}, {"page": 2}]})  # fmt: skip


def _checked(doc: Document, *pairs: dict) -> Document:
    doc.metadata["qa_candidates"] = [{**p, "style": "lookup", "chunk": 0, "pages": [1, 2]} for p in pairs]
    doc.metadata["qa_generation"] = {"model": "stub"}
    QAChecks().score(doc)
    return doc


def test_the_source_page_is_where_the_evidence_is(shared_data):
    """56 employees: American Management Services in Monterey (page 1) and Armstrong Growers in San Juan
    (page 2). The pair about Armstrong Growers is tagged with page 2 only, with or without model evidence."""
    question = "How many employees did Armstrong Growers lay off in San Juan?"
    quoted = {"question": question, "answer": "56", "evidence": "Armstrong Growers San Juan 56"}
    doc = _checked(_two_page_warn(shared_data), quoted)
    # the page's own lines, as its text layer has them (a review page marks them in the page text)
    assert doc.metadata["qa_evidence"] == [{"pages": [2], "evidence": "Armstrong Growers\nSan Juan \n56"}]
    doc = _checked(_two_page_warn(shared_data), {"question": question, "answer": "56"})
    assert doc.metadata["qa_evidence"][0]["pages"] == [2]
    assert "Armstrong Growers" in doc.metadata["qa_evidence"][0]["evidence"]


def test_evidence_checks_reject_invented_misread_and_assembled_pairs(shared_data):
    doc = _checked(
        _two_page_warn(shared_data),
        # the row the model quotes is not on the page (since round s9 the lines that hold "64" are checked
        # instead: they do not name Acme Corp or Fresno)
        {"question": "How many employees did Acme Corp lay off in Fresno?", "answer": "64",
         "evidence": "Acme Corp Fresno 64"},
        # quotes one row, answers from another
        {"question": "How many employees did Actavis lay off in Corona?", "answer": "38",
         "evidence": "Actavis, Inc.\nCorona\n45"},
        # the 07/15/2015 layoff is TaylorMade's; Southern California Edison's row has 09/06 and 07/16
        {"question": "Which company received a Layoff Permanent notice on 07/15/2015?",
         "answer": "Southern California Edison Company",
         "evidence": "09/06/2015     07/16/2015\nSouthern California Edison Company"},
        # a paragraph is not the line read: the lines that hold the answer and the question's subject are
        # located instead (round s7), and they are TaylorMade's row, so the right pair is kept with them
        {"question": "How many employees did TaylorMade Golf Company lay off in Carlsbad?", "answer": "64",
         "evidence": page_text(shared_data, "ca-warn-report.pdf", 0)[1000:1500]},
        # right, quoted with the spacing and line breaks of the text layer changed
        {"question": "How many employees were affected by TaylorMade Golf Company's layoff in Carlsbad?",
         "answer": "64", "evidence": "TaylorMade  Golf Company Carlsbad 64"},
        # right: the label quoted, its value on the line below (as the 1.5B model quotes a form's field)
        {"question": "In which city did American Management Services LLC close?", "answer": "Monterey",
         "evidence": "American Management Services LLC"},
    )  # fmt: skip
    reasons = [r["reason"] for r in doc.metadata["qa_rejected"]]
    # the quoted TaylorMade pair asks what the located one did
    assert reasons == ["answer_not_in_evidence", "answer_not_in_evidence", "question_not_in_evidence",
                       "near_duplicate"]  # fmt: skip
    assert [t["assistant"] for t in doc.metadata["qa"]] == ["64", "Monterey"]
    assert doc.metadata["qa_evidence"][1] == {"pages": [1], "evidence": "American Management Services LLC\nMonterey"}
    located = doc.metadata["qa_evidence"][0]
    assert located["pages"] == [1] and "TaylorMade" in located["evidence"] and "64" in located["evidence"]
    assert len(located["evidence"]) < 400


def test_evidence_is_found_across_ocr_spacing_and_hyphenation(shared_data):
    """The two-column TraceMonkey paper hyphenates words across lines ("discov-\nered"); the model quotes
    them whole, with its own spacing."""
    text = page_text(shared_data, "tracemonkey.pdf", 0)
    index = text.find("-\n")
    assert index > 0
    start, end = text.rfind("\n", 0, index) + 1, text.find("\n", index + 2)
    line = text[start:end]  # two lines of the page joined by a hyphen at the break
    rejoined = line.replace("-\n", "").replace("  ", " ")
    spaced = " ".join(rejoined.replace(",", " ,").split())
    lines = PageLines(text)
    for quoted in (rejoined, spaced):
        spans = lines.find(quoted)
        assert spans and lines.lines(spans) in lines.text and line.split("-\n")[1] in lines.lines(spans)
    assert lines.find("This sentence was never printed in the TraceMonkey paper at all.") is None


def test_a_place_named_instead_of_a_quote_is_located_on_the_page(monkeypatch):
    """The packaged models often give "Page 1, first line" as evidence: no quote to check, so the lines holding
    the answer are located (as for a pair without evidence) instead of rejecting the pair as not on the page.
    A quote that is not on the page was rejected until round s9; since, the page's lines that hold the answer
    and name the question's subject are its evidence (QUOTE_OFF_PAGE_LOCATED), never the invented text."""
    text = (Path(__file__).resolve().parent.parent / "synth" / "sample_docs" / "council-minutes.txt").read_text()
    pages = [(1, PageLines(text))]
    question, answer = "Who chaired the meeting of the Town of Millbrook council?", "Mayor Linda Ortega"
    reason, lines, cited = check_evidence(question, answer, "Page 1, third line", pages, 0.8)
    assert reason is None and "Linda Ortega" in lines and cited == [1]
    invented = check_evidence(question, answer, "Chaired by Mayor Linda Ortega of Millbrook", pages, 0.8)
    assert invented[0] is None and "called to" in invented[1] and "Chaired by" not in invented[1]
    monkeypatch.setattr(checks, "QUOTE_OFF_PAGE_LOCATED", False)
    invented = check_evidence(question, answer, "Chaired by Mayor Linda Ortega of Millbrook", pages, 0.8)
    assert invented[0] == "evidence_not_on_page"


def _test_split_page(page_id: str) -> str:
    """A page of the docmatix test split (benchmarks/data/docmatix_test_pages.jsonl); only pages that are
    tuning data for the behaviour tested are used (the first 12 pages; the untouched split for round s6's
    fixes; round s6 for round s7's change), never the fresh round the change is measured on."""
    rows = [json.loads(line) for line in open(Path(__file__).parent.parent / "benchmarks" / "data" /
                                              "docmatix_test_pages.jsonl", encoding="utf-8")]  # fmt: skip
    (text,) = [r["text"] for r in rows if r["page_id"] == page_id]
    return text


def test_a_bare_value_as_evidence_shows_no_row():
    """Table 325 of the Statistical Abstract (tabula-java's 12s0324.pdf) puts each cell on its own line. The
    1.5B model quoted "212,173" alone for "the highest amount of vandalism" (it is the arrests total): a
    bare value says nothing about which row it was read from, so it is rejected (it is not a place either,
    "line 212"); the same answer quoted with its row label, on one line with other leaders, is kept."""
    pages = [(1, PageLines(_test_split_page("tabula-java/12s0324.p1-1.pdf#page=1")))]
    question = "How many arrests for vandalism are in the table?"
    # rejected either way: as bare evidence (before round s10), or because the lines that hold the value,
    # which stand for a bare quote since round s10, do not name the question's subject
    assert check_evidence(question, "212,173", "212,173", pages, 0.8)[0] == "answer_not_in_evidence"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(checks, "BARE_EVIDENCE_LOCATED", False)
        assert check_evidence(question, "212,173", "212,173", pages, 0.8)[0] == "evidence_is_answer"
    reason, lines, cited = check_evidence(question, "212,173", "Vandalism. . . . . . . . 212,173", pages, 0.8)
    assert reason is None and lines.startswith("Vandalism") and "212,173" in lines and cited == [1]
    # the value's line quoted, the answer (the row label) on the line above it
    asked = ("Which offence had 212,173 arrests?", "Vandalism", "212,173 \n 157,723", pages, 0.8)
    assert check_evidence(*asked)[0] is None
    assert check_evidence(*asked, neighbours=0)[0] == "answer_not_in_evidence"


def test_a_quote_wrapped_in_a_sentence_about_it_is_unwrapped(monkeypatch):
    """The model sometimes writes "The page states: '...'" (newspaper OCR pages of the test split): the quote
    inside is the evidence; an invented one is not on the page (with QUOTE_OFF_PAGE_LOCATED, since round s9,
    the page's own lines that hold the answer stand for it)."""
    text = (Path(__file__).resolve().parent.parent / "synth" / "sample_docs" / "council-minutes.txt").read_text()
    pages = [(1, PageLines(text))]
    question, answer = "Which company will replace the library roof?", "Northside Roofing Ltd."
    stated = "The page states: 'Council approved a contract with Northside Roofing Ltd. for $86,500'."
    assert check_evidence(question, answer, stated, pages, 0.8)[0] is None
    invented = "The page states: 'Northside Roofing Ltd. won the tender for the roof of the town hall'."
    reason, lines, _ = check_evidence(question, answer, invented, pages, 0.8)
    assert reason is None and lines.startswith("3. Library roof repair") and "tender" not in lines
    monkeypatch.setattr(checks, "QUOTE_OFF_PAGE_LOCATED", False)
    assert check_evidence(question, answer, invented, pages, 0.8)[0] == "evidence_not_on_page"


def test_a_table_row_named_instead_of_quoted_is_checked_in_that_row():
    """tabula-java's eu-001.pdf (E-PRTR thresholds; a page of the untouched test split, tuning data for this
    check since): the 1.5B model wrote "Table 2, row 'Hexachlorobenzene (HCB)', column '...'" instead of
    quoting the row. The row the label heads on the page stands for the quote: a threshold in that row
    (its unit in the column header) is kept; the row named by the answer itself ("the pesticide with
    0.0001 kg/year" answered with the row's own label) shows nothing of the row looked up; a label not on
    the page leaves the lines that hold the answer, which must name the row asked (round s9); a value from
    another row is not in this one."""
    pages = [(n, PageLines(_test_split_page(f"tabula-java/eu-001.p1-2.pdf#page={n}"))) for n in (1, 2)]
    named = "Table 2, row 'Hexachlorobenzene (HCB)', column 'Threshold for Releases to Air'"
    question = "What is the threshold for releases to air for hexachlorobenzene?"
    reason, lines, cited = check_evidence(question, "10 kg/year", named, pages, 0.6)
    assert reason is None and lines.startswith("Hexachlorobenzene (HCB)") and cited == [2]
    # not resolved to its row, the place is on no page; the lines holding "10 kg/year" name no hexachlorobenzene
    assert check_evidence(question, "10 kg/year", named, pages, 0.6, rows_named=False)[0] == "answer_not_in_evidence"
    assert check_evidence(question, "1 000 kg/year", named, pages, 0.6)[0] == "answer_not_in_evidence"
    by_answer = ("What is the name of the pesticide that has a threshold for releases to air of 0.0001 kg/year?",
                 "PCDD+PCFD (Dioxins+furans) (as Teq)", "Table 2, row 'PCDD+PCFD (Dioxins+furans) (as Teq)', "
                 "column 'Name'")  # fmt: skip
    # since round s10 the lines that hold the answer stand for it, and they do not name 0.0001 kg/year's row
    assert check_evidence(*by_answer, pages, 0.6)[0] == "answer_not_in_evidence"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(checks, "BARE_EVIDENCE_LOCATED", False)  # main's checks before round s10
        assert check_evidence(*by_answer, pages, 0.6)[0] == "evidence_is_answer"
    invented = "Table 2, row 'Hexachlorocyclohexane oxide (HCO)'"
    # a row not on the page: its answer is then looked for in the lines that name the question's subject
    assert check_evidence(question, "10 kg/year", invented, pages, 0.6)[0] == "answer_not_in_evidence"


def test_code_the_page_states_is_not_code_like():
    """Docmatix's braces rule dropped right answers that quote a manual's own syntax (unicode-math, setspace
    and etoolbox manuals of the untouched test split, tuning data for this rule since): braces are allowed
    where the answer's code is on the page; markup the model wrapped around a name, a command with its
    arguments changed, and a fragment whose braces do not pair up are still code_like."""
    unicode_math = page_index("\f".join(_test_split_page(f"texlive-latex-recommended-doc/unicode-math.p8-9.pdf"
                                                          f"#page={n}") for n in (1, 2)))  # fmt: skip
    syntax = "What is the syntax for selecting a new maths font in a particular version?"
    stated = r"\setmathfont{⟨font name⟩}[version=⟨version name⟩,⟨font features⟩]"
    assert check_pair(syntax, stated, unicode_math, set())[0] is None
    retyped = r"\setmathfont{<font name>}[version=<version name>,<font features>]"  # angle brackets retyped
    assert check_pair(syntax, retyped, unicode_math, set())[0] is None
    option = "Users can use the `range=up/{num}` option to load numerals only from a specific font."
    assert check_pair("How can a user load numerals only from a specific font?", option, unicode_math, set())[0] is None
    wrapped = r"\textbf{\textit{setmathfont}}"
    assert check_pair("Which command selects a maths font?", wrapped, unicode_math, set())[0] == "code_like"
    etoolbox = page_index(_test_split_page("texlive-latex-recommended-doc/etoolbox.p6-7.pdf#page=2"))
    right = r"\cslet{⟨csname⟩}{⟨command⟩}"
    assert check_pair("What are the arguments of \\cslet?", right, etoolbox, set())[0] is None
    swapped = r"\cslet{⟨command⟩}{⟨csname⟩}"  # the page's arguments in another order
    assert check_pair("What are the arguments of \\cslet?", swapped, etoolbox, set())[0] == "code_like"
    assert check_pair("What label does the equation get?", "csname⟩}", etoolbox, set())[0] == "code_like"
    assert check_pair("What is in the bulletin?", '{"votes": 1}', etoolbox, set())[0] == "code_like"


def test_a_quote_that_misses_the_answer_falls_back_to_the_lines_that_hold_it():
    """Round s7: the model's quote is a pointer, not a proof. Science Parse's bohnet09.pdf (a page of round
    s6, tuning data for this change): asked for the components of the SRL pipeline, the 1.5B model quoted the
    sentence before the one holding them; the lines that hold the answer and the question's subject
    ("pipeline") are the evidence instead, and the pair is kept. tabula-java's eu-001.pdf (the E-PRTR
    thresholds): "10 000 kg/year" for chlorine released to water, quoting chlorine's row whose 10 000 is its
    air threshold: the only lines that hold "10 000 kg/year" are ammonia's row under the unit header, which
    do not name chlorine or water, so the pair is still rejected; and with the fallback off (main before s7)
    the first pair was rejected too."""
    pages = {doc: [(n, PageLines(_test_split_page(f"{doc}#page={n}"))) for n in (1, 2)]
             for doc in ("science-parse/bohnet09.p4-5.pdf", "tabula-java/eu-001.p1-2.pdf")}  # fmt: skip
    question = "What are the components of the pipeline architecture?"
    answer = ("predicate selection (PS), argument identification (AI), argument classiﬁcation (AC), and word "
              "sense disambiguation (WSD).")  # fmt: skip
    quote = "The semantic role labeler is implemented as a pipeline architecture."
    reason, lines, cited = check_evidence(question, answer, quote, pages["science-parse/bohnet09.p4-5.pdf"], 0.8)
    assert reason is None and "word sense disambiguation" in lines and "predicate selection" in lines
    assert cited == [1]
    off = check_evidence(question, answer, quote, pages["science-parse/bohnet09.p4-5.pdf"], 0.8,
                         quote_misses_located=False)  # fmt: skip
    assert off[0] == "answer_not_in_evidence"
    chlorine = ("What is the threshold for releases of chlorine and inorganic compounds to water?", "10 000 kg/year",
                "Chlorine and inorganic compounds | 10 000 | - | -")  # fmt: skip
    reason, lines, _ = check_evidence(*chlorine, pages["tabula-java/eu-001.p1-2.pdf"], 0.8)
    assert reason == "answer_not_in_evidence" and "Ammonia" in lines
