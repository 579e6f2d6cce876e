"""The LLM the qa stage talks to: which server (yours at `llm_url`, or an embedded llama.cpp one started
for the run and stopped after it, also on failure), and how hard to drive it (requests in flight,
deadlines, tasks), which depends on which server it is."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from curate.synth.client import ChatClient, ServerUnavailable
from curate.synth.models import ModelNotAvailable
from curate.synth.server import EmbeddedServer, ServerStartError

from curate.options import PATH, Option
from curate.recipe import StageContext, StageFailed
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
    Option("second_opinion", PATH, "auto",
           help="a second model that must give the same answer in the round trip: an OpenAI-compatible URL, "
           "or a packaged model name or GGUF path started embedded; none: off; auto: "
           f"{SECOND_OPINION_MODEL} when the embedded server writes the pairs, none with llm_url",
           source="measured on held-out public pages: precision of the 1.5B model's kept pairs 0.59 -> 0.75 "
           "and 0.41 -> 0.53 with the packaged 0.5B agreeing too"),
)  # fmt: skip


def server_settings(ctx: StageContext) -> dict[str, Any]:
    """QAGenerator's arguments that depend on the server `llm_service` found or started.

    llm_concurrency is the total in flight for the run, divided among the tasks running at once.
    llama.cpp answers one request at a time: one queued per task keeps it busy; vLLM batches many, so
    keep many in flight (64 in all by default)."""
    llm = ctx.services
    external = bool(llm.get("llm_external"))
    return {
        "llm_url": llm.get("llm_url") or ctx.option("llm_url"),
        "model": llm.get("llm_model") or ctx.option("llm_model") or "",
        "concurrency": 1,
        "total_concurrency": ctx.option("llm_concurrency") or (64 if external else None),
        "deadline": ctx.option("llm_deadline") or (120 if external else 600),
        # the user's choice, else what the server was found to take at start (`_probed`)
        "response_format": ctx.option("response_format") or llm.get("llm_response_format") or "llama",
        "roundtrip_response_format": ctx.option("response_format") or llm.get("roundtrip_response_format"),
        "second_response_format": ctx.option("response_format") or llm.get("second_response_format"),
        "api_key": ctx.option("llm_api_key") if external else None,
        "second_url": llm.get("second_url"),
        "second_model": llm.get("second_model"),
    }


def qa_tasks(ctx: StageContext) -> int | None:
    """The embedded llama.cpp server answers one request at a time and keeps only the last prompt in its
    cache: one task sends a page's round trip right after its generation request, so the page is read
    once; tasks interleaving their requests would evict each other's page. A server of your own
    (`llm_url`, e.g. vLLM batching many requests) gets one task per input file."""
    return None if ctx.services.get("llm_external") else 1  # None: tasks from the input plan


@contextlib.contextmanager
def llm_service(options: dict[str, Any], stages: list[str]) -> Iterator[dict[str, Any]]:
    """The LLM for the qa stage: the server at `llm_url` (checked before any work), or an embedded one.

    The embedded server listens on the driver's 127.0.0.1, which tasks on other nodes cannot reach: a
    run on a Ray cluster (`--ray-address`) without `llm_url` is refused before any work."""
    if "qa" not in stages:
        yield {}
        return
    with contextlib.ExitStack() as stack:
        service = stack.enter_context(_writer(options))
        second = second_opinion(options, bool(service.get("llm_external")))
        if second:
            service = {**service, **stack.enter_context(second_opinion_server(second, options))}
        yield service


def second_opinion(options: dict[str, Any], external: bool) -> str | None:
    """The second opinion asked for, or the default one (only beside the embedded writer: a small model
    would overrule a bigger server's good answers); None when off or the round trip is off."""
    chosen = str(options.get("second_opinion") or "auto")
    if not options.get("roundtrip") or chosen.lower() in OFF:
        return None
    if chosen == "auto":
        return None if external else SECOND_OPINION_MODEL
    return chosen


def _served(
    url: str, options: dict[str, Any], option: str = "", model: str | None = None
) -> tuple[list[str], str]:
    """(the models the server at `url` serves, how it takes schema-constrained JSON: `response_format`
    if set, else asked of the server once here); StageFailed naming `option` (and the URL) if none
    answers."""
    key = options.get("llm_api_key")
    client = ChatClient(url, api_key=key.get() if key else None)
    try:
        models = client.check()
        client.model = model or (models[0] if models else "")
        return models, options.get("response_format") or client.structured_output()
    except ServerUnavailable as exc:
        raise StageFailed(f"{option}: {exc}" if option else str(exc)) from exc


@contextlib.contextmanager
def second_opinion_server(second: str, options: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """`second_url`/`second_model` of the second opinion: the server at a URL (checked), or the model
    started embedded for the run."""
    if second.startswith(("http://", "https://")):
        served, kind = _served(second, options, "second_opinion")
        yield {
            "second_url": second,
            "second_model": served[0] if served else "",
            "second_served": served,  # what the run's record names (curate/run/run_record.py)
            "second_response_format": kind,
        }
        return
    if options.get("ray_address"):
        raise StageFailed(
            f"second_opinion={second}: an embedded server listens on the driver only; on a Ray cluster give "
            "a server every node can reach (second_opinion=http://HOST:PORT/v1) or second_opinion=none"
        )
    with _embedded(second, options, "second_opinion") as server:
        yield {
            "second_url": server.base_url,
            "second_model": server.model_name,
            "second_response_format": "llama",
        }


@contextlib.contextmanager
def _embedded(model: str | None, options: dict[str, Any], what: str) -> Iterator[EmbeddedServer]:
    try:
        server = EmbeddedServer(model=model, n_ctx=options.get("n_ctx"), threads=options.get("llm_threads"))
        server.start()
    # what a user can fix (model missing, server exits, port or binary problem, a bad n_ctx), in one line
    except (ServerStartError, ModelNotAvailable, OSError, ValueError) as exc:
        raise StageFailed(
            f"could not start the embedded LLM server ({what}): {redact_text(str(exc))}"
        ) from exc
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def _writer(options: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The server that writes the pairs: `llm_url` (checked), or the embedded one."""
    found: dict[str, Any] = {}
    if options.get("roundtrip_llm_url") and options.get("roundtrip"):
        served, found["roundtrip_response_format"] = _served(
            options["roundtrip_llm_url"], options, "roundtrip_llm_url", options.get("roundtrip_llm_model")
        )
        found["roundtrip_served"] = served  # what the run's record names (curate/run/run_record.py)
    url = options.get("llm_url")
    if not url and options.get("ray_address"):
        raise StageFailed(
            f"the qa stage on a Ray cluster ({options['ray_address']}) needs an LLM server every node "
            "can reach: pass --set llm_url=http://HOST:PORT/v1 (e.g. vLLM started with `curate serve-llm` "
            "on a GPU node). The embedded llama.cpp server only serves tasks on this machine."
        )
    if url:
        served, kind = _served(url, options, model=options.get("llm_model"))
        model = options.get("llm_model") or (served[0] if served else "")
        yield {
            **found,
            "llm_external": True,
            "llm_url": url,
            "llm_model": model,
            "llm_served": served,
            "llm_response_format": kind,
        }
        return
    with _embedded(options.get("embedded_model"), options, "embedded_model") as server:
        # started here with llama-cpp-python's server: its kind is known
        yield {
            **found,
            "llm_url": server.base_url,
            "llm_model": server.model_name,
            "llm_response_format": "llama",
        }
