"""What the qa stage is given, in named groups: the servers it talks to (what `curate.synth.service` found or
started for the run), how pages become requests (`Generation`), the round trip that re-asks the
questions (`RoundTrip`), and how hard the servers are driven (`Requests`). The run options are read
into these by `curate.synth.stages`; tests and benchmarks build them directly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from curate.synth import prompts
from curate.synth.server import DEFAULT_N_CTX

from curate.recipe import Services
from curate.secrets import Secret, recorded_url

STATUS_SECONDS = 30.0  # with nothing back from the server for this long, say what we are waiting for


@dataclass(frozen=True)
class Endpoint:
    """One OpenAI-compatible server: its base URL (ending in /v1), the model name sent with requests,
    how it takes schema-constrained JSON (llama | openai | none; None: as the writer), and the models
    it reported at start (`/v1/models`), which the run's record names."""

    url: str
    model: str = ""
    response_format: str | None = None
    served: tuple[str, ...] = ()

    def recorded(self) -> dict[str, Any]:
        return {"url": recorded_url(self.url), "model": self.model or None, "served": list(self.served)}


@dataclass(frozen=True)
class LlmServers(Services):
    """The servers of a docmatix run: the writer of the pairs, and for the round trip another server
    (`roundtrip_llm_url`; None: the writer answers) and a second opinion that must agree too (None: off).
    `external`: the writer is the user's server at `llm_url`, not the embedded one started for the run.
    `api_key` (a Secret, never shown) is sent to the user's servers."""

    writer: Endpoint
    roundtrip: Endpoint | None = None
    second_opinion: Endpoint | None = None
    external: bool = False
    api_key: Secret | None = None

    def record(self, stage: str, options: dict[str, Any]) -> dict[str, Any]:
        """run.json's `llm` entry of the qa stage: which servers and models wrote and checked the pairs."""
        if stage != "qa":
            return {}
        writer = {**self.writer.recorded(), "embedded": not self.external}
        record: dict[str, Any] = {"writer": writer, "roundtrip": None, "second_opinion": None}
        if options.get("roundtrip"):
            record["roundtrip"] = (
                self.roundtrip.recorded()
                if self.roundtrip
                else {**self.writer.recorded(), "same_as_writer": True}
            )
            if self.second_opinion:
                record["second_opinion"] = self.second_opinion.recorded()
        return {"llm": record}


@dataclass(frozen=True)
class Generation:
    """How each page becomes requests for QA pairs.

    styles: prompt styles to use (see synth/prompts.py); styles_per_page: how many styles each chunk is
    asked with (1: rotate styles across pages); pairs_per_request: QA pairs asked per request;
    n_ctx: the model's context, to size the text chunks; max_tokens: completion budget per request;
    max_chunks_per_page: chunks of a long page that are sent: the page is cut into this many stretches
    and each sends its most informative chunk (`choose_chunks`); the characters sent and the page's
    are in `qa_coverage` and the stats `page_chars`/`page_chars_sent`; max_chunk_chars: cap on a
    chunk's size below what the context allows (prompt processing is most of the time on a CPU:
    ~2,500 characters, about 700 tokens, make one request of 30-60 s on 2 cores); 0 or None: no cap;
    min_text_chars: pages with less text are dropped (`no_text`); skip_page_kinds: tables of contents,
    indexes and reference lists are not sent (`page_kind`), counted as `pages_skipped_<kind>`;
    prompt: what each request asks for (`prompts.PROMPTS`): `pairs` (the model picks the facts and quotes
    its evidence after each pair), `evidence_first` (the same, the evidence quoted first), `lines` (the code
    picks up to `pairs_per_request` informative lines of the chunk, synth/lines.py, and the model writes one
    question per line; the line is the evidence; `styles` do not apply)."""

    styles: tuple[str, ...] = prompts.DEFAULT_STYLES
    styles_per_page: int = 1
    pairs_per_request: int = 3
    n_ctx: int = DEFAULT_N_CTX
    max_tokens: int = 384
    max_chunks_per_page: int = 1
    max_chunk_chars: int | None = 2500
    min_text_chars: int = 50
    temperature: float = 0.2
    skip_page_kinds: bool = True
    prompt: str = "pairs"


@dataclass(frozen=True)
class RoundTrip:
    """After generating, the model answers again, one request each, the questions that pass the cheap
    checks (`min_grounding`: share of an answer's content words on the page) and the evidence checks,
    from the same page text (same prompt prefix, so a prompt cache makes it cheap); the checks stage
    keeps a pair only when the answers agree (and the second opinion's too, when there is one)."""

    enabled: bool = False
    min_grounding: float = 0.8


@dataclass(frozen=True)
class Requests:
    """How hard the servers are driven.

    concurrency: requests in flight per task; total_concurrency: in flight for the whole run
    (`llm_concurrency`), divided among the tasks running at once (`QAGenerator.share_concurrency`);
    timeout: seconds one try may wait; retries: tries after the first on connection failures and
    429/5xx replies; deadline: seconds a request may take in all, tries included, then the page is an
    error (`llm_timeout`) and the run goes on; status_seconds: with no reply for this long, say so."""

    concurrency: int = 4
    total_concurrency: int | None = None
    timeout: float = 900
    retries: int = 4
    deadline: float = 120
    status_seconds: float = STATUS_SECONDS
