"""A client for any OpenAI-compatible chat-completions server: timeouts, retries with backoff, a bounded
number of requests in flight, and a request checkpoint so a rerun never asks the same thing twice.

Why not datatrove's `InferenceRunner`: it is a terminal step that writes documents through its own
chunked checkpoint writer and re-raises a failed document out of the task, while our stages end with
a record writer whose count is the funnel's "kept", send one bad page to the error sink and go on,
and stop cleanly (rerun to resume) only when the server itself is gone. Its retry schedule is fixed
(6 attempts, 5 s x 2^n) and its endpoint check waits rather than failing before any work. What we keep
from it is the idea: a per-rank cache of finished requests keyed by payload, replayed on a rerun.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from loguru import logger

from curate.errors import LLMResponseError, UserError
from curate.net import Deadline, DeadlineAdapter
from curate.secrets import redact_text, redact_url, split_credentials

# the start check waits this long in all for a server that is up but busy (a CPU llama.cpp server
# answers /v1/models only between two completions, which take 10-60 s each on 2 cores)
BUSY_PATIENCE = 300.0
BUSY_STATUS = (502, 503, 504)  # a proxy in front of a busy or still-loading server
# the request that learns how a server takes a schema: a reply that would not be JSON unless constrained
PROBE_MESSAGES = [{"role": "user", "content": "Say hello in three words."}]
PROBE_SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
PROBE_TOKENS = 8


class ServerUnavailable(UserError, RuntimeError):
    """The server cannot be reached (or keeps failing): the run stops; rerunning resumes it."""


class ServerRefused(ServerUnavailable):
    """HTTP 401/403: the server refuses our credentials. Every request would fail the same way, so the run
    stops (nothing is cached as finished: a rerun with the right key asks again)."""

    @classmethod
    def of(cls, url: str, response: requests.Response) -> ServerRefused:
        return cls(
            f"the LLM server at {redact_url(url)} refused the request: HTTP {response.status_code} "
            f"({redact_text(response.text[:200])!r}); set LLM_API_KEY to the server's API key and rerun"
        )


class RequestRejected(LLMResponseError):
    """The server refused this one request (HTTP 4xx): the page it was about is an error, the run goes on."""

    default_kind = "request_rejected"

    def __init__(self, message: str):
        super().__init__(self.default_kind, message)


class BadResponse(RequestRejected):
    """The server answered this request with something that is not a chat completion (e.g. JSON without
    `choices`): the page is an error with the reply quoted, the run goes on."""

    default_kind = "bad_response"


class RequestTimedOut(RequestRejected):
    """No answer within the request's deadline (all tries included): the page is an error, the run goes on."""

    default_kind = "llm_timeout"


@dataclass
class ChatResult:
    text: str
    finish_reason: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False

    def to_json(self) -> dict:
        return {
            "text": self.text,
            "finish_reason": self.finish_reason,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }


class RequestCache:
    """Finished requests, one JSON line each (`key`, `result`), appended as they finish and flushed,
    so whatever completed before a crash is replayed instead of re-asked.

    On an object store (a URL path), where a file cannot be appended to, the lines go to a local file
    and the whole file is uploaded every `sync_seconds` and at the end: a crash loses at most that
    much of finished requests, which a rerun asks again."""

    def __init__(self, path: str | Path | None, sync_seconds: float = 30.0):
        from curate.location import is_url, location

        self.path = location(path) if path else None
        self.remote = bool(path) and is_url(path)
        self.sync_seconds, self._synced = sync_seconds, time.monotonic()
        self._lock = threading.Lock()
        self._results: dict[str, dict] = {}
        if self.path and self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a crash: that request is simply asked again
                self._results[entry["key"]] = entry["result"]
        self._file = None

    @staticmethod
    def key(payload: dict) -> str:
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def get(self, key: str) -> dict | None:
        return self._results.get(key)

    def put(self, key: str, result: dict) -> None:
        with self._lock:
            self._results[key] = result
            if self.path is None:
                return
            if self._file is None:
                self._file = self._open()
            self._file.write(json.dumps({"key": key, "result": result}) + "\n")
            self._file.flush()
            if self.remote and time.monotonic() - self._synced > self.sync_seconds:
                self._upload()

    def _open(self):
        if not self.remote:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return open(self.path, "a")
        import tempfile

        spool = tempfile.NamedTemporaryFile("w+", suffix=".jsonl", delete=False)  # noqa: SIM115
        if self.path.exists():
            spool.write(self.path.read_text())
        return spool

    def _upload(self) -> None:
        from curate.location import datafolder

        datafolder(str(self.path.parent)).put_file(self._file.name, self.path.name)
        self._synced = time.monotonic()

    def __len__(self) -> int:
        return len(self._results)

    def close(self) -> None:
        if self._file is not None:
            if self.remote:
                self._upload()
            self._file.close()
            if self.remote:
                os.unlink(self._file.name)
            self._file = None


class ChatClient:
    """Chat completions against `base_url` (ending in /v1). Thread-safe: one client serves a pool."""

    def __init__(
        self,
        base_url: str,
        model: str = "",
        timeout: float = 600,
        retries: int = 4,
        backoff: float = 2.0,
        api_key: str | None = None,
        cache: RequestCache | None = None,
        deadline: float = 120,
        cache_scope: str = "",
    ):
        # credentials in the URL (`http://user:password@host/v1`) are taken out of it: LLM_API_KEY's
        # bearer when set (requests let a URL's userinfo replace it by Basic auth), else the userinfo as
        # Basic auth; never in a message, a log or the cache
        self.base_url, userinfo = split_credentials(base_url.rstrip("/"))
        self.shown_url = redact_url(base_url.rstrip("/"))  # for messages: `***@` says some were given
        self.model = model
        self.timeout, self.retries, self.backoff, self.deadline = timeout, retries, backoff, deadline
        self.cache = cache if cache is not None else RequestCache(None)
        # clients sharing one cache: the same request to another server (a second opinion whose model
        # has the same name) is another entry
        self.cache_scope = cache_scope
        self.session = requests.Session()
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"
        elif userinfo:
            self.session.auth = userinfo
        adapter = DeadlineAdapter(pool_connections=4, pool_maxsize=256)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._numbers = itertools.count()  # keys of `_in_flight`
        self._in_flight: dict[int, float] = {}  # request number -> when it started
        self._lock = threading.Lock()

    def in_flight(self) -> tuple[int, float]:
        """(requests waiting for the server, seconds the oldest has waited)."""
        with self._lock:
            started = list(self._in_flight.values())
        return len(started), (time.monotonic() - min(started)) if started else 0.0

    def check(self, read_timeout: float = 10, patience: float = BUSY_PATIENCE) -> list[str]:
        """The served model ids; raises ServerUnavailable with what to do if no server answers.

        Nothing listening (connection refused, unknown host, no route, connect timeout) is "absent" and
        fails at once. A server that accepted the connection but does not answer within `read_timeout`,
        or answers 502/503/504, is busy (a single-threaded llama.cpp server answers the listing only
        between two completions): asked again with growing waits until `patience` seconds have passed
        in all, then the error says it is busy."""
        url = f"{self.base_url}/models"
        started, wait, tries, problem = time.monotonic(), read_timeout, 0, ""
        while True:
            tries += 1
            try:
                response = self.session.get(url, timeout=(10, wait))
                if response.status_code in (401, 403):
                    raise ServerRefused.of(self.shown_url, response)
                if response.status_code not in BUSY_STATUS:
                    response.raise_for_status()
                    return [m.get("id", "") for m in response.json().get("data", [])]
                problem = f"HTTP {response.status_code}"
            except requests.ReadTimeout:
                problem = f"no answer within {wait:.0f} s"
            except (requests.RequestException, ValueError) as exc:
                raise ServerUnavailable(
                    f"no OpenAI-compatible LLM server answers at {self.shown_url} "
                    f"({type(exc).__name__}: {redact_text(str(exc))}). "
                    "Start one (`curate serve-llm` on a GPU machine, or any server with /v1/chat/completions), "
                    "or leave llm_url unset to use the embedded llama.cpp server."
                ) from exc
            waited = time.monotonic() - started
            left = patience - waited
            if left <= 0:
                raise ServerUnavailable(
                    f"the LLM server at {self.shown_url} is up but busy: it accepted the connection and did not "
                    f"answer {url.removeprefix(self.base_url)} in {waited:.0f} s ({tries} tries; last: {problem}). "
                    "Wait for its current work to end (or give it more capacity), then rerun."
                )
            logger.warning(
                f"the LLM server at {self.shown_url} is busy ({problem}); asking again, for up to "
                f"{left:.0f} s more"
            )
            time.sleep(min(self.backoff, left))
            wait = max(1.0, min(wait * 2, patience - (time.monotonic() - started)))

    def structured_output(self, patience: float = BUSY_PATIENCE) -> str:
        """How this server takes schema-constrained JSON, learnt from the server itself: "openai"
        (`response_format` type `json_schema`: vLLM, OpenAI, llama.cpp's own llama-server), "llama"
        (type `json_object` with a `schema`: llama-cpp-python's server, which answers `json_schema` with
        HTTP 500) or "none". One tiny request per kind, in that order; a kind counts when the server
        accepts it and its reply to a prompt that asks for no JSON is JSON anyway (so a server that
        ignores the format is not taken for one that honours it). `patience`: seconds a busy server may
        take to answer one of them."""
        from curate.synth import prompts

        url = f"{self.base_url}/chat/completions"
        for kind in ("openai", "llama"):
            fmt = prompts.response_format(kind, schema=PROBE_SCHEMA, name="probe")
            payload = self.payload(
                PROBE_MESSAGES, max_tokens=PROBE_TOKENS, temperature=0.0, response_format=fmt
            )
            try:
                response = self.session.post(url, json=payload, timeout=(10, patience))
            except requests.RequestException as exc:
                raise ServerUnavailable(
                    f"the LLM server at {self.shown_url} did not answer a {PROBE_TOKENS}-token request "
                    f"within {patience:g} s ({type(exc).__name__}); rerun when it answers"
                ) from exc
            if response.status_code in (401, 403):
                raise ServerRefused.of(self.shown_url, response)
            try:
                text = self._result(response.json()).text if response.ok else ""
            except (ValueError, BadResponse):
                text = ""
            if text.lstrip().startswith("{"):
                return kind
            logger.info(
                f"{self.shown_url}: response_format {kind} not honoured "
                f"(HTTP {response.status_code}: {redact_text(response.text[:120])!r})"
            )
        return "none"

    def payload(self, messages: list[dict], **params: Any) -> dict:
        return {"model": self.model, "messages": messages, **params}

    def chat(self, messages: list[dict], **params: Any) -> ChatResult:
        payload = self.payload(messages, **params)
        key = RequestCache.key({**payload, "scope": self.cache_scope} if self.cache_scope else payload)
        cached = self.cache.get(key)
        if cached is not None:
            return ChatResult(**cached, cached=True)
        with self._lock:
            number = next(self._numbers)
            self._in_flight[number] = time.monotonic()
        try:
            with Deadline(self.deadline) as deadline:
                body = self._post(payload, deadline)
        finally:
            with self._lock:
                del self._in_flight[number]
        result = self._result(body)
        self.cache.put(key, result.to_json())
        return result

    def _result(self, body) -> ChatResult:
        """The completion in a reply; BadResponse (quoting the reply) when it is not one."""
        try:
            choice = body["choices"][0]
            usage = body.get("usage") or {}
            text = (choice.get("message") or {}).get("content") or ""
            if not isinstance(text, str):
                raise TypeError(f"message content is {type(text).__name__}, not a string")
            return ChatResult(
                text=text,
                finish_reason=choice.get("finish_reason"),
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens") or 0),
            )
        except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
            reply = json.dumps(body)[:300]
            raise BadResponse(
                f"not a chat completion from {self.shown_url} ({type(exc).__name__}: {exc}): {reply}"
            ) from None

    def _post(self, payload: dict, deadline: Deadline) -> dict:
        url = f"{self.base_url}/chat/completions"
        problem, timed_out = "", False
        for attempt in range(self.retries + 1):
            if attempt:
                pause = min(self.backoff * 2 ** (attempt - 1), 60)
                if pause >= deadline.remaining():
                    break
                time.sleep(pause)
            # connecting is quick or the server is gone; answering may take minutes on a CPU
            read_timeout = min(self.timeout, deadline.remaining())
            if read_timeout <= 0:
                break
            try:
                response = self.session.post(url, json=payload, timeout=(min(10, read_timeout), read_timeout))
                if deadline.expired:  # the socket was shut down under a slow reply
                    timed_out = True
                    break
            except requests.RequestException as exc:  # refused, reset, read timeout, cut body
                timed_out = isinstance(exc, requests.Timeout) or deadline.expired
                problem = "no reply" if deadline.expired else f"{type(exc).__name__}: {redact_text(str(exc))}"
                if deadline.expired or deadline.remaining() <= 0:
                    break
                continue
            if response.status_code == 429 or response.status_code >= 500:
                problem = f"HTTP {response.status_code}: {response.text[:300]}"
                continue
            if response.status_code in (401, 403):
                raise ServerRefused.of(self.shown_url, response)
            if response.status_code >= 400:
                raise RequestRejected(
                    f"HTTP {response.status_code} from {redact_url(url)}: {redact_text(response.text[:500])}"
                )
            try:
                return response.json()
            except ValueError:
                problem = f"not JSON: {response.text[:300]!r}"
        if timed_out:
            raise RequestTimedOut(
                f"no answer from the LLM server at {self.shown_url} within llm_deadline={self.deadline:g}s "
                f"({attempt + 1} tries; last problem: {problem or 'none'})"
            )
        raise ServerUnavailable(
            f"the LLM server at {self.shown_url} failed {attempt + 1} times ({problem}); "
            "completed requests are saved: rerun the same command to resume"
        )
