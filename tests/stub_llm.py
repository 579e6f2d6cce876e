"""Stub OpenAI-compatible LLM servers for tests and benchmarks, on 127.0.0.1 in a thread.

`JsonServer` is the plumbing (every request answered with JSON by `respond`); `StubLLM` answers grounded
QA pairs taken from the page text in the prompt, each with its evidence line, or fails as told. `send_bytes`/`send_json` answer a
request for any test server (the Hub stand-in, the hostile image site).
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from curate.synth.server import free_port

Reply = tuple[int, dict | None]  # (HTTP status, JSON body or None to drop the connection)


def send_bytes(
    handler: BaseHTTPRequestHandler, status: int, data: bytes, content_type: str, headers: dict | None = None
) -> None:
    """Answer `data` with its type and length, and any extra headers."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(data)


def send_json(handler: BaseHTTPRequestHandler, status: int, body=None, headers: dict | None = None) -> None:
    """Answer `body` as JSON (an empty body for None)."""
    data = json.dumps(body).encode() if body is not None else b""
    send_bytes(handler, status, data, "application/json", headers)


class JsonServer:
    """An HTTP server whose `respond(method, headers, payload)` answers every request: (status, body)
    sent as JSON, or a body of None to drop the connection (as a killed server). `payload` is the POST
    body's JSON (None for a GET). Subclasses write `respond`; `with` starts and stops it."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()  # a port told: a test can restart a server where it was

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def respond(self, method: str, headers: Mapping[str, str], payload: dict | None) -> Reply:
        raise NotImplementedError

    def __enter__(self) -> JsonServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.answer(None)

            def do_POST(self):
                self.answer(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))

            def answer(self, payload: dict | None) -> None:
                status, body = server.respond(self.command, self.headers, payload)
                if body is None:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                else:
                    send_json(self, status, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __exit__(self, *exc) -> None:
        self.stop()


MODELS = {"object": "list", "data": [{"id": "stub"}]}  # the model listing a server check reads


def completion(content: str, usage: dict | None = None) -> dict:
    """A chat completion answering `content`."""
    return {"choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": usage or {"prompt_tokens": 5, "completion_tokens": 5}}  # fmt: skip


class StubLLM(JsonServer):
    """A minimal OpenAI-compatible server for failure tests: answers grounded pairs taken from the page text
    in the prompt, or fails as told (HTTP errors, malformed output, dying after some requests)."""

    def __init__(self, fail_first: int = 0, status: int = 200, malformed_every: int = 0, die_after: int = 0,
                 port: int | None = None, roundtrip_answer: str | None = None):  # fmt: skip
        super().__init__(port)
        self.roundtrip_answer = roundtrip_answer
        self.fail_first, self.status = fail_first, status
        self.malformed_every, self.die_after = malformed_every, die_after
        self.calls = 0
        self.pages: list[str] = []  # page texts of the requests answered

    def respond(self, method: str, headers: Mapping[str, str], payload: dict | None) -> Reply:
        return (200, MODELS) if method == "GET" else self.answer(payload)

    def answer(self, payload: dict) -> Reply:
        self.calls += 1
        if self.fail_first > 0:
            self.fail_first -= 1
            return 500, {"error": "overloaded"}
        if self.status != 200:
            return self.status, {"error": "bad request"}
        if self.die_after and len(self.pages) >= self.die_after:
            self.server.socket.close()  # as a killed process: new connections are refused at once
            threading.Thread(target=self.server.shutdown).start()
            return 0, None  # and this request's connection is dropped
        prompt = payload["messages"][-1]["content"]
        text = prompt.split("<<<\n", 1)[-1].split("\n>>>", 1)[0]
        text = re.sub(r"^\[Page \d+\]\n", "", text, flags=re.M)  # the labels of a document's pages
        first = next(line for line in text.splitlines() if len(line.split()) >= 2)
        number = re.search(r"\d+", text)
        known = {"What are the first words of the page?": " ".join(first.split()[:3]),
                 "Which number appears first?": number.group() if number else ""}  # fmt: skip
        if "Answer the question from the page" in prompt:  # the round trip: the same answer, or one told
            question = re.search(r"^Question: (.*)$", prompt, re.M).group(1)
            return 200, completion(json.dumps({"answer": self.roundtrip_answer or known.get(question, "")}))
        self.pages.append(text)
        if self.malformed_every and len(self.pages) % self.malformed_every == 0:
            content = "Sure! Q1: What is this page? A1: A page."
        else:
            # with each pair its evidence, as the prompt asks: the page line the answer is read from
            pairs = [{"question": q, "answer": a, "evidence": next(line for line in text.splitlines() if a in " ".join(line.split()))}
                     for q, a in known.items() if a]  # fmt: skip
            content = json.dumps({"pairs": pairs})
        usage = {"prompt_tokens": len(text) // 4, "completion_tokens": len(content) // 4}
        return 200, completion(content, usage)
