"""Lines first (`qa_prompt=lines`): the code chooses a page's informative lines, the model writes one question
per line, and the chosen line is the pair's evidence; on real pages of ../shared/data."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from curate.synth import prompts
from curate.synth.checks import check_evidence
from curate.synth.client import ChatClient
from curate.synth.evidence import PageLines
from curate.synth.generate import QAGenerator, line_evidence, parse_pairs
from curate.synth.lines import answer_span, choose_lines, score, units
from curate.synth.qa_config import Endpoint, Generation, LlmServers
from datatrove.data import Document
from stub_llm import MODELS, JsonServer, completion
from test_synth import page_text


def test_lines_are_informative_whole_page_lines_spread_over_the_chunk(shared_data):
    """The LA precinct bulletin: election dates, a precinct code, then ballot lines; the chosen
    units are lines of the page (so the evidence check finds them), none a heading or furniture, and they
    come from both halves of the text, not its first lines only."""
    text = page_text(shared_data, "la-precinct-bulletin-2014-p1.pdf", 0)
    chosen = choose_lines(text, 5)
    assert len(chosen) == 5
    page_lines = {line.strip() for line in text.splitlines()}
    assert all(set(x.text.splitlines()) <= page_lines for x in chosen)
    assert "TO BE HELD 11/04/14        CLOSE 10/20/14" in [x.text for x in chosen]  # two dates
    halves = {2 * text.index(x.text) // len(text) for x in chosen}
    assert halves == {0, 1}
    assert all(PageLines(text).find(x.text) for x in chosen)
    # headings, page furniture and lone labels offer no fact to ask for
    for line in ("PRECINCT BULLETINS", "PAGE     1", "GENERAL ELECTION", "Official - Subject to Final Review"):
        assert score(line) == 0, line


def test_a_table_row_written_one_cell_per_line_is_one_unit(shared_data):
    """NICS background checks: the text layer writes a state's name, then each of its values on a line of its
    own; the unit is the row (name and values), shown on one line, evidence as on the page."""
    text = page_text(shared_data, "nics-background-checks-2015-11-rotated.pdf", 0)
    rows = {page.split("\n", 1)[0]: (page, shown) for page, shown in units(text)}
    page, shown = rows["Alabama"]
    assert page.startswith("Alabama\n18,870\n23,022\n") and shown.startswith("Alabama | 18,870 | 23,022 | ")
    assert score(shown, page) > score("Alabama")  # a row with values outranks a lone label
    assert "Alabama" in {x.text.split("\n", 1)[0] for x in choose_lines(text, 40)}


def test_ocr_junk_and_name_only_lines_are_not_chosen():
    junk = "ire\nR\nie MTRR\nPAC arc\n1 F\n11C COAST\nC0AS til\naits to 33 persons to\ncoci\nanni"
    assert choose_lines(junk, 5) == []
    assert choose_lines("Southern California Edison Company\nFireman's Fund Insurance Company", 5) == []


class LinesLLM(JsonServer):
    """Answers a lines-first request: for each numbered line, a question whose answer is the line's first
    number; the last pair names line 1 but answers from the last line (a pair answered from another line)."""

    def __init__(self):
        super().__init__()
        self.formats: list[dict] = []

    def respond(self, method: str, headers: Mapping[str, str], payload: dict | None):
        if method == "GET":
            return 200, MODELS
        self.formats.append(payload.get("response_format"))
        listed = payload["messages"][-1]["content"].split("Lines of this page:\n", 1)[1].split("\n\n", 1)[0]
        lines = [re.sub(r"^\d+\. ", "", line) for line in listed.splitlines() if not line.startswith("   (answer")]
        pairs = [{"line": n, "question": f"What is the first number of the row of {line.split()[0]}?",
                  "answer": re.search(r"\d[\d,./:]*", line)[0]} for n, line in enumerate(lines, 1)]  # fmt: skip
        pairs[-1]["line"] = 1
        return 200, completion(json.dumps({"pairs": pairs}))


def test_lines_first_request_sets_each_pairs_evidence_to_its_chosen_line(shared_data):
    text = page_text(shared_data, "la-precinct-bulletin-2014-p1.pdf", 0)
    with LinesLLM() as server:
        generator = QAGenerator(LlmServers(Endpoint(server.url, "stub", "llama")), Generation(prompt="lines", pairs_per_request=5))
        doc = Document(text=text, id="la.pdf#1", metadata={"page": 1})
        ((chunk, style, messages),) = generator.requests_for(doc)
        assert style == "lines" and len(chunk.lines) == 5 and "1. TO BE HELD 11/04/14" in messages[-1]["content"]
        answer = generator.ask(ChatClient(server.url, "stub"), chunk, style, messages)
    # the reply's schema: the line's number first, no evidence to write
    schema = server.formats[0]["schema"]["properties"]["pairs"]["items"]
    assert list(schema["properties"]) == ["line", "question", "answer"]
    pairs = answer["pairs"]
    assert [p["evidence"] for p in pairs[:-1]] == chunk.lines[:-1] and "line" not in pairs[0]
    lines = [(1, PageLines(text))]
    verdicts = [check_evidence(p["question"], p["answer"], p["evidence"], lines, 0.8)[0] for p in pairs]
    assert verdicts[:-1] == [None] * 4
    assert verdicts[-1] == "answer_not_in_evidence"  # answered from another line than the one it names


def test_a_pair_naming_no_chosen_line_gets_the_line_holding_its_answer():
    lines = ["There were 20,000 bottles of water, 10,000 blankets, and 200 laptops delivered on January 23,",
             "2023. A total of 3 trucks were used for 15 hours."]  # fmt: skip
    reply = '{"pairs": [{"line": 7, "question": "How many hours were the trucks used?", "answer": "15 hours"}, '
    reply += '{"line": 1, "question": "How many blankets were delivered?", "answer": "10,000"}'  # cut short
    pairs, problem = parse_pairs(reply)
    assert problem.startswith("malformed") and len(pairs) == 2  # salvaged, "line" first
    assert [line_evidence(p, lines)["evidence"] for p in pairs] == [lines[1], lines[0]]
    assert "evidence" not in line_evidence({"question": "Q?", "answer": "42", "line": 9}, lines)


def test_evidence_first_schema_and_prompt_put_the_quote_first():
    schema = prompts.evidence_first_schema(5)["properties"]["pairs"]
    assert list(schema["items"]["properties"]) == ["evidence", "question", "answer"] and schema["maxItems"] == 5
    content = prompts.evidence_first_messages("Total revenue: 12,000", 5)[-1]["content"]
    assert content.index("First the evidence") < content.index("Then a question")


def test_the_code_takes_a_rows_value_and_a_labels_value_as_the_answer(shared_data):
    """Where the line says which value is the answer (a table row's first value, a label's value), the code
    takes it and shows it after the line: the 1.5B writer added up a census row's cells when it chose."""
    text = page_text(shared_data, "nics-background-checks-2015-11-rotated.pdf", 0)
    rows = {x.text.split("\n", 1)[0]: x for x in choose_lines(text, 60)}
    assert rows["Alabama"].answer == "18,870"
    assert answer_span("NUMBER OF RECORDS RETURNED: 983") == "983"
    assert answer_span("Precinct  RUN 12/3/2014 11:57:01 AM") is None  # a time, not a label
    assert answer_span("the oldest banking corporation in the United States. Established in 1784") is None
    shown = prompts.lines_messages("page", ["Alabama | 18,870", "Founded in 1784"], ["18,870", None])[-1]["content"]
    assert "1. Alabama | 18,870\n   (answer: 18,870)\n2. Founded in 1784\n" in shown
    pair = line_evidence({"line": 1, "question": "How many permit checks in Alabama?", "answer": "41,892"},
                         [rows["Alabama"].text], ["18,870"])  # fmt: skip
    assert pair["answer"] == "18,870" and pair["evidence"].startswith("Alabama\n18,870")
