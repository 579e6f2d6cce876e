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
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests


class ServerUnavailable(RuntimeError):
    """The server cannot be reached (or keeps failing): the run stops; rerunning resumes it."""


class RequestRejected(RuntimeError):
    """The server refused this one request (HTTP 4xx): the page it was about is an error, the run goes on."""


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
    ):
        self.base_url = base_url.rstrip("/")
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
            response.raise_for_status()
            return [m.get("id", "") for m in response.json().get("data", [])]
        except (requests.RequestException, ValueError) as exc:
            raise ServerUnavailable(
                f"no OpenAI-compatible LLM server answers at {self.base_url} ({type(exc).__name__}: {exc}). "
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
        choice = body["choices"][0]
        usage = body.get("usage") or {}
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
                problem = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code == 429 or response.status_code >= 500:
                problem = f"HTTP {response.status_code}: {response.text[:300]}"
                continue
            if response.status_code >= 400:
                raise RequestRejected(f"HTTP {response.status_code} from {url}: {response.text[:500]}")
            try:
                return response.json()
            except ValueError:
                problem = f"not JSON: {response.text[:300]!r}"
        raise ServerUnavailable(
            f"the LLM server at {self.base_url} failed {self.retries + 1} times ({problem}); "
            "completed requests are saved: rerun the same command to resume"
        )
