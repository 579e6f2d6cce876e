"""The docmatix recipe end to end: failures of the LLM server (with a stub server) and a real run with the
embedded llama.cpp model on a sample page."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from curate.pipelines import get_recipe
from curate.pipelines.docmatix import recipe
from curate.synth.sample_input import build
from curate.synth.server import free_port
from curate.synth.summary import qa_summary
from stub_llm import StubLLM

from curate.io import RecordReader
from curate.output.shards import shard_paths
from curate.recipe import StageFailed
from curate.run.executors import ExecutorConfig
from curate.run.report import run_funnel
from curate.run.runner import run_recipe

REPO = Path(__file__).resolve().parent.parent
ONE_TASK = ExecutorConfig(workers=1)


@pytest.fixture
def four_page_pdf(multi_page_dir) -> Path:
    """A real 4-page PDF (multi_page.pdf without its 5th page) next to the 5-page original."""
    import pymupdf

    with pymupdf.open(multi_page_dir / "multi_page.pdf") as pdf:
        pdf.delete_page(4)
        pdf.save(multi_page_dir / "four.pdf")
    return multi_page_dir


def stub_options(url: str, unit: str = "page") -> dict:
    return {"llm_url": url, "llm_retries": 0, "llm_timeout": 30, "response_format": "none", "ocr": False,
            "sample_unit": unit}  # fmt: skip


def records(folder: Path):
    return list(RecordReader(str(folder)).run())


def test_unreachable_server_fails_before_any_work(multi_page_dir, tmp_path):
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(StageFailed, match=f"no OpenAI-compatible LLM server answers at {url}"):
        run_recipe(recipe(), str(multi_page_dir), tmp_path / "out", ONE_TASK, options=stub_options(url))
    assert not (tmp_path / "out" / "stages").exists()  # not even the pages stage ran


def test_unreachable_server_from_the_cli_names_the_url(multi_page_dir, tmp_path):
    url = f"http://127.0.0.1:{free_port()}/v1"
    done = subprocess.run(
        [sys.executable, "-m", "curate.cli", "run", "docmatix", "--input", str(multi_page_dir),
         "--output", str(tmp_path / "out"), "--set", f"llm_url={url}"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert f"FAILED: no OpenAI-compatible LLM server answers at {url}" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_task_failed_by_the_server_shows_the_cause_in_one_line(multi_page_dir, tmp_path):
    """The server answers its listing but every completion with HTTP 500: the driver says so in one line
    (on a Ray cluster the cause comes from the task's log: tests/test_cluster.py)."""
    with StubLLM(fail_first=10**6) as failing:
        with pytest.raises(StageFailed) as failed:
            run_recipe(
                recipe(), str(multi_page_dir), tmp_path / "out", ONE_TASK, options=stub_options(failing.url)
            )
    message = str(failed.value)
    assert "\n" not in message and message.startswith("stage 'qa'")
    assert f"ServerUnavailable: the LLM server at {failing.url} failed 1 times (HTTP 500" in message


def test_server_killed_midway_then_rerun_does_not_reask_finished_pages(multi_page_dir, tmp_path):
    out = tmp_path / "out"
    port = free_port()
    with StubLLM(die_after=2, port=port) as dying:
        with pytest.raises(StageFailed, match="stage 'qa'.*rerun the same command to resume"):
            run_recipe(recipe(), str(multi_page_dir), out, ONE_TASK, options=stub_options(dying.url))
    first = list(dying.pages)
    assert len(first) == 2
    assert not (out / "stages" / "checks").exists()  # the run stopped at the failed stage

    with StubLLM(port=port) as stub:
        run_recipe(recipe(), str(multi_page_dir), out, ONE_TASK, options=stub_options(stub.url))
    assert len(stub.pages) == 2
    assert not set(stub.pages) & set(first)  # the two finished pages came from the request checkpoint
    summary = qa_summary(out)
    assert summary["requests"] == 2 and summary["requests_from_checkpoint"] == 2
    kept = records(out / "stages" / "checks" / "data")
    assert sorted(d.metadata["page"] for d in kept) == [1, 2, 3, 4]
    assert all(f.balanced for f in run_funnel(out, recipe().stage_names))


def test_malformed_output_is_recorded_with_its_reason(multi_page_dir, tmp_path):
    out = tmp_path / "out"
    with StubLLM(malformed_every=2) as stub:  # every second answer is prose, not JSON
        run_recipe(recipe(), str(multi_page_dir), out, ONE_TASK, options=stub_options(stub.url))
    generated = records(out / "stages" / "qa" / "data")
    rejects = [r for d in generated for r in d.metadata["qa_rejects"]]
    assert len(rejects) == 2
    assert all(r["reason"] == "malformed" and r["raw"].startswith("Sure!") for r in rejects)
    funnels = {f.stage: f for f in run_funnel(out, recipe().stage_names)}
    assert funnels["checks"].kept == 2 and funnels["checks"].dropped == {"no_kept_qa": 2}
    assert all(f.balanced for f in funnels.values())
    assert qa_summary(out)["rejected"]["malformed"] == 2


def test_sample_shards_carry_docmatix_turns_and_provenance(multi_page_dir, tmp_path):
    import webdataset as wds

    out = tmp_path / "out"
    with StubLLM() as stub:
        run_recipe(recipe(), str(multi_page_dir), out, ONE_TASK, options=stub_options(stub.url))
    samples = list(wds.WebDataset(shard_paths(out), shardshuffle=False))
    assert len(samples) == 4
    sample = json.loads(samples[0]["json"])
    assert sample["texts"] and set(sample["texts"][0]) == {"user", "assistant", "source"}
    assert sample["metadata"]["qa_provenance"][0]["model"] == "stub"
    assert sample["metadata"]["page"] in (1, 2, 3, 4) and sample["source"].endswith("multi_page.pdf")
    assert "png" in samples[0] and sample["scores"]["qa_kept"] >= 1
    assert len(sample["qa_evidence"]) == len(sample["texts"])
    coverage = [c for d in records(out / "stages" / "qa" / "data") for c in d.metadata["qa_coverage"].values()]
    sent = sum(s for s, _ in coverage) / sum(total for _, total in coverage)
    assert qa_summary(out)["page_text_sent"] == round(sent, 3) and 0.5 < sent <= 1  # what was not sent is said


def test_sample_input_builds_pdfs_with_text(tmp_path):
    import pymupdf

    paths = build(tmp_path)
    assert len(paths) == 3
    for path in paths:
        with pymupdf.open(path) as pdf:
            text = pdf[0].get_text()
        assert len(text) > 500 and "?" not in text.splitlines()[0]


@pytest.mark.llm
@pytest.mark.slow
def test_embedded_model_writes_grounded_qa_for_a_sample_page(tmp_path, monkeypatch):
    """The real thing, kept to one page: the embedded server starts, answers, and stops (~1-3 min here)."""
    from curate.synth.server import EmbeddedServer

    started = []
    original_start = EmbeddedServer.start
    monkeypatch.setattr(EmbeddedServer, "start", lambda self: started.append(self) or original_start(self))
    pdfs = tmp_path / "pdfs"
    build(pdfs)
    for extra in sorted(pdfs.glob("*.pdf"))[1:]:
        extra.unlink()
    out = tmp_path / "out"
    run_recipe(recipe(), str(pdfs), out, ExecutorConfig(workers=1))
    # the writer and the second opinion (the packaged 0.5B), both stopped at the end of the run
    assert [s.model_name.split("-instruct")[0] for s in started] == [
        "qwen2.5-coder-1.5b",
        "qwen2.5-coder-0.5b",
    ]
    assert all(s.process.poll() is not None for s in started)
    summary = qa_summary(out)
    assert summary["requests"] == 1 and summary["pairs_kept"] >= 1
    (doc,) = records(out / "stages" / "checks" / "data")
    assert doc.metadata["qa_provenance"][0]["model"].endswith(".gguf")
    assert all(p["grounding"] >= 0.6 for p in doc.metadata["qa_provenance"])
    done = subprocess.run([sys.executable, "-m", "curate.cli", "inspect", str(out), "-n", "1"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)  # fmt: skip
    assert "  Q: " in done.stdout and "  A: " in done.stdout


# ---- document samples (Docmatix's unit: a whole PDF of at most 4 pages) --------------------------------


def test_a_four_page_pdf_gives_one_sample_with_its_pages_in_order(four_page_pdf, tmp_path):
    import pyarrow.parquet as pq
    import webdataset as wds
    from datasets import load_dataset

    from curate.output.hub_parquet import parquet_files
    from curate.output.loader import load_hf_dataset, make_dataset

    out = tmp_path / "out"
    with StubLLM() as stub:
        run_recipe(recipe(), str(four_page_pdf), out, ONE_TASK, options=stub_options(stub.url, "document"))
    pages = {d.metadata["page"]: d for d in records(out / "stages" / "pages" / "data")}
    assert sorted(pages) == [1, 2, 3, 4]  # all from four.pdf: the 5-page PDF was skipped
    funnels = {f.stage: f for f in run_funnel(out, recipe().stage_names)}
    assert funnels["pages"].dropped == {"too_many_pages": 5}
    assert (funnels["documents"].records_in, funnels["documents"].kept, funnels["documents"].merged) == (
        4,
        1,
        3,
    )
    assert all(f.balanced for f in funnels.values())

    (sample,) = list(wds.WebDataset(shard_paths(out), shardshuffle=False))
    meta = json.loads(sample["json"])
    assert meta["kind"] == "document" and [p["page"] for p in meta["metadata"]["pages"]] == [1, 2, 3, 4]
    for n in range(4):  # image i is page i+1's render
        assert sample[f"{n}.png"] == pages[n + 1].media[0].media_bytes
    assert meta["texts"] and all(set(t) == {"user", "assistant", "source"} for t in meta["texts"])
    assert all(set(p["pages"]) <= {1, 2, 3, 4} and p["pages"] for p in meta["metadata"]["qa_provenance"])
    # aligned with the turns: the page line(s) each answer is read from, on the page(s) named
    assert len(meta["qa_evidence"]) == len(meta["texts"]) and "qa_evidence" not in meta["metadata"]
    for turn, evidence in zip(meta["texts"], meta["qa_evidence"], strict=True):
        assert evidence["pages"] and turn["assistant"] in " ".join(evidence["evidence"].split())
        assert all(evidence["evidence"] in pages[n].text for n in evidence["pages"])

    streamed = list(make_dataset(out))
    assert len(streamed) == 1 and streamed[0]["0.png"].size == streamed[0]["3.png"].size
    webdataset_rows = load_hf_dataset(out)
    assert len(webdataset_rows) == 1 and webdataset_rows[0]["3.png"].size[0] > 0

    (row,) = load_dataset("parquet", data_files=parquet_files(out), split="train")
    assert [im.size for im in row["images"]] == [streamed[0][f"{n}.png"].size for n in range(4)]
    stored = pq.read_table(parquet_files(out)[0]).column("images").to_pylist()[0]
    assert [image["bytes"] for image in stored] == [pages[n].media[0].media_bytes for n in range(1, 5)]
    assert row["texts"] == meta["texts"] and row["qa_evidence"] == meta["qa_evidence"]
    manifest = json.loads((out / "parquet" / "manifest.json").read_text())
    assert manifest["total_samples"] == 1 and manifest["configs"] == {"qa": "qa-*.parquet"}

    from curate.output.hub import push_plan

    plan = push_plan(out, "org/docs")  # both formats go up, each with its config in the card
    assert {f.path.split("/")[0] for f in plan.files} >= {"shards", "parquet"}
    card = next(f.content for f in plan.files if f.path == "README.md").decode()
    # documents have a varying number of pages, which datasets' WebDataset loader refuses: Parquet is the default
    assert "config_name: default\n  data_files:\n  - split: train\n    path: parquet/*.parquet" in card
    assert "config_name: webdataset\n  data_files:\n  - split: train\n    path: shards/*.tar" in card


def test_round_trip_disagreement_rejects_the_pair(multi_page_dir, tmp_path):
    out = tmp_path / "out"
    with StubLLM(roundtrip_answer="something else entirely") as stub:
        run_recipe(recipe(), str(multi_page_dir), out, ONE_TASK, options=stub_options(stub.url))
    summary = qa_summary(out)
    assert summary["pairs_kept"] == 0 and summary["rejected"]["roundtrip"] >= 4
    assert summary["roundtrip_requests"] >= 4  # one per question that passed the cheap checks


def test_second_opinion_must_agree_too(multi_page_dir, tmp_path):
    with StubLLM() as writer, StubLLM(roundtrip_answer="something else entirely") as other, StubLLM() as same:
        options = stub_options(writer.url)
        run_recipe(recipe(), str(multi_page_dir), tmp_path / "a", ONE_TASK, options=options)
        assert other.calls == 0 and same.calls == 0  # with llm_url there is no second opinion by default
        alone = qa_summary(tmp_path / "a")

        run_recipe(recipe(), str(multi_page_dir), tmp_path / "b", ONE_TASK,
                   options={**options, "second_opinion": other.url})  # fmt: skip
        disagreed = qa_summary(tmp_path / "b")
        assert other.calls >= alone["pairs_kept"] > 0
        assert disagreed["pairs_kept"] == 0 and disagreed["rejected"]["second_opinion"] == alone["pairs_kept"]

        run_recipe(recipe(), str(multi_page_dir), tmp_path / "c", ONE_TASK,
                   options={**options, "second_opinion": same.url})  # fmt: skip
        assert qa_summary(tmp_path / "c")["pairs_kept"] == alone["pairs_kept"]
        (doc, *_) = records(tmp_path / "c" / "stages" / "checks" / "data")
        assert all(p["second_opinion"] == p["roundtrip"] for p in doc.metadata["qa_provenance"])

        with pytest.raises(StageFailed, match="second_opinion"):  # a second server that is not there
            run_recipe(
                recipe(), str(multi_page_dir), tmp_path / "d", ONE_TASK,
                options={**options, "second_opinion": f"http://127.0.0.1:{free_port()}/v1"},
            )  # fmt: skip


def test_unknown_output_format_is_a_clear_error(tmp_path):
    from curate.pipelines.common import output_formats

    from curate.recipe import StageContext

    with pytest.raises(ValueError, match="formats.*tfrecord"):  # refused before any work
        recipe().resolve({"formats": "webdataset,tfrecord"})
    for name, wanted in (("docmatix", ["webdataset", "parquet"]), ("pdf-pages", ["webdataset"])):
        chosen = get_recipe(name)
        ctx = StageContext("shards", "", tmp_path, chosen.resolve({}), chosen.declared())
        assert output_formats(ctx) == wanted
