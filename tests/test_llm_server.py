"""The qa stage against the project's own llama.cpp server started by hand, the way a user does
(`python -m llama_cpp.server --model GGUF --host 127.0.0.1 --port N`, the packaged 0.5B model), given
with `--set llm_url=` and no other LLM option: the client learns from the server how it takes a schema."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from curate.pipelines.docmatix import recipe
from curate.synth.client import ChatClient
from curate.synth.server import free_port, wait_until_ready
from samples import copy_pdfs

from curate.io import RecordReader
from curate.recipe import StageFailed
from curate.run.executors import ExecutorConfig
from curate.run.report import run_funnel
from curate.run.runner import run_recipe

pytestmark = pytest.mark.llm

ONE_PAGE = ["born_digital/scotus-transcript-p1.pdf"]
# how to ask for JSON stays at its default (asked of the server); the rest keeps the run short (one page,
# one small chunk) and patient (a CPU shared with other work: a request took over 120 s here)
SHORT = {"dedup": False, "language": False, "perplexity": False, "ocr": False, "max_chunk_chars": 800,
         "pairs_per_request": 2, "second_opinion": "none", "llm_deadline": 1800}  # fmt: skip


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory) -> str:
    pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] is installed by `make install`")
    from curate.synth.models import ModelNotAvailable, resolve_model

    try:
        model = resolve_model("qwen2.5-coder-0.5b")
    except ModelNotAvailable as exc:
        pytest.skip(str(exc))
    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
             "--port", str(port), "--n_threads", "2"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_until_ready(url, process, 300, log)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_client_learns_that_llama_cpp_takes_its_schema_in_json_object(llama_server):
    assert ChatClient(llama_server).structured_output() == "llama"


def test_qa_against_a_served_llama_cpp_works_with_default_options(llama_server, shared_data, tmp_path):
    pdfs = copy_pdfs(shared_data, ONE_PAGE, tmp_path / "pdfs")
    out = tmp_path / "out"
    run_recipe(recipe(), str(pdfs), out, ExecutorConfig("local", workers=1),
               options={**SHORT, "llm_url": llama_server})  # fmt: skip
    funnels = {f.stage: f for f in run_funnel(out, recipe().stage_names)}
    assert funnels["qa"].records_in == 1 and not funnels["qa"].errored and funnels["qa"].balanced
    (page,) = list(RecordReader(str(out / "stages" / "qa" / "data")).run())
    assert page.metadata["qa_candidates"] and not page.metadata["qa_rejects"]  # schema-constrained JSON


def test_a_format_the_server_refuses_shows_the_cause_on_the_driver(llama_server, shared_data, tmp_path):
    """`--set response_format=openai` still overrides what the server was found to take: llama-cpp-python
    answers `json_schema` with HTTP 500, and the driver says so in one line."""
    pdfs = copy_pdfs(shared_data, ONE_PAGE, tmp_path / "pdfs")
    options = {**SHORT, "llm_url": llama_server, "response_format": "openai", "llm_retries": 0}
    with pytest.raises(StageFailed) as failed:
        run_recipe(recipe(), str(pdfs), tmp_path / "out", ExecutorConfig("local", workers=1), options=options)
    message = str(failed.value)
    assert "\n" not in message and message.startswith("stage 'qa'")
    assert f"ServerUnavailable: the LLM server at {llama_server} failed 1 times (HTTP 500" in message
    assert "Input should be 'text' or 'json_object'" in message  # the server's own words


def test_a_busy_single_threaded_server_is_waited_for_not_called_absent(llama_server):
    """While llama.cpp writes a long answer it does not answer /v1/models: the start check waits."""
    client = ChatClient(llama_server)
    story = [{"role": "user", "content": "Write a long story about a lighthouse keeper, in 40 sentences."}]
    # long enough to outlast the first check on an idle machine too (~10 s at 40 tokens/s)
    writing = threading.Thread(target=lambda: client.chat(story, max_tokens=400, temperature=0.0))
    writing.start()
    time.sleep(2)  # the completion has started
    started = time.monotonic()
    try:
        assert ChatClient(llama_server, backoff=0.5).check(read_timeout=1, patience=600)
    finally:
        writing.join()
    assert time.monotonic() - started > 1  # it was busy: the first try timed out, a later one answered
