"""The funnel of a run: per stage, records in / kept / dropped by reason / errored, and throughput.

Read from datatrove's per-task stats (`stages/NAME/logs/stats/*.json`), so the funnel is right after
a resumed run too. Every stage must account for every record: in = kept + dropped + errored; and a
stage reading the records of the stage before it must read all of them: in = that stage's kept
(`stages/NAME/ledger.json`, curate/run/ledger.py).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from datatrove.utils.stats import PipelineStats

from curate.location import location, write_text_atomic
from curate.run import ledger
from curate.run.ledger import stat_total

# Counters a stage keeps about its records that the funnel shows: where PDF page text came from, and why
# a page was OCRed
COUNTED = ("ocr_pages", "text_source_", "ocr_reason_")


@dataclass
class StageFunnel:
    stage: str
    records_in: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    errored: dict[str, int] = field(default_factory=dict)
    warnings: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # what kept records are made of (COUNTED)
    merged: int = 0  # records joined into another (pages into their document)
    seconds: float = 0.0
    tasks_done: int = 0
    upstream: str | None = None  # the stage whose kept records this one read (ledger.json)
    upstream_kept: int | None = None
    failed: str | None = None  # why the ledger failed the stage (records lost, too many errors)

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    @property
    def errored_total(self) -> int:
        return sum(self.errored.values())

    @property
    def balanced(self) -> bool:
        return self.records_in == self.kept + self.merged + self.dropped_total + self.errored_total

    @property
    def follows_upstream(self) -> bool:
        """in = the kept records of the stage it read (True when it read no stage's records)."""
        return self.upstream_kept is None or self.records_in == self.upstream_kept

    @property
    def check(self) -> str:
        if not self.balanced:
            return "MISMATCH: in != kept + merged + dropped + errored"
        if not self.follows_upstream:
            return f"LOST: in != {self.upstream_kept} kept by {self.upstream}"
        if self.failed:
            return "FAILED (see below)"
        return f"ok, in = {self.upstream} kept" if self.upstream else "ok"

    @property
    def per_second(self) -> float:
        return self.records_in / self.seconds if self.seconds else 0.0


def stage_funnel(stage_dir: Path) -> StageFunnel | None:
    per_task = ledger.task_stats(stage_dir)
    if not per_task:
        return None
    merged = sum(per_task.values(), start=PipelineStats())
    steps = merged.stats
    marks = stage_dir / "logs" / "completions"
    funnel = StageFunnel(stage_dir.name, tasks_done=len(list(marks.iterdir())) if marks.exists() else 0)
    reader, writer = steps[0], steps[-1]
    dropped, errored = Counter(), Counter()
    for step in steps:
        for key in list(step.stats):
            if key.startswith("dropped_"):
                dropped[key.removeprefix("dropped_")] += stat_total(step, key)
            elif key.startswith("errored_"):
                errored[key.removeprefix("errored_")] += stat_total(step, key)
        funnel.warnings += stat_total(step, "warnings")
        for key in step.stats:
            if key.startswith(COUNTED):
                funnel.counts[key] = funnel.counts.get(key, 0) + stat_total(step, key)
        funnel.merged += stat_total(step, "merged")
        # steps that count drops without a reason (datatrove filters) still count
        unexplained = stat_total(step, "dropped") - sum(
            stat_total(step, k) for k in step.stats if k.startswith("dropped_")
        )
        if unexplained > 0:
            dropped[step.name] += unexplained
    funnel.records_in = (
        stat_total(reader, "documents") + stat_total(reader, "errored") + stat_total(reader, "dropped")
    )
    funnel.kept = stat_total(writer, "total")
    funnel.dropped, funnel.errored = dict(dropped), dict(errored)
    elapsed = stage_dir / "elapsed.txt"
    funnel.seconds = float(elapsed.read_text()) if elapsed.exists() else 0.0
    ledger_file = stage_dir / ledger.LEDGER
    entry = json.loads(ledger_file.read_text()) if ledger_file.exists() else {}
    if entry.get("input"):
        funnel.upstream, funnel.upstream_kept = entry["input"]["stage"], entry["input"]["records"]
    funnel.failed = entry.get("failed") or ledger.data_changes(stage_dir, entry)
    return funnel


def run_funnel(output: str | Path, stage_names: list[str] | None = None) -> list[StageFunnel]:
    stages_dir = location(output) / "stages"
    if not stages_dir.exists():
        return []
    names = stage_names or sorted(p.name for p in stages_dir.iterdir() if p.is_dir())
    funnels = [stage_funnel(stages_dir / name) for name in names if (stages_dir / name).exists()]
    return [f for f in funnels if f is not None]


def error_lines(output: str | Path, stage: str | None = None) -> list[dict]:
    """Every error record of a run (or of one stage): id, source, stage, reason."""
    lines = []
    for path in sorted(location(output).glob(f"stages/{stage or '*'}/errors/*.jsonl"), key=str):
        lines.extend(json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return lines


def format_funnel(funnels: list[StageFunnel]) -> str:
    rows = [f"{'stage':<14}{'in':>8}{'kept':>8}{'dropped':>9}{'errored':>9}{'seconds':>9}{'rec/s':>9}  check"]
    for f in funnels:
        rows.append(
            f"{f.stage:<14}{f.records_in:>8}{f.kept:>8}{f.dropped_total:>9}{f.errored_total:>9}"
            f"{f.seconds:>9.1f}{f.per_second:>9.3g}  {f.check}"
        )
        if f.failed:
            rows.append(f"{'':<14}  failed: {f.failed}")
        if f.merged:
            rows.append(
                f"{'':<14}  merged  {f.merged:>6}  joined into the record before them (pages of a PDF)"
            )
        for reason, n in sorted(f.dropped.items(), key=lambda kv: -kv[1]):
            rows.append(f"{'':<14}  dropped {n:>6}  {reason}")
        for reason, n in sorted(f.errored.items(), key=lambda kv: -kv[1]):
            rows.append(f"{'':<14}  errored {n:>6}  {reason}")
        for name, n in sorted(f.counts.items()):
            rows.append(f"{'':<14}  counted {n:>6}  {name}")
        if f.warnings:
            rows.append(
                f"{'':<14}  warning {f.warnings:>6}  kept, with a problem noted (curate report --errors)"
            )
    return "\n".join(rows)


def write_funnel_json(output: str | Path, funnels: list[StageFunnel]) -> Path:
    path = location(output) / "funnel.json"
    data = [
        {
            **asdict(f),
            "balanced": f.balanced,
            "follows_upstream": f.follows_upstream,
            "per_second": f.per_second,
        }
        for f in funnels
    ]
    write_text_atomic(path, json.dumps(data, indent=2))
    return path
