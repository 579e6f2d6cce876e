"""Running a recipe: its stages in order, each (re)started where it stopped, with the output folder locked.

A stage whose tasks all completed is skipped on a rerun (datatrove's completion markers), so a
crashed run resumes where it stopped, and any stage can run alone (`--stage NAME`) on a cluster.
OUTPUT (and the input) may be a local folder or an fsspec URL (`s3://bucket/out`); the driver lists a
stage's input once and hands each task its share (curate/run/plan.py). After a stage, its ledger records
what it kept and fails it when records went missing or too many errored (curate/run/ledger.py).
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from curate.location import LocationError, check_output, exists, is_url, location, write_text_atomic
from curate.recipe import RUN_OPTIONS, Recipe, Stage, StageContext, StageFailed
from curate.run import ledger
from curate.run.console import mark_driver
from curate.run.executors import ExecutorConfig, make_executor
from curate.run.lock import OutputLock, OutputLocked
from curate.run.progress import StageProgress
from curate.run.run_record import append_stage_run
from curate.run.task_log import first_task_error

FAILED_LOGS_READ = 20  # task logs read for the first error (each is a request on an object store)


class OutputInUse(StageFailed):
    """Another run holds the output folder's lock; this run touched nothing."""


def stage_contexts(recipe: Recipe, input: str, output: Path, options: dict[str, Any]) -> list[StageContext]:
    """Each stage reads the data of the active stage before it; the first reads the user's input."""
    contexts = []
    previous_data = input
    declared, resolved = recipe.declared(), recipe.resolve(options)
    for stage in recipe.stages:
        ctx = StageContext(stage.name, str(previous_data), output, dict(resolved), dict(declared))
        contexts.append(ctx)
        if stage.is_active(ctx):
            previous_data = ctx.data_dir
    return contexts


def active_stage_names(recipe: Recipe, input: str, output: Path, options: dict[str, Any]) -> list[str]:
    contexts = stage_contexts(recipe, input, output, options)
    return [s.name for s, ctx in zip(recipe.stages, contexts, strict=True) if s.is_active(ctx)]


def _check_input(stage: Stage, ctx: StageContext, before: str | None = None) -> None:
    """A missing input is "no such input" naming it: the user's `--input` for the first stage, else the
    data of `before`, the stage that writes it ("run stage X first"). A missing bucket or credentials
    say so, naming it."""
    try:
        found = exists(ctx.input, "input")
        upstream = location(ctx.input).parent  # OUTPUT/stages/PREVIOUS when reading a stage's data
        if not found and before and exists(upstream / "logs" / "completions"):
            # the previous stage ran and kept nothing: an empty input (an empty prefix on object stores)
            if not is_url(ctx.input):
                Path(ctx.input).mkdir(parents=True)
            return
    except LocationError as exc:
        raise StageFailed(f"stage {stage.name!r}: {exc}") from exc
    if not found:
        fix = f"run stage {before!r} first" if before else "check --input"
        raise StageFailed(f"stage {stage.name!r}: no such input {ctx.input} ({fix})")


def _previous_stages(recipe: Recipe, active: list[str]) -> dict[str, str | None]:
    """Each active stage's previous active stage (whose data it reads), None for the first."""
    previous: dict[str, str | None] = {}
    last = None
    for stage in recipe.stages:
        if stage.name in active:
            previous[stage.name] = last
            last = stage.name
    return previous


def run_stage(
    stage: Stage, ctx: StageContext, config: ExecutorConfig, progress: bool = False, before: str | None = None
) -> float:
    """Run (or resume) one stage; raise StageFailed if any task did not complete, if its input is not
    what the stage before it kept (curate/run/ledger.py), or if too many of its records errored.
    `before`: the stage whose data is the input (None: the user's input). Returns seconds (0 for a stage
    that had already completed: nothing is run or written)."""
    if stage_done(ctx):
        return 0.0
    _check_input(stage, ctx, before)
    for option in RUN_OPTIONS:  # a context built without a recipe (a benchmark) still has them
        ctx.declared.setdefault(option.name, option)
    started = time.monotonic()
    executor = make_executor(stage, ctx, config)
    try:
        input_part = ledger.check_input(stage.name, executor.pipeline)
    except ledger.LedgerError as exc:
        raise StageFailed(str(exc)) from exc
    watch = StageProgress(stage, ctx, executor.world_size) if progress else contextlib.nullcontext()
    try:
        with watch, ledger.stats_read_ahead(ctx.stage_dir):
            executor.run()
    except Exception as exc:  # whatever a task raised: the stage failed; its traceback is in the task's log
        raise StageFailed(
            f"stage {stage.name!r} failed: {type(exc).__name__}: {exc} (traceback in {ctx.logs_dir}/logs)"
        ) from exc
    incomplete = sorted(executor.get_incomplete_ranks(skip_completed=True))
    if incomplete:
        shown = f"{incomplete[:10]}"[:-1] + (
            f", ... ({len(incomplete)} in all)]" if len(incomplete) > 10 else "]"
        )
        first = first_task_error(ctx.logs_dir, incomplete[:FAILED_LOGS_READ])
        cause = f"; task {first[0]} failed with {first[1]}" if first else ""
        raise StageFailed(
            f"stage {stage.name!r}: tasks {shown} did not complete{cause}; logs in {ctx.logs_dir}/logs; "
            "rerun the same command to resume"
        )
    if stage.finish:
        stage.finish(ctx)
    elapsed = time.monotonic() - started
    _record_elapsed(ctx, elapsed)
    _close_ledger(stage, ctx, executor.pipeline, input_part, executor.world_size)
    return elapsed


def _close_ledger(
    stage: Stage, ctx: StageContext, pipeline: list, input_part: dict | None, tasks: int
) -> None:
    """Record what the stage kept (per file) and fail it if records went missing or too many errored;
    a failed stage's ledger says why, so the next stage refuses to read it."""
    from curate.run.report import stage_funnel

    funnel = stage_funnel(ctx.stage_dir)
    entry: dict[str, Any] = {"stage": stage.name, "input": input_part, "tasks": tasks}
    try:
        entry["data"] = ledger.record_output(stage.name, ctx.stage_dir, ctx.data_dir, pipeline)
        problem = ledger.check_input_count(stage.name, input_part, funnel.records_in if funnel else 0)
        problem = problem or ledger.error_rate_problem(
            funnel,
            ctx.option("max_error_rate"),
            ctx.option("error_rate_min_records"),
        )
    except ledger.LedgerError as exc:
        problem = str(exc)
    if problem:
        entry["failed"] = problem
    ledger.write_ledger(ctx.stage_dir, entry)
    if problem:
        raise StageFailed(problem)


def _record_elapsed(ctx: StageContext, seconds: float) -> None:
    """Wall time of the stage's last run, for throughput in the report (reruns of finished stages add 0)."""
    path = ctx.stage_dir / "elapsed.txt"
    previous = float(path.read_text()) if path.exists() else 0.0
    write_text_atomic(path, f"{previous + seconds:.3f}")


def stage_done(ctx: StageContext) -> bool:
    """The stage completed and nothing since asks to redo it: its ledger passed, every task it recorded
    has its completion marker, and the stage before it still holds what this stage read. A rerun of
    such a stage runs nothing and writes nothing (not its ledger, funnel, elapsed time or run.json)."""
    try:
        entry = ledger.read_ledger(ctx.stage_dir)
    except (OSError, ValueError):  # no such bucket, no credentials, a ledger cut short: not done
        return False
    if not entry or entry.get("failed") or "tasks" not in entry:
        return False
    marks = ctx.logs_dir / "completions"
    try:
        done = {p.name for p in marks.iterdir()} if marks.exists() else set()
    except OSError:
        return False
    if not {f"{rank:05d}" for rank in range(entry["tasks"])} <= done:
        return False
    upstream = entry.get("input")
    if upstream:
        before = ledger.read_ledger(ctx.output / "stages" / upstream["stage"])
        kept = (before or {}).get("data", {}).get("records")
        if not before or before.get("failed") or kept != upstream["records"]:
            return False
    return True


def run_recipe(
    recipe: Recipe,
    input: str,
    output: str | Path,
    config: ExecutorConfig | None = None,
    only_stage: str | None = None,
    options: dict[str, Any] | None = None,
    progress: bool = False,
) -> None:
    """Run (or resume) a recipe's stages in order, or only `only_stage`; raise StageFailed on failure.
    Stages that already completed are skipped; when every one asked for is, nothing is written."""
    config = config or ExecutorConfig()
    output = location(output)
    options = recipe.resolve(options or {})  # typed; an unknown or bad option fails here, before any work
    if only_stage:
        recipe.stage(only_stage)  # validates the name
    contexts = stage_contexts(recipe, input, output, options)
    active = [s.name for s, ctx in zip(recipe.stages, contexts, strict=True) if s.is_active(ctx)]
    if only_stage and only_stage not in active:
        raise StageFailed(f"stage {only_stage!r} is switched off by this run's options; nothing to run")
    selected = [name for name in active if not only_stage or name == only_stage]
    by_name = {ctx.name: ctx for ctx in contexts}
    if all(stage_done(by_name[name]) for name in selected):
        return  # a rerun of completed stages: nothing to do, nothing to write (not even the lock)
    # the first stage to run must find its input before anything is written (no output folder, no lock)
    first = next(i for i, s in enumerate(recipe.stages) if s.name == (only_stage or active[0]))
    previous = _previous_stages(recipe, active)
    _check_input(recipe.stages[first], contexts[first], previous[recipe.stages[first].name])
    try:
        check_output(output)
    except LocationError as exc:
        raise StageFailed(str(exc)) from exc
    lock = OutputLock(output)
    try:
        lock.acquire()
    except OutputLocked as exc:  # another run writes this folder: touch nothing
        raise OutputInUse(str(exc)) from exc
    mark_driver()  # the workers started from here stop if this process is killed
    try:
        _run_locked(recipe, input, output, config, options, progress, contexts, active, selected, previous)
    finally:
        lock.release()


def _run_locked(
    recipe, input, output, config, options, progress, contexts, active, selected, previous
) -> None:
    """The stages of `run_recipe`, with the output folder locked; each stage run recorded in run.json."""
    pending: list[str] = []  # the first stage not done, and every selected stage after it (its input may change)
    for ctx in contexts:
        if ctx.name in selected and (pending or not stage_done(ctx)):
            pending.append(ctx.name)
    for stage, ctx in zip(recipe.stages, contexts, strict=True):
        if stage.name in pending and stage.preflight:
            stage.preflight(ctx)
    executor = {"kind": config.kind, "ray_address": config.ray_address, "tasks": config.tasks}
    try:
        with recipe.open_services(options, pending, config.kind, config.ray_address) as services:
            for stage, ctx in zip(recipe.stages, contexts, strict=True):
                if stage.name in pending:
                    ctx.services = services
                    append_stage_run(
                        output, recipe, stage.name, stages=active, input=input, options=options,
                        executor=executor, services=services,
                    )  # fmt: skip
                    run_stage(stage, ctx, config, progress=progress, before=previous[stage.name])
    finally:
        from curate.run.report import run_funnel, write_funnel_json

        write_funnel_json(output, run_funnel(output, active))
