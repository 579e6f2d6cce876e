"""QAGenerator as a pipeline step: every record it reads is forwarded, dropped or errored (the error sink
gets the errored ones with their reason), as the funnel expects of every step."""

from __future__ import annotations

import json

from curate.synth.generate import QAGenerator
from datatrove.data import Document
from stub_llm import StubLLM
from test_synth import page_text

from curate.io import ErrorWriter


def _records(shared_data) -> list[Document]:
    text = page_text(shared_data, "tracemonkey.pdf")
    return [
        Document(text=text, id="tracemonkey.pdf#1", metadata={"page": 1, "source": "tracemonkey.pdf"}),
        Document(text="  ", id="blank.pdf#1", metadata={"page": 1, "source": "blank.pdf"}),  # nothing to ask
        Document(text=text, id="again.pdf#1", metadata={"page": 1, "source": "again.pdf"}),
    ]


def _run(url: str, docs: list[Document], errors) -> tuple[QAGenerator, list[Document]]:
    step = QAGenerator(url, model="stub", response_format="none", retries=0, concurrency=1, roundtrip=False,
                       error_writer=ErrorWriter(str(errors)))  # fmt: skip
    return step, list(step.run(iter(docs), rank=0, world_size=1))


def test_every_record_is_forwarded_dropped_or_errored(shared_data, tmp_path):
    with StubLLM() as stub:
        step, out = _run(stub.url, _records(shared_data), tmp_path / "errors-ok")
    stats = {key: step.stats[key].total for key in ("total", "forwarded", "dropped", "errored")}
    assert stats == {"total": 3, "forwarded": 2, "dropped": 1, "errored": 0}
    assert [d.id for d in out] == ["tracemonkey.pdf#1", "again.pdf#1"]
    assert all(d.metadata["qa_candidates"] for d in out) and step.stats["dropped_no_text"].total == 1

    with StubLLM(status=400) as stub:  # every request refused: each page with text is an error record
        step, out = _run(stub.url, _records(shared_data), tmp_path / "errors")
    assert out == []
    assert step.stats["total"].total == 3 == step.stats["dropped"].total + step.stats["errored"].total
    rows = [json.loads(line) for path in (tmp_path / "errors").glob("*.jsonl") for line in path.open()]
    assert sorted(row["id"] for row in rows) == ["again.pdf#1", "tracemonkey.pdf#1"]
    assert all("400" in row["reason"] and row["stage"] == QAGenerator.name for row in rows)
