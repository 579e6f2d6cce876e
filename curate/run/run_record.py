"""The run's record, `OUTPUT/run.json`: what made the output, stage by stage.

A run writes the folder in several commands (one stage at a time on a cluster, a resume after a
crash, the qa stage against another server), so the record is appended to, never overwritten: each
stage run adds an entry with its resolved options (secrets masked), the time, the code version,
where the tasks ran and, for the qa stage, the LLM servers (URL without credentials) and the
models they report (`/v1/models`). The top level keeps the recipe, its active stages, the input and
the options of the latest command. `curate push` builds the dataset card from it (curate/output/hub.py).
"""

from __future__ import annotations

import datetime
import functools
import json
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from curate.location import location, write_text_atomic
from curate.options import public_options
from curate.recipe import Recipe
from curate.secrets import strip_credentials

RUN_FILE = "run.json"
REPO = Path(__file__).resolve().parents[2]


@functools.cache
def code_version() -> str:
    """`curate VERSION` and, in a git checkout, `git describe` of it (`-dirty` with local changes)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        text = f"curate {version('curate')}"
    except PackageNotFoundError:
        text = "curate (not installed)"
    try:
        described = subprocess.run(
            ["git", "-C", str(REPO), "describe", "--always", "--dirty", "--tags"],
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return text
    if described.returncode == 0 and described.stdout.strip():
        text += f" (git {described.stdout.strip()})"
    return text


def recorded_url(url: str | None) -> str | None:
    """`url` as the record keeps it: without `user:password@` (`curate.secrets.strip_credentials`) and, for
    a URL, without its query string (where API keys travel)."""
    if not url:
        return url
    clean = strip_credentials(url)
    try:
        parts = urlsplit(clean)
    except ValueError:
        return clean
    return urlunsplit(parts._replace(query="", fragment="")) if parts.scheme else clean


def llm_record(services: dict[str, Any], options: dict[str, Any]) -> dict[str, Any] | None:
    """Which servers and models wrote and checked the QA pairs, from what `curate.synth.service` found."""
    if not services.get("llm_url"):
        return None
    writer = {
        "url": recorded_url(services["llm_url"]),
        "model": services.get("llm_model") or None,
        "served": services.get("llm_served") or [],
        "embedded": not services.get("llm_external"),
    }
    record: dict[str, Any] = {"writer": writer, "roundtrip": None, "second_opinion": None}
    if options.get("roundtrip"):
        url = options.get("roundtrip_llm_url")
        record["roundtrip"] = (
            {
                "url": recorded_url(url),
                "model": options.get("roundtrip_llm_model")
                or (services.get("roundtrip_served") or [None])[0],
                "served": services.get("roundtrip_served") or [],
            }
            if url
            else {
                "url": writer["url"],
                "model": writer["model"],
                "served": writer["served"],
                "same_as_writer": True,
            }
        )
        if services.get("second_url"):
            record["second_opinion"] = {
                "url": recorded_url(services["second_url"]),
                "model": services.get("second_model") or None,
                "served": services.get("second_served") or [],
            }
    return record


def read_record(output: str | Path) -> dict[str, Any]:
    path = location(output) / RUN_FILE
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except ValueError:  # a record cut short by hand: start a new one rather than fail the run
        return {}


def append_stage_run(
    output: str | Path,
    recipe: Recipe,
    stage: str,
    *,
    stages: list[str],
    input: str,
    options: dict[str, Any],
    executor: dict[str, Any],
    services: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Add the entry of one stage run to OUTPUT/run.json (the folder is locked by the run); returns it.
    The record also keeps the recipe's defaults, its secret options and which options each stage reads,
    so the card (curate/output/card_provenance.py) is made from the record alone."""
    declared = recipe.declared()
    public = public_options(options, declared)
    entry: dict[str, Any] = {
        "stage": stage,
        "reads": sorted(o.name for o in recipe.stage(stage).options),
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "version": code_version(),
        "input": recorded_url(input),
        "executor": executor,
        "options": public,
    }
    llm = llm_record(services or {}, options) if stage == "qa" else None
    if llm:
        entry["llm"] = llm
    record = read_record(output)
    record.update(
        {
            "recipe": recipe.name,
            "stages": stages,
            "input": recorded_url(input),
            "options": public,
            "defaults": json.loads(json.dumps(public_options(recipe.resolve({}), declared), default=str)),
            "secrets": sorted(name for name, option in declared.items() if option.secret),
        }
    )
    record["runs"] = [*record.get("runs", []), entry]
    write_text_atomic(location(output) / RUN_FILE, json.dumps(record, indent=2, default=str))
    return entry


def last_runs(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The latest entry of each stage (a resume or a redo replaces what an earlier command recorded)."""
    latest: dict[str, dict[str, Any]] = {}
    for entry in record.get("runs", []):
        latest[entry["stage"]] = entry
    return latest
