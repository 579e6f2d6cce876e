"""Journeys: the cluster runbook, command by command as the documentation shows it, for every recipe
(used by tests/test_journeys.py, and by tests/test_vllm.py with vLLM serving the LLM).

The commands come from the runbook blocks of the documentation (tests/runbook.py), so the docs and
this test cannot drift apart. They run against stand-ins on this machine: a two-node Ray cluster with
token authentication and a moto S3 server (curate/testing.py) holding input and output, the project's
llama.cpp server started with the runbook's own `curate serve-llm` command, and a stand-in for the
Hugging Face Hub (tests/hub_standin.py) that the runbook's `curate push` uploads to. Then:

- every stage of the recipe ran once, in order, and the runbook lists every stage the recipe has;
- a rerun of a completed stage writes nothing;
- run.json records every stage run (options, time, code version; for qa the server and its model);
- the card on the Hub names the models and gives a command that makes the data again: run here, on
  the local copy of the input in one command, it gives the same samples as the cluster did;
- `datasets` loads the pushed copy from the Hub, every sample once.

Small inputs keep this inside CI's time: two short PDFs, and one real WARC with its pages' images
added to it (tests/samples.py; this machine has no network to fetch them). Besides the placeholders (head
node, LLM host, Hub organisation) nothing of the runbook's commands is changed, except the LLM
server's port and model size by the tests that start it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from curate.pipelines import get_recipe
from hub_standin import StandInHub
from runbook import commands, runbook_blocks, stages_run
from samples import copy_pdfs, sample_digests, warc_with_images

from curate.cli import build_parser
from curate.output.loader import make_dataset
from curate.output.shards import shard_paths
from curate.run.runner import active_stage_names

REPO = Path(__file__).resolve().parent.parent
TOKEN = "hf_journeyStandInToken0123456789"
PDFS = ["born_digital/la-precinct-bulletin-2014-p1.pdf", "born_digital/scotus-transcript-p1.pdf"]
WARC = "warc__sample-0001.warc.gz"


@contextlib.contextmanager
def stand_ins(root: Path) -> Iterator[tuple[dict[str, str], object, StandInHub]]:
    """The S3 server (bucket `my-bucket`, as the runbook names it), the two-node Ray cluster and the Hub."""
    from curate.run.testing import ray_cluster, s3_server

    hub = StandInHub.start()
    try:
        with s3_server(("my-bucket",)) as env, ray_cluster(root, nodes=2, cpus_per_node=1) as running:
            yield env, running, hub
    finally:
        hub.stop()


def blocks() -> dict[str, tuple[Path, str]]:
    """The runbook blocks of the documentation; every journey's must be there."""
    found = runbook_blocks()
    missing = {
        "llm-server",
        "llm-server-vllm",
        "docmatix",
        "pdf-pages",
        "interleaved",
        "pairs",
    } - found.keys()
    assert not missing, f"the documentation has no runbook block for {sorted(missing)}"
    return found


def _env(extra: dict[str, str], home: Path) -> dict[str, str]:
    """What a user's shell has: the venv's `curate` on PATH (this checkout's code), the cluster's token,
    the bucket's endpoint and keys, the Hub's endpoint and token."""
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(REPO),
        "HF_HOME": str(home / "hf-home"),
        "HF_HUB_DISABLE_XET": "1",  # the stand-in serves back files uploaded over LFS
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        **extra,
    }


@contextlib.contextmanager
def served_llm(block: str, replace: dict[str, str], home: Path, timeout: float = 300) -> Iterator[dict]:
    """The LLM server started with a runbook block's own command; `replace` maps its port (and what CI
    changes) to this machine's. Yields its port and URL; stopped at the end."""
    from curate.run.testing import free_port

    port = free_port()
    (argv,) = commands(block, {key: value.format(port=port) for key, value in replace.items()})
    assert argv[:2] == ["curate", "serve-llm"], argv
    log = open(home / "server.log", "wb")  # noqa: SIM115 - closed when the server stops
    process = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, env=_env({}, home), start_new_session=True
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        from curate.synth.server import wait_until_ready

        wait_until_ready(url, process, timeout=timeout, log=home / "server.log")
        yield {"port": port, "url": url}
    finally:
        from curate.synth.server import stop_server

        stop_server(process)  # its process group: vLLM's engine processes too
        log.close()


def _run(
    argv: list[str], env: dict[str, str], what: str, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    started = time.monotonic()
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900, cwd=cwd)
    print(f"{what}: {time.monotonic() - started:5.1f}s  {shlex.join(argv)}")  # the journey's time, with -s
    assert result.returncode == 0, f"{shlex.join(argv)} failed:\n{result.stderr[-4000:]}"
    return result


def _listing(url: str) -> dict[str, str]:
    """Every object under `url` with its ETag and modification time (what a write would change)."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(url)
    fs.invalidate_cache()
    return {
        path: f"{info.get('ETag')} {info.get('LastModified')}"
        for path, info in fs.find(root, detail=True).items()
    }


def _run_options(argvs: list[list[str]]) -> tuple[str, str, dict[str, str]]:
    """Input, output and the options of the block's `curate run` commands (the same for all, by design)."""
    first = build_parser().parse_args(next(a for a in argvs if a[:2] == ["curate", "run"])[1:])
    return first.input, first.output, dict(first.options)


def _records(folder: str | Path) -> list[tuple[str, str, str]]:
    """(id, text, image digests) of every record of a stage's data folder, sorted."""
    import hashlib

    from curate.io import RecordReader

    rows = []
    for doc in RecordReader(str(folder)).run():
        images = [hashlib.sha256(m.media_bytes or b"").hexdigest() for m in doc.media]
        rows.append((doc.id, doc.text, " ".join(images)))
    return sorted(rows)


def _reproduce_block(card: str) -> str:
    found = re.search(r"## Make it again\n.*?```bash\n(.*?)```", card, re.DOTALL)
    assert found, "the card has no reproduce block"
    return found.group(1)


def _check_html_report(workdir: Path, output: str, stages: list[str], with_qa: bool) -> None:
    """`curate report s3://... --html` wrote its pages here (a browser opens local files): the funnel of
    every stage and, for docmatix, the review of each sample's pairs beside its page images."""
    folder = workdir / "curate-report" / output.split("://", 1)[1].strip("/").replace("/", "-")
    index = (folder / "index.html").read_text()
    assert all(f"<td class=l>{stage}</td>" in index for stage in stages), "a stage is missing from the report"
    if with_qa:
        review = (folder / "qa" / "page-1.html").read_text()
        assert "<img" in review and list((folder / "qa" / "img").glob("*.jpg")), "no page image in the review"


def run_journey(name, stand_in, shared_data, tmp_path, server: dict | None = None) -> None:
    """The recipe's runbook block, command by command, on the stand-ins (`stand_ins`), then the checks
    listed in this module's docstring."""
    s3, cluster, hub = stand_in
    block_file, block = blocks()[name]
    replace = {"HEAD_IP:6379": cluster.address, "my-org/": "journeys/"}
    if server:
        replace["LLM_HOST:8080"] = f"127.0.0.1:{server['port']}"
    argvs = commands(block, replace)
    source, output, given = _run_options(argvs)
    recipe = get_recipe(name)

    # the runbook runs every stage the recipe has with these options, in order, each once
    local_input = tmp_path / "input"
    if name in ("docmatix", "pdf-pages"):
        copy_pdfs(shared_data, PDFS, local_input)
    else:
        warc_with_images(shared_data, WARC, local_input)
    expected = active_stage_names(recipe, str(local_input), tmp_path / "probe", recipe.resolve(given))
    assert stages_run(argvs) == expected, f"{block_file}: the {name} runbook's stages are not the recipe's"

    from curate.run.testing import upload_folder

    upload_folder(local_input, source)
    env = _env({**s3, **cluster.env, "HF_ENDPOINT": hub.url, "HF_TOKEN": TOKEN}, tmp_path)
    workdir = tmp_path / "cwd"  # where a user runs the commands (the HTML report of an s3:// run lands here)
    workdir.mkdir()
    for argv in argvs:
        _run(argv, env, name, cwd=workdir)
    if any(a[:2] == ["curate", "report"] and "--html" in a for a in argvs):
        _check_html_report(workdir, output, expected, with_qa=name == "docmatix")

    # a rerun of a completed stage: exit 0, nothing written
    last_stage = next(a for a in reversed(argvs) if "--stage" in a)
    before = _listing(output)
    _run(last_stage, env, name)
    assert _listing(output) == before, "a rerun of a completed stage wrote to the output"

    # the run's record: every stage run, with its options, time and code version
    import fsspec

    fs = fsspec.filesystem("s3")
    record = json.loads(fs.cat(f"{output}/run.json"))
    assert [r["stage"] for r in record["runs"]] == expected
    for entry in record["runs"]:
        assert entry["version"].startswith("curate ") and entry["started"]
        assert entry["executor"] == {"kind": "ray", "ray_address": cluster.address, "tasks": None}
        assert entry["options"].get("llm_api_key") in (None, "***")  # a secret is never written

    # the card on the Hub: models named, a command that makes the data again
    repo = next(a[a.index("--repo") + 1] for a in argvs if a[:2] == ["curate", "push"])
    card = hub.file_bytes(repo, "README.md").decode()
    if server:
        qa = record["runs"][expected.index("qa")]["llm"]
        assert qa["writer"]["url"] == server["url"] and qa["writer"]["model"] == server["model"]
        assert qa["roundtrip"]["same_as_writer"] and qa["second_opinion"] is None
        assert f"QA pairs written by: `{qa['writer']['model']}` ({server['url']}" in card
        assert f"- round trip: `{qa['writer']['model']}` (the writer)" in card
    again = commands(_reproduce_block(card), {"INPUT": str(local_input), "OUTPUT": str(tmp_path / "local")})
    assert len(again) == 1, f"one command makes the data again, not {again}"
    assert "llm_api_key" not in card and "=none" not in card.split("## Make it again")[1]
    _run(again[0], env, f"{name} (local, one command)")
    mapped = (str(local_input), source.rstrip("/"))
    if not server:
        here = sample_digests(tmp_path / "local", sources=mapped)
        assert here == sample_digests(output) != {}, "the local run's samples are not the cluster's"
    else:  # the LLM samples (temperature 0.2): what it wrote differs, everything before it must not
        records = _records(tmp_path / "local" / "stages" / "documents" / "data")
        assert records == _records(f"{output}/stages/documents/data") != [], "the documents differ"
        # the local run may keep no pair of the few pages (the LLM samples): then it has no sample to compare
        local_shards = shard_paths(tmp_path / "local")
        here = sample_digests(tmp_path / "local", sources=mapped, without_llm=True) if local_shards else {}
        there = sample_digests(output, without_llm=True)
        assert there, "the cluster run kept no sample"
        common = here.keys() & there.keys()
        assert {k: here[k] for k in common} == {k: there[k] for k in common}
        runs = [output, *([tmp_path / "local"] if local_shards else [])]
        samples = [s["json"] for o in runs for s in make_dataset(o, decode_images=False)]
        assert {j["id"] for j in samples} <= {r[0] for r in records}  # samples of those documents only
        models = {j["metadata"]["qa_generation"]["model"] for j in samples}
        assert models == {server["model"]}

    # the pushed copy loads with `datasets` from the Hub
    manifest = json.loads(fs.cat(f"{output}/shards/manifest.json"))
    script = (  # the card's own load line; its default config is the shards or, for samples with a
        # varying number of images, the Parquet copy (curate/output/hub.py)
        "import json\nfrom datasets import load_dataset\n"
        f"ds = load_dataset({repo!r}, split='train')\n"
        "ids = ds['id'] if 'id' in ds.column_names else [j['id'] for j in ds['json']]\n"
        "print(json.dumps(sorted(ids)))"
    )
    assert f'load_dataset("{repo}", split="train"' in card
    loaded = _run([sys.executable, "-c", script], env, f"{name} (load from the Hub)")
    ids = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert len(ids) == manifest["total_samples"]
    assert ids == sorted(s["json"]["id"] for s in make_dataset(output, decode_images=False))
