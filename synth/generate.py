"""Docmatix-style QA generation: page records in, the same records out with candidate QA pairs.

Each page's text is cut into chunks that fit the model's context (a long page sends its most informative
chunk of each of `max_chunks_per_page` stretches, `choose_chunks`); each chunk is sent with one prompt
style (rotated across pages, or all of them) asking for a JSON list of {question, answer, evidence}, the
evidence being the line(s) of the page the answer is read from. Requests run
in a thread pool with a bounded number in flight, so the server always has work queued. What the
model answered is parsed leniently; whatever cannot be parsed is kept in `qa_rejects` with its reason.
The QA checks (synth/checks.py) run in the next stage, so they can be retuned without re-asking.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import re
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from curate.synth import prompts
from curate.synth.checks import PageIndex, check_evidence, check_pair, is_cover, page_kind, sample_pages
from curate.synth.client import (
    BUSY_PATIENCE,
    BadResponse,
    ChatClient,
    ChatResult,
    RequestCache,
    RequestRejected,
    RequestTimedOut,
)
from curate.synth.evidence import PageLines, squashed
from curate.synth.lines import choose_lines
from curate.synth.qa_config import Endpoint, Generation, LlmServers, Requests, RoundTrip
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.writers.disk_base import DiskWriter
from loguru import logger

from curate.errors import LLMResponseError
from curate.secrets import Secret, redact_url
from curate.steps import ErrorSinkMixin, describe_error

CHARS_PER_TOKEN = 3.0  # conservative for English and numbers with Qwen/Llama tokenizers
PROMPT_OVERHEAD_TOKENS = 250  # system prompt, instruction and chat template


def chunk_text(text: str, max_chars: int) -> list[str]:
    """Split at paragraph, then line, then word boundaries into pieces of at most `max_chars`."""
    text = text.strip()
    if len(text) <= max_chars:
        return [text] if text else []
    chunks, current = [], ""
    for piece in re.split(r"(\n\s*\n|\n|(?<=[.!?]) )", text):
        if len(current) + len(piece) <= max_chars:
            current += piece
            continue
        if current.strip():
            chunks.append(current.strip())
        while len(piece) > max_chars:  # one unbroken run longer than a chunk
            cut = piece.rfind(" ", 0, max_chars)
            cut = cut if cut > max_chars // 2 else max_chars
            chunks.append(piece[:cut].strip())
            piece = piece[cut:]
        current = piece
    if current.strip():
        chunks.append(current.strip())
    return chunks


def chunk_chars_for(n_ctx: int, max_tokens: int) -> int:
    return int(max(256, n_ctx - max_tokens - PROMPT_OVERHEAD_TOKENS) * CHARS_PER_TOKEN)


# Tokenizers give each digit and punctuation mark a token: a table of numbers is ~1 char/token, prose
# ~4. Measured with Qwen2.5's tokenizer on the first 2,500 characters of 13 born-digital pages, this
# estimate is within 0.65-1.18x of the true count; the margin covers the low end.
TOKEN_ESTIMATE_MARGIN = 1.5


def estimate_tokens(text: str) -> float:
    digits = sum(c.isdigit() for c in text)
    marks = sum(1 for c in text if c == "\n" or not (c.isalnum() or c.isspace()))
    letters = sum(c.isalpha() for c in text)
    return (digits + marks + letters / 4.0) * TOKEN_ESTIMATE_MARGIN


def fit_chunks(text: str, max_chars: int, max_tokens: int) -> list[str]:
    """Chunks of at most `max_chars` whose estimated token count fits `max_tokens`."""
    chunks = []
    for chunk in chunk_text(text, max_chars):
        if estimate_tokens(chunk) > max_tokens and len(chunk) > 200:
            chunks.extend(c for c in fit_chunks(chunk, len(chunk) // 2, max_tokens) if len(c) >= 20)
        else:
            chunks.append(chunk)
    return chunks


_QA_OBJECT = re.compile(
    r'\{\s*"question"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"answer"\s*:\s*"((?:[^"\\]|\\.)*)"'
    r'(?:\s*,\s*"evidence"\s*:\s*"((?:[^"\\]|\\.)*)")?\s*\}',
    re.S,
)
# any flat JSON object (strings may hold braces): the salvage of a reply whose keys come in another order
# (`evidence` first, or a chosen line's number first)
_FLAT_OBJECT = re.compile(r'\{(?:[^{}"]|"(?:[^"\\]|\\.)*")*\}', re.S)
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.S)


def repair_escapes(text: str, page_text: str = "") -> str:
    """The model's JSON with the backslashes of TeX commands kept literally.

    Small models copy `\\bias`, `\\tr` or `\\alpha` from a page into a JSON string without doubling the
    backslash: `\\b`, `\\t`, `\\r` then decode to backspace, tab and carriage return, and `\\a` or
    `\\usepackage` make the whole reply invalid. A backslash is kept as a character when it starts an
    invalid escape, when `\\b`, `\\f`, `\\r` or `\\t` is followed by a letter (a control character before a
    word is never meant in a question or an answer), and when `\\n` followed by letters spells a command
    written on the page (`\\newcommand`, `\\nabla`); otherwise `\\n` stays a line break (evidence lines).
    A `\\u` escape that is half of a UTF-16 pair with no other half is a command too (`\\uDefDefineShortVerb`
    decodes to U+DEFD, which no UTF-8 request can carry: the server refused the round trip with HTTP 500)."""

    def fix(match: re.Match) -> str:
        escape, after = match[1], match.string[match.end() : match.end() + 1]
        if len(escape) == 5:
            return match[0] if _paired(match) else "\\\\" + escape
        if escape in ('"', "\\", "/"):
            return match[0]
        if escape in "bfrt" and after.isalpha():
            return "\\\\" + escape
        if escape == "n" and after.isalpha():
            command = "\\n" + re.match(r"[A-Za-z]*", match.string[match.end() :])[0]
            return "\\\\n" if command in page_text else match[0]
        return match[0] if escape in "bfnrt" else "\\\\" + escape

    return _ESCAPE.sub(fix, text)


def _surrogate(escape: str) -> str | None:
    """'high' or 'low' for a `\\uXXXX` escape of a UTF-16 surrogate half, else None."""
    code = int(escape[1:], 16) if re.fullmatch(r"u[0-9a-fA-F]{4}", escape) else 0
    return "high" if 0xD800 <= code <= 0xDBFF else "low" if 0xDC00 <= code <= 0xDFFF else None


def _paired(match: re.Match) -> bool:
    """A `\\uXXXX` escape is a character, or a surrogate half next to its other half (an emoji's pair)."""
    half = _surrogate(match[1])
    text, start, end = match.string, match.start(), match.end()
    if half == "high":
        return _surrogate(text[end + 1 : end + 6]) == "low" and text[end : end + 2] == "\\u"
    if half == "low":
        return start >= 6 and text[start - 6 : start - 4] == "\\u" and _surrogate(text[start - 5 : start]) == "high"
    return True


def _pairs_from(value) -> list | None:
    if isinstance(value, dict):
        for key in ("pairs", "qa", "questions", "qa_pairs", "data"):
            if isinstance(value.get(key), list):
                return value[key]
        if "question" in value:
            return [value]
        return None
    return value if isinstance(value, list) else None


def _is_pair(item) -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get("question"), str | int | float)
        and isinstance(item.get("answer"), str | int | float)
    )


def _pair(item: dict) -> dict:
    """{question, answer[, evidence]} as strings; evidence given as a list of lines is joined."""
    pair = {"question": str(item["question"]), "answer": str(item["answer"])}
    line = item.get("line")  # lines first: the number of the chosen line the pair is about
    if isinstance(line, int | str) and str(line).strip().isdigit():
        pair["line"] = int(str(line).strip())
    evidence = item.get("evidence")
    if isinstance(evidence, list):
        evidence = "\n".join(str(e) for e in evidence if isinstance(e, str | int | float))
    if isinstance(evidence, str | int | float) and str(evidence).strip():
        pair["evidence"] = str(evidence)
    return pair


def parse_pairs(text: str, page_text: str = "") -> tuple[list[dict], str | None]:
    """(pairs, problem): pairs of strings from the model's text (`evidence` too where the model gave it);
    `problem` says what was wrong, if anything (then the pairs are what could be salvaged, possibly none).
    `page_text`: the text the model was sent, to tell TeX commands from escapes (`repair_escapes`)."""
    text = repair_escapes((text or "").strip(), page_text)
    if not text:
        return [], "malformed: empty response"
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    candidates = [fenced.group(1)] if fenced else []
    candidates.append(text)
    decoder = json.JSONDecoder()
    for candidate in candidates:
        for start in [m.start() for m in re.finditer(r"[\[{]", candidate)][:5]:
            try:
                value, _ = decoder.raw_decode(candidate[start:])
            except json.JSONDecodeError:
                break  # the JSON starting here is cut or broken: salvage below, not an inner piece
            items = _pairs_from(value)
            if items is None:
                continue
            pairs, bad = [], 0
            for item in items:
                if _is_pair(item):
                    pairs.append(_pair(item))
                else:
                    bad += 1
            problem = f"malformed: {bad} items without a question and an answer" if bad else None
            return pairs, problem
    # truncated JSON (output cut at max_tokens): keep the complete objects (raw newlines and other
    # control characters inside a string are accepted; an object that still does not decode is left out)
    salvaged = []
    for q, a, e in _QA_OBJECT.findall(text):
        try:
            item = {"question": json.loads(f'"{q}"', strict=False), "answer": json.loads(f'"{a}"', strict=False)}
            if e:
                item["evidence"] = json.loads(f'"{e}"', strict=False)
        except json.JSONDecodeError:
            continue
        salvaged.append(_pair(item))
    if not salvaged:  # objects whose keys come in another order
        for found in _FLAT_OBJECT.findall(text):
            try:
                item = json.loads(found, strict=False)
            except json.JSONDecodeError:
                continue
            if _is_pair(item):
                salvaged.append(_pair(item))
    return salvaged, f"malformed: not valid JSON ({text[:80]!r}...)"


def parse_answer(text: str, page_text: str = "") -> str | None:
    """The round-trip answer: `{"answer": ...}`, or the text itself when it is not JSON; TeX commands
    kept as written (`repair_escapes`: `\\tr` is not a tab, `\\uDef...` not half a surrogate pair)."""
    text = (text or "").strip()
    try:
        value = json.loads(repair_escapes(text, page_text))
    except json.JSONDecodeError:
        return text or None
    if isinstance(value, dict):
        value = value.get("answer")
    return str(value) if isinstance(value, str | int | float) else None


@dataclass
class Chunk:
    """The text of one request: part of a page, or several short pages of a document packed together."""

    index: int
    text: str
    pages: list[int]
    # lines first: the chunk's chosen lines, as on the page (the evidence of the pair about each), and the
    # answer the code took from each where the line says which (a table row's value), else None
    lines: list[str] = dataclasses.field(default_factory=list)
    answers: list[str | None] = dataclasses.field(default_factory=list)


def information(text: str) -> int:
    """What a chunk offers questions: its distinct numbers and content words of four or more letters
    (prose and tables score by what they state; a listing that repeats its labels, or OCR junk whose
    "words" have no vowel, scores low)."""
    found = {t for t in re.findall(r"[^\W_]+", text.lower()) if t.isdigit() or (
        len(t) >= 4 and t.isalpha() and re.search(r"[aeiouy]", t))}  # fmt: skip
    return len(found)


def choose_chunks(chunks: list[str], budget: int) -> list[int]:
    """Which of a page's chunks are sent when there are more than `budget`: the page is cut into `budget`
    equal stretches and each sends its most informative chunk (`information`), so the requests spread
    over the whole page (not its first column only) and each picks the part worth asking about."""
    if len(chunks) <= budget:
        return list(range(len(chunks)))
    chosen = []
    for part in range(budget):
        stretch = range(part * len(chunks) // budget, (part + 1) * len(chunks) // budget)
        chosen.append(max(stretch, key=lambda i: (information(chunks[i]), -i)))
    return chosen


def document_chunks(
    pages: list[tuple[int, str]], max_chars: int, max_tokens: int, max_chunks_per_page: int, label: bool,
    coverage: dict[int, tuple[int, int]] | None = None,
) -> list[Chunk]:  # fmt: skip
    """Each page cut into chunks (at most `max_chunks_per_page` sent, `choose_chunks`); consecutive short
    pages packed into one chunk while it fits, so questions can span pages. `label` marks each page
    ("[Page 2]"). `coverage`, when given, receives page -> (characters sent, characters of the page)."""
    pieces = []
    for number, text in pages:
        chunks = fit_chunks(text, max_chars, max_tokens)
        chosen = [chunks[i] for i in choose_chunks(chunks, max_chunks_per_page)]
        if coverage is not None:
            coverage[number] = (sum(len(c) for c in chosen), sum(len(c) for c in chunks))
        for chunk in chosen:
            pieces.append((number, f"[Page {number}]\n{chunk}" if label else chunk))
    chunks: list[Chunk] = []
    for number, text in pieces:
        last = chunks[-1] if chunks else None
        joined = f"{last.text}\n\n{text}" if last else text
        if last and len(joined) <= max_chars and estimate_tokens(joined) <= max_tokens:
            last.text = joined
            if number not in last.pages:
                last.pages.append(number)
        else:
            chunks.append(Chunk(len(chunks), text, [number]))
    return chunks


def line_evidence(pair: dict, lines: list[str], answers: list[str | None] | None = None) -> dict:
    """Lines first: the pair's evidence is the chosen line it names (set by the code, not written by the
    model), and its answer the code's where the line has one (`answers`); a pair naming no chosen line gets
    the first chosen line holding its answer, else none (the checks then locate its lines on the page)."""
    number = pair.get("line")
    pair = {k: v for k, v in pair.items() if k not in ("line", "evidence")}
    if isinstance(number, int) and 1 <= number <= len(lines) and answers and answers[number - 1]:
        pair["answer"] = answers[number - 1]
    if not (isinstance(number, int) and 1 <= number <= len(lines)):
        answer = squashed(pair["answer"])[0]
        holding = [n for n, line in enumerate(lines, 1) if answer and answer in squashed(line)[0]]
        number = holding[0] if holding else None
    if number is not None:
        pair["evidence"] = lines[number - 1]
    return pair


def styles_for(doc_id: str, styles: tuple[str, ...], per_page: int) -> list[str]:
    """`per_page` styles for a page, rotated by a stable hash of its id so a run mixes all styles."""
    start = int(hashlib.sha1(doc_id.encode()).hexdigest(), 16) % len(styles)
    return [styles[(start + i) % len(styles)] for i in range(min(per_page, len(styles)))]


def _shown(endpoint: Endpoint | None) -> tuple[str | None, str | None]:
    """(URL with credentials masked, model) of a server, for messages and the stored metadata."""
    return (redact_url(endpoint.url), endpoint.model) if endpoint else (None, None)


class QAGenerator(ErrorSinkMixin, PipelineStep):
    """Asks the LLM for QA pairs about each page's text; writes `qa_candidates`, `qa_rejects`, `qa_generation`.

    Requests run in a pool, several pages at once; every record is counted as RecordStep's are:
    `total` = `forwarded` + `dropped` (no text to ask about) + `errored` (unusable reply: the error sink).

    Args (the groups of `curate.synth.qa_config`):
        servers: the writer, and the round trip's other server and second opinion when there are
            (`LlmServers`, what `curate.synth.service` found or started for the run)
        generation: how pages become requests (`Generation`)
        roundtrip: the round trip that answers the questions again (`RoundTrip`)
        requests: requests in flight, timeouts, retries and deadline (`Requests`)
        cache_dir: where finished requests are kept so a rerun does not ask them again
    """

    name = "💬 QA generation"
    type = "🧩 - STEP"

    def __init__(
        self,
        servers: LlmServers,
        generation: Generation | None = None,
        roundtrip: RoundTrip | None = None,
        requests: Requests | None = None,
        cache_dir: str | None = None,
        error_writer: DiskWriter | None = None,
    ):
        super().__init__()
        self.error_writer = error_writer
        generation, roundtrip, requests = generation or Generation(), roundtrip or RoundTrip(), requests or Requests()
        self.skip_page_kinds, self.min_grounding = generation.skip_page_kinds, roundtrip.min_grounding
        self.roundtrip = roundtrip.enabled
        if not self.roundtrip:  # no one to ask again
            servers = dataclasses.replace(servers, roundtrip=None, second_opinion=None)
        # the real URLs and key travel to the workers as a Secret (never in executor.json or a log);
        # `llm_url`, `roundtrip_url` and `second_url` are for messages (credentials masked)
        self.server = Secret(servers)
        self.llm_url, self.model = redact_url(servers.writer.url), servers.writer.model
        self.roundtrip_url, self.roundtrip_model = _shown(servers.roundtrip)
        self.second_url, self.second_model = _shown(servers.second_opinion)
        self.styles, self.styles_per_page = tuple(generation.styles), generation.styles_per_page
        self.pairs_per_request = generation.pairs_per_request
        if generation.prompt not in prompts.PROMPTS:
            raise ValueError(f"unknown qa_prompt {generation.prompt!r}: {' | '.join(prompts.PROMPTS)}")
        self.prompt = generation.prompt
        self.max_tokens, self.max_chunks_per_page = generation.max_tokens, generation.max_chunks_per_page
        n_ctx = generation.n_ctx
        self.chunk_tokens = max(128, n_ctx - self.max_tokens - PROMPT_OVERHEAD_TOKENS)
        self.chunk_chars = min(chunk_chars_for(n_ctx, self.max_tokens), generation.max_chunk_chars or 1 << 30)
        self.min_text_chars, self.temperature = generation.min_text_chars, generation.temperature
        self.concurrency, self.timeout, self.retries = requests.concurrency, requests.timeout, requests.retries
        self.deadline, self.status_seconds = requests.deadline, requests.status_seconds
        self.total_concurrency = requests.total_concurrency
        writer_format = servers.writer.response_format or "none"
        self.writer_format = writer_format
        self.response_format = prompts.response_format(writer_format, self.pairs_per_request)
        # the kind each answering server takes, for the round trip's {"answer": ...} schema
        self.formats = {
            key: (other.response_format if other else None) or writer_format
            for key, other in (("roundtrip", servers.roundtrip), ("second_opinion", servers.second_opinion))
        }
        for kind in self.formats.values():
            prompts.response_format(kind)  # an unknown kind -> error now, not per page
        self.cache_dir = cache_dir
        for style in self.styles:
            prompts.messages("", style)  # unknown style -> error now, not per page

    def share_concurrency(self, running_tasks: int) -> None:
        """Called by the driver once it knows how many tasks run at once."""
        if self.total_concurrency:
            self.concurrency = max(1, self.total_concurrency // max(1, running_tasks))

    def pages_to_ask(self, doc: Document) -> tuple[list[tuple[int, str]], list[str]]:
        """(pages sent to the model, kinds of the pages left out: table_of_contents, index, references)."""
        asked, skipped = [], []
        for number, text in sample_pages(doc):
            if len(text.strip()) < self.min_text_chars:
                continue
            kind = page_kind(text) if self.skip_page_kinds else None
            if kind:
                skipped.append(kind)
            else:
                asked.append((number, text))
        return asked, skipped

    def chunks_for(
        self, doc: Document, pages: list[tuple[int, str]] | None = None, coverage: dict | None = None
    ) -> list[Chunk]:
        pages = self.pages_to_ask(doc)[0] if pages is None else pages
        label = bool(doc.metadata.get("pages"))  # a document: say which page each text comes from
        return document_chunks(
            pages, self.chunk_chars, self.chunk_tokens, self.max_chunks_per_page, label, coverage
        )

    def requests_for(self, doc: Document, pages: list[tuple[int, str]] | None = None) -> list[tuple]:
        """(chunk, style, messages) of each request about a record. How much of each page is sent goes to
        `qa_coverage` (page -> [characters sent, characters]): what was not asked about is said."""
        coverage: dict[int, tuple[int, int]] = {}
        chunks = self.chunks_for(doc, pages, coverage)
        doc.metadata["qa_coverage"] = {str(page): list(sent) for page, sent in coverage.items()}
        if self.prompt == "lines":  # one request per chunk, about the lines the code chose
            requests = []
            for chunk in chunks:
                chosen = choose_lines(chunk.text, self.pairs_per_request)
                chunk.lines, chunk.answers = [x.text for x in chosen], [x.answer for x in chosen]
                if chosen:  # a chunk without an informative line (OCR junk, headings) costs no request
                    shown = [x.shown for x in chosen]
                    requests.append((chunk, "lines", prompts.lines_messages(chunk.text, shown, chunk.answers)))
            return requests
        if self.prompt == "evidence_first":
            return [(chunk, "evidence_first", prompts.evidence_first_messages(chunk.text, self.pairs_per_request))
                    for chunk in chunks]  # fmt: skip
        return [
            (chunk, style, prompts.messages(chunk.text, style, self.pairs_per_request))
            for chunk in chunks
            for style in styles_for(f"{doc.id}#{chunk.index}", self.styles, self.styles_per_page)
        ]

    def request_params(self, schema: dict | None = None) -> dict:
        """`schema`: the reply's schema when it is not the pairs' (`qa_prompt`: evidence first, lines)."""
        params = {"max_tokens": self.max_tokens, "temperature": self.temperature}
        if self.response_format:
            params["response_format"] = (
                prompts.response_format(self.writer_format, schema=schema) if schema else self.response_format
            )
        return params

    def send(self, client: ChatClient, messages: list[dict], schema: dict | None = None) -> ChatResult:
        params = self.request_params(schema)
        try:
            return client.chat(messages, **params)
        except (BadResponse, RequestTimedOut):  # not about the request's format
            raise
        except RequestRejected as exc:
            message = str(exc).lower()
            about_format = (
                any(k in message for k in ("response_format", "schema", "json")) and "context" not in message
            )
            if "response_format" not in params or not about_format:
                raise
            # a server without schema-constrained output: ask in plain text from now on (parsed leniently)
            logger.warning(f"{self.llm_url} refused response_format; asking without it")
            self.response_format = None
            if not self.roundtrip_url:  # the round trip asks the same server
                self.formats["roundtrip"] = "none"
            return client.chat(messages, **self.request_params(schema))

    def ask(self, client: ChatClient, chunk: Chunk, style: str, messages: list[dict],
            roundtrip_client: ChatClient | None = None, second_client: ChatClient | None = None) -> dict:  # fmt: skip
        schema = (
            prompts.lines_schema(len(chunk.lines)) if style == "lines"
            else prompts.evidence_first_schema(self.pairs_per_request) if style == "evidence_first"
            else None
        )  # fmt: skip
        result = self.send(client, messages, schema)
        pairs, problem = parse_pairs(result.text, chunk.text)
        if style == "lines":
            pairs = [line_evidence(pair, chunk.lines, chunk.answers) for pair in pairs]
        if problem is None and result.finish_reason == "length":
            problem = "malformed: output cut at max_tokens"
        answer = {
            "chunk": chunk.index,
            "pages": chunk.pages,
            "style": style,
            "pairs": pairs,
            "problem": problem,
            "raw": result.text[:2000] if problem else None,
            "finish_reason": result.finish_reason,
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "cached": result.cached,
            "roundtrip": None,
        }
        if self.roundtrip and pairs:
            answer["roundtrip"] = self.ask_roundtrip(roundtrip_client or client, chunk, pairs)
            if second_client:
                answer["second_opinion"] = self.ask_roundtrip(second_client, chunk, pairs, "second_opinion")
        return answer

    def ask_roundtrip(
        self, client: ChatClient, chunk: Chunk, pairs: list[dict], key: str = "roundtrip"
    ) -> dict:
        """Answer again, one request each, the questions that pass the cheap checks and the evidence checks,
        from the same text;
        the answers go into the pairs (under `key`: `roundtrip`, or `second_opinion` from a second model).
        Sent right after the generation request for the same text, so a server's prompt cache still
        holds the page and only the question is new."""
        index, lines = PageIndex(chunk.text), [(0, PageLines(chunk.text))]
        cover = chunk.pages == [1] and is_cover(1, chunk.text)
        seen: set[str] = set()
        asked = [
            p for p in pairs
            if check_pair(p["question"], p["answer"], index, seen, self.min_grounding, cover=cover)[0] is None
            and check_evidence(p["question"], p["answer"], p.get("evidence"), lines, self.min_grounding)[0] is None
        ]  # fmt: skip
        params = {"max_tokens": 64, "temperature": 0.0}
        answer_format = prompts.response_format(
            self.formats[key], schema=prompts.ROUNDTRIP_SCHEMA, name="answer"
        )
        if answer_format:
            params["response_format"] = answer_format
        totals = {"questions": len(asked), "requests": 0, "seconds": 0.0, "cached": 0, "prompt_tokens": 0,
                  "completion_tokens": 0}  # fmt: skip
        for pair in asked:
            started = time.monotonic()
            result = client.chat(prompts.roundtrip_messages(chunk.text, pair["question"]), **params)
            pair[key] = parse_answer(result.text, chunk.text)
            if result.cached:
                totals["cached"] += 1
                continue
            totals["requests"] += 1
            totals["seconds"] += time.monotonic() - started
            totals["prompt_tokens"] += result.prompt_tokens
            totals["completion_tokens"] += result.completion_tokens
        return totals

    def finish_page(self, doc: Document, answers: list[dict]) -> Document:
        candidates, rejects = [], []
        for answer in answers:
            for pair in answer["pairs"]:
                candidates.append(
                    {**pair, "style": answer["style"], "chunk": answer["chunk"], "pages": answer["pages"]}
                )
            if answer["problem"]:
                rejects.append({"reason": "malformed", "detail": answer["problem"], "raw": answer["raw"],
                                "style": answer["style"], "chunk": answer["chunk"]})  # fmt: skip
        doc.metadata["qa_candidates"] = candidates
        doc.metadata["qa_rejects"] = rejects
        roundtrips = [
            a[key]
            for a in answers
            for key in ("roundtrip", "second_opinion")
            if (a.get(key) or {}).get("questions")
        ]
        doc.metadata["qa_generation"] = {
            "model": self.model,
            "requests": len(answers) + sum(r["requests"] + r["cached"] for r in roundtrips),
            "prompt_tokens": sum(a["prompt_tokens"] for a in answers),
            "completion_tokens": sum(a["completion_tokens"] for a in answers),
            "roundtrip": self.roundtrip,
            "roundtrip_model": (self.roundtrip_model or self.model) if self.roundtrip else None,
            "second_opinion_model": (self.second_model or self.second_url)
            if self.second_url
            else None,
            "roundtrip_seconds": round(sum(r["seconds"] for r in roundtrips), 3),
        }
        for answer in answers:
            self.stat_update("requests_cached" if answer["cached"] else "requests")
            if not answer["cached"]:
                self.stat_update("prompt_tokens", value=answer["prompt_tokens"])
                self.stat_update("completion_tokens", value=answer["completion_tokens"])
        for roundtrip in roundtrips:
            self.stat_update("roundtrip_requests", value=roundtrip["requests"])
            self.stat_update("roundtrip_cached", value=roundtrip["cached"])
            self.stat_update("roundtrip_ms", value=int(roundtrip["seconds"] * 1000))
            self.stat_update("roundtrip_prompt_tokens", value=roundtrip["prompt_tokens"])
            self.stat_update("roundtrip_completion_tokens", value=roundtrip["completion_tokens"])
        for sent, chars in (doc.metadata.get("qa_coverage") or {}).values():
            self.stat_update("page_chars", value=chars)
            self.stat_update("page_chars_sent", value=sent)
        self.stat_update("qa_pairs_generated", value=len(candidates))
        if rejects:
            self.stat_update("responses_malformed", value=len(rejects))
        return doc

    def wait_for(self, client: ChatClient, futures: list[Future]) -> None:
        """Wait for a page's requests; while nothing comes back, say so every `status_seconds`
        (a silent progress bar at 0% looks like a hang)."""
        pending = {f for f in futures if not f.done()}
        quiet_since = time.monotonic()
        while pending:
            done, pending = wait(pending, timeout=self.status_seconds, return_when=FIRST_COMPLETED)
            if done:
                quiet_since = time.monotonic()
                continue
            count, oldest = client.in_flight()
            logger.warning(
                f"waiting for the LLM server at {self.llm_url} ({count} requests in flight, oldest "
                f"{oldest:.0f} s, nothing back for {time.monotonic() - quiet_since:.0f} s; "
                f"each request gives up after llm_deadline={self.deadline:g} s)"
            )

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        cache_path = f"{str(self.cache_dir).rstrip('/')}/{rank:05d}.jsonl" if self.cache_dir else None
        servers: LlmServers = self.server.get()
        api_key = servers.api_key.get() if servers.api_key else None
        client = ChatClient(
            servers.writer.url, self.model, self.timeout, self.retries, api_key=api_key, deadline=self.deadline
        )
        # from the node this task runs on (the driver's check says nothing about a cluster node's view):
        # an unreachable server is a clear error naming its URL before any page is read
        # busy with another task's request is not gone: wait for it (at least as long as a request may take)
        client.check(read_timeout=min(30.0, self.deadline), patience=max(BUSY_PATIENCE, self.deadline))
        cache = client.cache = RequestCache(cache_path)
        roundtrip_client, second_client = (
            ChatClient(other.url, other.model, self.timeout, self.retries, api_key=api_key, cache=cache,
                       deadline=self.deadline, cache_scope=scope)
            if other
            else None
            for other, scope in ((servers.roundtrip, "roundtrip"), (servers.second_opinion, "second_opinion"))
        )  # fmt: skip
        in_flight: collections.deque[tuple[Document, list[Future]]] = collections.deque()
        window = max(2, 2 * self.concurrency)  # pages queued ahead, so the pool never runs dry

        def settle(doc: Document, futures: list[Future]):
            try:
                self.wait_for(client, futures)
                answers = [f.result() for f in futures]
                with self.track_time():
                    doc = self.finish_page(doc, answers)
            # refused or unusable reply: this page is an error, the run goes on
            except LLMResponseError as exc:
                self.send_to_errors(doc, describe_error(exc), exc.kind, rank)
                return None
            # a dead server (ServerUnavailable) or a bug goes up: the task stops with its traceback, and
            # a rerun resumes from the checkpoint
            self.stat_update("forwarded")
            return doc

        pool = ThreadPoolExecutor(self.concurrency)
        with self._error_context():
            try:
                for doc in data:
                    self.stat_update("total")
                    pages, skipped = self.pages_to_ask(doc)
                    for kind in skipped:
                        self.stat_update(f"pages_skipped_{kind}")
                    if not pages:
                        reason = skipped[0] if skipped else "no_text"
                        self.stat_update("dropped", f"dropped_{reason}")
                        continue
                    if skipped:
                        doc.metadata["qa_pages_skipped"] = skipped
                    futures = [
                        pool.submit(self.ask, client, *request, roundtrip_client, second_client)
                        for request in self.requests_for(doc, pages)
                    ]
                    in_flight.append((doc, futures))
                    while len(in_flight) > window or (in_flight and all(f.done() for f in in_flight[0][1])):
                        done = settle(*in_flight.popleft())
                        if done is not None:
                            yield done
                while in_flight:
                    done = settle(*in_flight.popleft())
                    if done is not None:
                        yield done
            finally:  # on ServerUnavailable: drop queued requests, do not wait for ones still in flight
                # (finished requests are in the checkpoint)
                pool.shutdown(wait=False, cancel_futures=True)
                cache.close()
