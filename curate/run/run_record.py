"""The run's record, `OUTPUT/run.json`: what made the output, stage by stage.

A run writes the folder in several commands (one stage at a time on a cluster, a resume after a
crash, the qa stage against another server), so the record is appended to, never overwritten: each
stage run adds an entry with its resolved options (secrets masked), the time, the code version,
where the tasks ran and what the recipe's services record (for the qa stage: the LLM servers, URLs
without credentials, and the models they report at `/v1/models`). The top level keeps the recipe, its active stages, the input and
the options of the latest command. `curate push` builds the dataset card from it (curate/output/hub.py).
"""

from __future__ import annotations

import datetime
import functools
import json
import subprocess
from pathlib import Path
from typing import Any

from curate.location import location, write_text_atomic
from curate.options import public_options
from curate.recipe import NO_SERVICES, Recipe, Services
from curate.secrets import recorded_url

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
    services: Services = NO_SERVICES,
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
    entry.update(services.record(stage, options))  # e.g. the qa stage's LLM servers
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
