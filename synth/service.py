"""The LLM the qa stage talks to: which server (yours at `llm_url`, or an embedded llama.cpp one started
for the run and stopped after it, also on failure), and how hard to drive it (requests in flight,
deadlines, tasks), which depends on which server it is."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from curate.synth.client import ChatClient, ServerUnavailable
from curate.synth.models import ModelNotAvailable
from curate.synth.qa_config import Endpoint, LlmServers, Requests
from curate.synth.server import EmbeddedServer, ServerStartError

from curate.options import PATH, Option
from curate.recipe import NO_SERVICES, Services, StageContext, StageFailed
from curate.secrets import redact_text

# the embedded second opinion: a different (smaller, faster) packaged model than the default writer
SECOND_OPINION_MODEL = "qwen2.5-coder-0.5b"
OFF = ("", "none", "off", "false", "no")

# With a GPU server, give each page more text and more requests in flight:
# --set max_chunk_chars=0 --set max_chunks_per_page=4 --set n_ctx=8192 --set llm_concurrency=64
LLM_OPTIONS = (
    Option("llm_url", PATH, None, help="OpenAI-compatible server (ending in /v1); none: start the embedded one"),
    Option("llm_api_key", str, secret=True, env="LLM_API_KEY",
           help="API key sent on every request to llm_url (from the environment only)"),
    Option("llm_model", str, None, help="model name sent with requests (default: the server's first)"),
    Option("embedded_model", PATH, None, help="embedded server's model: a packaged name or a GGUF path"),
    Option("llm_threads", int, None, minimum=1, help="embedded server's threads (default: up to 4 cores)"),
    Option("llm_concurrency", int, None, minimum=1,
           help="requests in flight for the whole run, divided among the running tasks (default: 64 for a "
           "server at llm_url; the embedded llama.cpp server: 1 per task)"),
    Option("llm_deadline", float, None, minimum=1,
           help="seconds one request may take in all, retries included, then the page is an error (default: "
           "120 for a server at llm_url; 600 for the embedded CPU server, which answers one request at a time)",
           source="measured: 10-60 s a request on 2 idle cores, minutes when they are shared"),
    Option("response_format", str, None, choices=("llama", "openai", "none"),
           help="how to ask for schema-constrained JSON: openai (json_schema), llama (llama-cpp-python's "
           "json_object with a schema) or none (default: asked of the server at start)"),
    Option("roundtrip_llm_url", PATH, None, help="a second server for the round trip (default: the same)"),
    Option("roundtrip_llm_model", str, None, help="model name for the round-trip server"),
    Option("second_opinion", PATH, "auto",
           help="a second model that must give the same answer in the round trip: an OpenAI-compatible URL, "
           "or a packaged model name or GGUF path started embedded; none: off; auto: "
           f"{SECOND_OPINION_MODEL} when the embedded server writes the pairs, none with llm_url",
           source="measured on held-out public pages: precision of the 1.5B model's kept pairs 0.59 -> 0.75 "
           "and 0.41 -> 0.53 with the packaged 0.5B agreeing too"),
)  # fmt: skip


def request_policy(ctx: StageContext, timeout: float, retries: int) -> Requests:
    """How hard the qa stage drives the server `llm_service` found or started (`timeout` and `retries`:
    the stage's `llm_timeout` and `llm_retries`, read with its other arguments).

    llm_concurrency is the total in flight for the run, divided among the tasks running at once.
    llama.cpp answers one request at a time: one queued per task keeps it busy; vLLM batches many, so
    keep many in flight (64 in all by default)."""
    external = ctx.services.external
    return Requests(
        concurrency=1,
        total_concurrency=ctx.option("llm_concurrency") or (64 if external else None),
        timeout=timeout,
        retries=retries,
        deadline=ctx.option("llm_deadline") or (120 if external else 600),
    )


def qa_tasks(ctx: StageContext) -> int | None:
    """The embedded llama.cpp server answers one request at a time and keeps only the last prompt in its
    cache: one task sends a page's round trip right after its generation request, so the page is read
    once; tasks interleaving their requests would evict each other's page. A server of your own
    (`llm_url`, e.g. vLLM batching many requests) gets one task per input file."""
    return None if ctx.services.external else 1  # None: tasks from the input plan


@contextlib.contextmanager
def llm_service(options: dict[str, Any], stages: list[str]) -> Iterator[LlmServers | Services]:
    """The LLM for the qa stage: the server at `llm_url` (checked before any work), or an embedded one.

    The embedded server listens on the driver's 127.0.0.1, which tasks on other nodes cannot reach: a
    run on a Ray cluster (`--ray-address`) without `llm_url` is refused before any work."""
    if "qa" not in stages:
        yield NO_SERVICES
        return
    with contextlib.ExitStack() as stack:
        servers = stack.enter_context(_writer(options))
        second = second_opinion(options, servers.external)
        if second:
            servers = replace(
                servers, second_opinion=stack.enter_context(second_opinion_server(second, options))
            )
        yield servers


def second_opinion(options: dict[str, Any], external: bool) -> str | None:
    """The second opinion asked for, or the default one (only beside the embedded writer: a small model
    would overrule a bigger server's good answers); None when off or the round trip is off."""
    chosen = str(options.get("second_opinion") or "auto")
    if not options.get("roundtrip") or chosen.lower() in OFF:
        return None
    if chosen == "auto":
        return None if external else SECOND_OPINION_MODEL
    return chosen


def _served(url: str, options: dict[str, Any], option: str = "", model: str | None = None) -> Endpoint:
    """The server at `url`: the model asked for (default: the first it serves), what it serves, and how
    it takes schema-constrained JSON (`response_format` if set, else asked of the server once here);
    StageFailed naming `option` (and the URL) if none answers."""
    key = options.get("llm_api_key")
    client = ChatClient(url, api_key=key.get() if key else None)
    try:
        served = client.check()
        client.model = model or (served[0] if served else "")
        kind = options.get("response_format") or client.structured_output()
    except ServerUnavailable as exc:
        raise StageFailed(f"{option}: {exc}" if option else str(exc)) from exc
    return Endpoint(url, client.model, kind, tuple(served))


@contextlib.contextmanager
def second_opinion_server(second: str, options: dict[str, Any]) -> Iterator[Endpoint]:
    """The second opinion: the server at a URL (checked), or the model started embedded for the run."""
    if second.startswith(("http://", "https://")):
        yield _served(second, options, "second_opinion")
        return
    if options.get("ray_address"):
        raise StageFailed(
            f"second_opinion={second}: an embedded server listens on the driver only; on a Ray cluster give "
            "a server every node can reach (second_opinion=http://HOST:PORT/v1) or second_opinion=none"
        )
    with _embedded(second, options, "second_opinion") as server:
        yield server


@contextlib.contextmanager
def _embedded(model: str | None, options: dict[str, Any], what: str) -> Iterator[Endpoint]:
    try:
        server = EmbeddedServer(model=model, n_ctx=options.get("n_ctx"), threads=options.get("llm_threads"))
        server.start()
    # what a user can fix (model missing, server exits, port or binary problem, a bad n_ctx), in one line
    except (ServerStartError, ModelNotAvailable, OSError, ValueError) as exc:
        raise StageFailed(
            f"could not start the embedded LLM server ({what}): {redact_text(str(exc))}"
        ) from exc
    try:  # started here with llama-cpp-python's server: its kind is known
        yield Endpoint(server.base_url, server.model_name, "llama", (server.model_name,))
    finally:
        server.stop()


@contextlib.contextmanager
def _writer(options: dict[str, Any]) -> Iterator[LlmServers]:
    """The server that writes the pairs: `llm_url` (checked), or the embedded one; and the round trip's
    own server when `roundtrip_llm_url` is set."""
    roundtrip = None
    if options.get("roundtrip_llm_url") and options.get("roundtrip"):
        roundtrip = _served(
            options["roundtrip_llm_url"], options, "roundtrip_llm_url", options.get("roundtrip_llm_model")
        )
    url = options.get("llm_url")
    if not url and options.get("ray_address"):
        raise StageFailed(
            f"the qa stage on a Ray cluster ({options['ray_address']}) needs an LLM server every node "
            "can reach: pass --set llm_url=http://HOST:PORT/v1 (e.g. vLLM started with `curate serve-llm` "
            "on a GPU node). The embedded llama.cpp server only serves tasks on this machine."
        )
    if url:
        writer = _served(url, options, model=options.get("llm_model"))
        yield LlmServers(writer, roundtrip, external=True, api_key=options.get("llm_api_key"))
        return
    with _embedded(options.get("embedded_model"), options, "embedded_model") as writer:
        yield LlmServers(writer, roundtrip)
