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
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from curate.errors import LLMResponseError
from curate.options import UserError
from curate.secrets import redact_text, redact_url


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

    def __init__(self, message: str):
        super().__init__("request_rejected", message)


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
    so whatever completed before a crash is replayed instead of re-asked."""

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path else None
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
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = open(self.path, "a")
            self._file.write(json.dumps({"key": key, "result": result}) + "\n")
            self._file.flush()

    def __len__(self) -> int:
        return len(self._results)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
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
    ):
        self.base_url = base_url.rstrip("/")
        self.shown_url = redact_url(self.base_url)  # for messages: no credentials
        self.model = model
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.cache = cache if cache is not None else RequestCache(None)
        self.session = requests.Session()
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=256)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.requests_sent = 0

    def check(self) -> list[str]:
        """The served model ids; raises ServerUnavailable with what to do if nothing answers."""
        url = f"{self.base_url}/models"
        try:
            response = self.session.get(url, timeout=10)
            if response.status_code in (401, 403):
                raise ServerRefused.of(self.base_url, response)
            response.raise_for_status()
            return [m.get("id", "") for m in response.json().get("data", [])]
        except (requests.RequestException, ValueError) as exc:
            raise ServerUnavailable(
                f"no OpenAI-compatible LLM server answers at {self.shown_url} "
                f"({type(exc).__name__}: {redact_text(str(exc))}). "
                "Start one (`curate serve-llm` on a GPU machine, or any server with /v1/chat/completions), "
                "or leave llm_url unset to use the embedded llama.cpp server."
            ) from exc

    def payload(self, messages: list[dict], **params: Any) -> dict:
        return {"model": self.model, "messages": messages, **params}

    def chat(self, messages: list[dict], **params: Any) -> ChatResult:
        payload = self.payload(messages, **params)
        key = RequestCache.key(payload)
        cached = self.cache.get(key)
        if cached is not None:
            return ChatResult(**cached, cached=True)
        body = self._post(payload)
        choices = body.get("choices") if isinstance(body, dict) else None
        choice = choices[0] if isinstance(choices, list) and choices else None
        if not isinstance(choice, dict) or not isinstance(choice.get("message") or {}, dict):
            raise LLMResponseError(
                "bad_response", f"reply without a usable `choices` entry: {str(body)[:300]}"
            )
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        result = ChatResult(
            text=(choice.get("message") or {}).get("content") or "",
            finish_reason=choice.get("finish_reason"),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        )
        self.cache.put(key, result.to_json())
        return result

    def _post(self, payload: dict) -> dict:
        url = f"{self.base_url}/chat/completions"
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(self.backoff * 2 ** (attempt - 1), 60))
            try:
                self.requests_sent += 1
                # connecting is quick or the server is gone; answering may take minutes on a CPU
                response = self.session.post(url, json=payload, timeout=(min(10, self.timeout), self.timeout))
            except (requests.ConnectionError, requests.Timeout) as exc:
                problem = f"{type(exc).__name__}: {redact_text(str(exc))}"
                continue
            if response.status_code == 429 or response.status_code >= 500:
                problem = f"HTTP {response.status_code}: {response.text[:300]}"
                continue
            if response.status_code in (401, 403):
                raise ServerRefused.of(self.base_url, response)
            if response.status_code >= 400:
                raise RequestRejected(
                    f"HTTP {response.status_code} from {redact_url(url)}: {redact_text(response.text[:500])}"
                )
            try:
                return response.json()
            except ValueError:
                problem = f"not JSON: {response.text[:300]!r}"
        raise ServerUnavailable(
            f"the LLM server at {self.shown_url} failed {self.retries + 1} times ({problem}); "
            "completed requests are saved: rerun the same command to resume"
        )
