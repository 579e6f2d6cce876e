"""Candidate QA pairs for the labelled set (benchmarks/data/docmatix_labels.jsonl): the embedded model's pairs
about real pages of ../shared/data/pdf, with the text each request saw. Run once; the pairs are then labelled
by reading the pages, and bench_docmatix evaluates the checks on them without asking the model again.

    python -m benchmarks.docmatix_candidates OUT.jsonl [MAX_PAGES]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from curate.synth.client import ChatClient
from curate.synth.generate import QAGenerator

from benchmarks.bench_docmatix import DEFAULTS, generator_options
from curate.pdf.reader import PdfPageReader

REPO = Path(__file__).resolve().parent.parent
PDFS = REPO.parent / "shared" / "data" / "pdf"
SKIP = {"issue-33-lorem-ipsum.pdf", "invisible_text_layer.pdf", "right_to_left_01.pdf", "linn.txt"}


def pages(limit_per_pdf: int = 4):
    for folder in ("born_digital", "scanned"):
        for pdf in sorted((PDFS / folder).glob("*.pdf")):
            if pdf.name in SKIP:
                continue
            reader = PdfPageReader(str(pdf.parent), max_pages=limit_per_pdf, glob_pattern=pdf.name)
            for record in reader.run():
                if len(record.text.strip()) >= 200:
                    yield folder, record


def main(out: Path, max_pages: int) -> None:
    from curate.synth.server import EmbeddedServer

    with EmbeddedServer(n_ctx=DEFAULTS["n_ctx"]) as server, open(out, "a") as f:
        generator = QAGenerator(llm_url=server.base_url, model=server.model_name, response_format="llama",
                                **generator_options())  # fmt: skip
        client = ChatClient(server.base_url, server.model_name, timeout=900)
        for n, (folder, record) in enumerate(pages()):
            if n >= max_pages:
                break
            for chunk, style, messages in generator.requests_for(record):
                started = time.monotonic()
                answer = generator.ask(client, chunk, style, messages)
                line = {
                    "page_id": f"{folder}/{record.id}",
                    "text_source": record.metadata["text_source"],
                    "style": style,
                    "text": chunk.text,
                    "pairs": answer["pairs"],
                    "problem": answer["problem"],
                    "seconds": round(time.monotonic() - started, 1),
                }
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
                f.flush()
                print(line["page_id"], line["seconds"], len(answer["pairs"]), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 40)
