"""The dataset card's account of how the data was made, from the run's record (curate/run/run_record.py):
which models wrote and checked the QA pairs, the options of each stage, and commands that make it
again. The commands parse with `curate run` as they stand: lists as `a,b`, no secrets, no unset values.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from curate.run.run_record import last_runs

PLACEHOLDERS = ("INPUT", "OUTPUT")


def _defaults(record: dict[str, Any]) -> dict[str, Any]:
    """The recipe's options at their defaults, as run.json writes values (secrets masked)."""
    return record.get("defaults") or {}


def _readers(record: dict[str, Any]) -> dict[str, set[str]]:
    """Option name -> the stages that read it, as each stage's run recorded (`reads`)."""
    readers: dict[str, set[str]] = {}
    for entry in record.get("runs", []):
        for name in entry.get("reads", []):
            readers.setdefault(name, set()).add(entry["stage"])
    return readers


def _secret_names(record: dict[str, Any]) -> set[str]:
    return set(record.get("secrets") or [])


def _set_value(value: Any) -> str:
    """A value as `--set KEY=VALUE` takes it (curate/options.py parses it back to the same value)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        items = [str(v) for v in value]
        return ",".join(items) if all(items) and not any("," in v for v in items) else json.dumps(items)
    return str(value)


def _changed(options: dict[str, Any], defaults: dict[str, Any], secrets: set[str]) -> dict[str, Any]:
    """Options whose value is not the recipe's default (secrets and masked values never)."""
    return {
        name: value
        for name, value in options.items()
        if name not in secrets and value != "***" and name in defaults and value != defaults[name]
    }


def reproduce_commands(record: dict[str, Any]) -> list[str]:
    """`curate run` commands that make the output again (INPUT and OUTPUT to fill in): one command when
    every stage ran with the same options (an option counts only for the stages that read it), else one
    per stage."""
    latest = last_runs(record)
    entries = [latest[s] for s in record.get("stages", []) if s in latest]
    base = ["curate", "run", record.get("recipe", "RECIPE"), "--input", "INPUT", "--output", "OUTPUT"]
    if not entries:
        return [shlex.join(base)]
    defaults, readers, secrets = _defaults(record), _readers(record), _secret_names(record)
    merged: dict[str, Any] = {}
    for option in sorted({k for e in entries for k in e.get("options", {})}):
        relevant = [e for e in entries if e["stage"] in readers.get(option, ())] or entries
        values = {json.dumps(e.get("options", {}).get(option), sort_keys=True) for e in relevant}
        if len(values) > 1:
            merged = {}
            break
        merged[option] = json.loads(values.pop())
    else:
        changed = _changed(merged, defaults, secrets)
        return [
            shlex.join(base + [arg for k, v in changed.items() for arg in ("--set", f"{k}={_set_value(v)}")])
        ]
    commands = []
    for entry in entries:
        changed = _changed(entry.get("options", {}), defaults, secrets)
        sets = [arg for k, v in changed.items() for arg in ("--set", f"{k}={_set_value(v)}")]
        commands.append(shlex.join([*base, "--stage", entry["stage"], *sets]))
    return commands


def _model_line(role: str, part: dict[str, Any] | None) -> str:
    if not part:
        return f"- {role}: none"
    where = "an embedded llama.cpp server started for the run" if part.get("embedded") else part.get("url")
    served = ", ".join(f"`{m}`" for m in part.get("served") or [])
    return f"- {role}: `{part.get('model') or 'unknown'}` ({where}" + (
        f"; the server reported {served})" if served else ")"
    )


def models_section(record: dict[str, Any]) -> str:
    """Which models wrote and which checked the QA pairs, as the qa stage recorded them."""
    qa = last_runs(record).get("qa")
    if qa is None:
        return ""
    llm = qa.get("llm")
    if not llm:
        return "## Models\n\nThe qa stage's record names no LLM server (a run before curate recorded them).\n"
    roundtrip = llm.get("roundtrip")
    lines = ["## Models\n", _model_line("QA pairs written by", llm.get("writer"))]
    if roundtrip and roundtrip.get("same_as_writer"):
        lines.append(
            f"- round trip: `{roundtrip.get('model') or 'unknown'}` (the writer) answered each question again "
            "from the page; a pair is kept only when both answers agree"
        )
    else:
        lines.append(_model_line("round trip (answers each question again; kept when they agree)", roundtrip))
    lines.append(_model_line("second opinion (must give the same answer too)", llm.get("second_opinion")))
    return "\n".join(lines) + "\n"


def stages_section(record: dict[str, Any]) -> str:
    """One row per stage: when it last ran, with which code, where, and the options it read that are not
    the recipe's defaults; then each stage's options in full."""
    latest = last_runs(record)
    if not latest:
        return ""
    defaults, readers, secrets = _defaults(record), _readers(record), _secret_names(record)
    rows = ["| stage | last run | code | executor | options not at their default |", "|---|---|---|---|---|"]
    full = []
    for stage in record.get("stages", []):
        entry = latest.get(stage)
        if entry is None:
            rows.append(f"| `{stage}` | not recorded | | | |")
            continue
        options = entry.get("options", {})
        own = {k: v for k, v in options.items() if stage in readers.get(k, ()) or k not in readers}
        changed = _changed(own, defaults, secrets)
        shown = ", ".join(f"`{k}={_set_value(v)}`" for k, v in sorted(changed.items())) or "defaults"
        executor = entry.get("executor") or {}
        where = executor.get("kind", "?") + (
            f" ({executor['ray_address']})" if executor.get("ray_address") else ""
        )
        rows.append(
            f"| `{stage}` | {entry.get('started', '?')} | {entry.get('version', '?')} | {where} | {shown} |"
        )
        shown_all = {k: v for k, v in sorted(own.items()) if k not in secrets}  # a secret is not shown at all
        full.append(f"{stage}: {json.dumps(shown_all, default=str)}")
    text = "## Stages and their options\n\n" + "\n".join(rows) + "\n"
    if full:
        text += (
            "\n<details><summary>Every option each stage read</summary>\n\n```\n"
            + "\n".join(full)
            + "\n```\n</details>\n"
        )
    return text


def reproduce_section(record: dict[str, Any]) -> str:
    commands = reproduce_commands(record)
    key = any(v == "***" for e in record.get("runs", []) for v in (e.get("options") or {}).values())
    note = "# the LLM server's API key, if it needs one: export LLM_API_KEY=...\n" if key else ""
    return (
        "## Make it again\n\nWith this repository's code at the version above, INPUT the same PDFs or pages and "
        "OUTPUT a new folder or URL:\n\n```bash\n" + note + "\n".join(commands) + "\n```\n"
    )
