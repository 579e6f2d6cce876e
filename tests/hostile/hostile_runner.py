"""One hostile case run as a pipeline step in this process (run as a child of the tests and of
`benchmarks/bench_hostile.py`, so its peak memory is its own):

    python tests/hostile/hostile_runner.py CASE WORKDIR

Prints one JSON line: the ids kept and the errors recorded (kind, reason), as the step's error sink
wrote them. The servers these cases need run in this process, on 127.0.0.1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from hostile_inputs import ImageSiteHandler, LocalServer, PoisonLLM, SilentServer

from curate.io import ErrorWriter


def _errors(folder: Path) -> list[dict]:
    rows = []
    for path in sorted(folder.glob("*.jsonl")):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [{"id": r["id"], "reason": r["reason"]} for r in rows if r.get("severity") != "warning"]


def _run(step, docs, errors: Path) -> list[str]:
    with step.error_writer:
        return [doc.id for doc in step.run(iter(docs))]


def fetch_case(path: str, workdir: Path) -> dict:
    """Two image-caption pairs: `path` on the hostile site, and a good image after it."""
    from curate.record import image_media, pair_record
    from curate.web.fetch import FetchImages

    errors = workdir / "errors"
    with LocalServer(ImageSiteHandler) as site:
        docs = [
            pair_record(
                name,
                "an image",
                image_media(None, media_id=f"{name}#img", url=f"{site.url}{url}"),
                source=name,
            )
            for name, url in (("hostile", path), ("good", "/ok.png"))
        ]
        # fetch_timeout (per read) far above the deadline: the deadline must be what stops the drip
        options = {"allow_private": True, "timeout": 10, "retries": 2, "deadline": 3, "max_bytes": 20 << 20}
        step = FetchImages(options, error_writer=ErrorWriter(str(errors)))
        kept = _run(step, docs, errors)
        requests = list(site.requests)
    return {"kept": kept, "errors": _errors(errors), "requests": requests}


def llm_case(kind: str, workdir: Path) -> dict:
    """Two pages through QA generation: against a server that never answers, or one whose reply to
    the first page is JSON without `choices`."""
    from curate.synth.generate import QAGenerator
    from datatrove.data import Document

    errors = workdir / "errors"
    text = "The sky over the harbour was blue all day, and the boats left at seven in the morning. " * 3
    docs = [Document(text="POISON " + text, id="page-1"), Document(text=text, id="page-2")]
    with SilentServer() if kind == "silent" else PoisonLLM() as server:
        step = QAGenerator(
            server.url,
            deadline=3,
            status_seconds=1,
            concurrency=2,
            retries=4,
            timeout=600,
            error_writer=ErrorWriter(str(errors)),
        )
        kept = _run(step, docs, errors)
    return {"kept": kept, "errors": _errors(errors)}


def fetch_redirect_case(workdir: Path) -> dict:
    """An allowed URL that redirects to one robots.txt disallows: the target must not be requested."""
    from curate.web.http_client import ImageFetcher

    with LocalServer(ImageSiteHandler) as site:
        fetcher = ImageFetcher(allow_private=True, retries=0)
        result = fetcher.fetch(f"{site.url}/redirect.png")
        fetcher.close()
        requests = list(site.requests)
    reached = "/private/x.png" in requests
    reason = f"{result.kind}: {result.reason}; the redirect target was {'REQUESTED' if reached else 'not requested'}"
    return {
        "kept": [],
        "errors": [{"id": "redirect", "reason": reason}] if not result.ok else [],
        "requests": requests,
    }


def fetch_rebinding_case(workdir: Path) -> dict:
    """A name that resolves to a public address when checked, then to 127.0.0.1 (DNS rebinding)."""
    import socket

    from curate.web.http_client import ImageFetcher

    real, answers = socket.getaddrinfo, []

    def rebinding(host, port, *args, **kwargs):
        if host != "images.rebind.test":
            return real(host, port, *args, **kwargs)
        answers.append("93.184.216.34" if not answers else "127.0.0.1")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[-1], port))]

    socket.getaddrinfo = rebinding
    with LocalServer(ImageSiteHandler) as site:
        port = site.url.rsplit(":", 1)[1]
        fetcher = ImageFetcher(retries=0, respect_robots=False, timeout=1, deadline=3)
        result = fetcher.fetch(f"http://images.rebind.test:{port}/ok.png")
        fetcher.close()
        requests = list(site.requests)
    reached = "a request REACHED the local server" if requests else "no request reached the local server"
    reason = f"{result.kind}: {result.reason[:80]}; resolved {len(answers)}x; {reached}"
    return {"kept": [], "errors": [{"id": "rebinding", "reason": reason}], "requests": requests}


CASES = {
    "fetch-drip": lambda w: fetch_case("/drip.png", w),
    "fetch-gzip-bomb": lambda w: fetch_case("/bomb.png", w),
    "fetch-robots-redirect": fetch_redirect_case,
    "fetch-rebinding": fetch_rebinding_case,
    "llm-silent": lambda w: llm_case("silent", w),
    "llm-no-choices": lambda w: llm_case("no-choices", w),
}


if __name__ == "__main__":
    from curate.run.console import quiet_logs

    quiet_logs()
    case, workdir = sys.argv[1], Path(sys.argv[2])
    workdir.mkdir(parents=True, exist_ok=True)
    print(json.dumps(CASES[case](workdir)))
