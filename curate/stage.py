"""Recipes are ordered lists of named stages; each stage is a datatrove pipeline from a folder to a folder.

Layout of a run's output folder:

    OUTPUT/stages/NAME/data/       records the stage kept (Parquet), the next stage's input
    OUTPUT/stages/NAME/excluded/   records its filters dropped, with reason and scores
    OUTPUT/stages/NAME/errors/     records or inputs that failed, with reason (JSONL)
    OUTPUT/stages/NAME/logs/       datatrove's logs, per-task stats and completion markers
    OUTPUT/stages/NAME/ledger.json records per file of data/, checked by the next stage (curate/ledger.py)
    OUTPUT/shards/                 the final WebDataset shards and manifest.json
    OUTPUT/.curate.lock            held while a run writes the folder (curate/lock.py)

A stage whose tasks all completed is skipped on a rerun (datatrove's completion markers), so a
crashed run resumes where it stopped, and any stage can run alone (`--stage NAME`) on a cluster.
OUTPUT (and the input) may be a local folder or an fsspec URL (`s3://bucket/out`); the driver lists a
stage's input once and hands each task its share (curate/plan.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datatrove.pipeline.base import PipelineStep

from curate import ledger
from curate.io import ErrorWriter, RecordReader, RecordWriter
from curate.location import LocationError, check_output, exists, is_url, location, write_text_atomic
from curate.lock import OutputLock, OutputLocked
from curate.options import Option, UserError, declared_options, parse_bool, public_options, resolve_options
from curate.plan import PLAN_FILE, PlanMismatch, plan_for_stage
from curate.progress import StageProgress
from curate.secrets import redact_url

# what services are told about the run beside its options: where the tasks run (not settable)
RUN_FACTS = ("executor", "ray_address")
# options every recipe has: the run ledger's limit on errored records per stage
RUN_OPTIONS = (
    Option(
        "max_error_rate",
        float,
        ledger.DEFAULT_MAX_ERROR_RATE,
        minimum=0,
        maximum=1,
        help="a stage fails when more than this share of its records errored",
        source="a systematic fault must not end in an empty dataset with exit 0",
    ),
    Option(
        "error_rate_min_records",
        int,
        ledger.DEFAULT_ERROR_RATE_MIN_RECORDS,
        minimum=0,
        help="the error rate is judged from this many records in a stage on",
    ),
)


@dataclass
class StageContext:
    """What a stage needs to build its pipeline: where to read, where to write, the run's options."""

    name: str
    input: str
    output: Path  # a `UPath` (same API, over fsspec) when the output is a URL
    options: dict[str, Any] = field(default_factory=dict)
    declared: dict[str, Option] = field(default_factory=dict)  # the options stages may read, by name
    services: dict[str, Any] = field(default_factory=dict)  # what the recipe's services provide (LLM URL)

    def __post_init__(self):
        self.output = location(self.output)

    @property
    def stage_dir(self) -> Path:
        return self.output / "stages" / self.name

    @property
    def data_dir(self) -> Path:
        return self.stage_dir / "data"

    @property
    def logs_dir(self) -> Path:
        return self.stage_dir / "logs"

    def option(self, key: str, default: Any = None) -> Any:
        """The typed value of a declared option (its declared default unless set; `default` is then
        unused). An undeclared name gives `default`: tests/test_options.py fails on any such read."""
        spec = self.declared.get(key)
        if spec is None:
            _warn_undeclared(key)
            value = self.options.get(key)
            return default if value is None else value
        return spec.parse(self.options[key]) if key in self.options else spec.default

    def flag(self, key: str, default: bool = True) -> bool:
        """A yes/no option (a declared bool: `true/false/yes/no/on/off/1/0`; anything else is an error)."""
        return parse_bool(self.option(key, default), key)

    def reader(self) -> RecordReader:
        return RecordReader(self.input)

    def writer(self) -> RecordWriter:
        return RecordWriter(str(self.data_dir))

    def error_writer(self, step: str) -> ErrorWriter:
        return ErrorWriter(str(self.stage_dir / "errors"), output_filename=f"{step}-${{rank}}.jsonl")

    def exclusion_writer(self, step: str) -> RecordWriter:
        return RecordWriter(str(self.stage_dir / "excluded"), output_filename=f"{step}-${{rank}}.parquet")


_warned: set[str] = set()


def _warn_undeclared(key: str) -> None:
    if os.environ.get("CURATE_STRICT_OPTIONS") == "1":  # set by the tests: an undeclared read is a bug
        raise TypeError(f"option {key!r} is read but no stage declares it (add an Option to the stage)")
    if key not in _warned:
        _warned.add(key)
        from loguru import logger

        logger.warning(
            f"option {key!r} is read but no stage declares it: it cannot be set, its default is used"
        )


@dataclass
class Stage:
    """A named step of a recipe.

    `build` returns the stage's whole datatrove pipeline (reader, steps, writer). When it starts with
    a file reader, the driver lists the input once and splits it into `--tasks` tasks (default: every
    worker slot several times over; curate/plan.py); `task_count` replaces that for stages whose
    tasks are not input files (e.g. dedup partitions), and `task_bytes` asks for one task per that
    many input bytes (e.g. one per shard). `finish` runs once in the driver after every task
    completed (e.g. merging shard manifests). `cpus_per_task` and `mem_per_cpu_gb` are what a task
    asks of a Ray cluster (`--cpus-per-task`, `--mem-per-cpu-gb` override them for a run).
    """

    name: str
    build: Callable[[StageContext], list[PipelineStep]]
    input_suffixes: tuple[str, ...] = (".parquet",)
    max_tasks: int = 1 << 20  # a bound on `task_count` only
    cpus_per_task: int = 1
    mem_per_cpu_gb: float = 2.0
    finish: Callable[[StageContext], None] | None = None
    description: str = ""
    task_count: Callable[[StageContext], int] | None = None  # tasks not made from input files
    task_bytes: Callable[[StageContext], int] | None = None  # default: one task per this many bytes
    # checks run for every selected stage before the first one starts (e.g. model weights present),
    # so a run that cannot finish fails before doing any work
    preflight: Callable[[StageContext], None] | None = None
    # False for this run's options (e.g. `--set dedup=false`): the stage is left out and the next
    # stage reads the output of the one before it, so a switched-off stage copies nothing
    active: Callable[[StageContext], bool] | None = None
    # the options this stage reads (curate/options.py); a recipe accepts the union of its stages'
    options: Sequence[Option] = ()

    def __post_init__(self) -> None:
        # a context built without a recipe (a test, a benchmark) still reads this stage's options typed
        for attr in ("build", "finish", "task_count", "preflight", "active"):
            function = getattr(self, attr)
            if function is not None:
                setattr(self, attr, self._declaring(function))

    def _declaring(self, function: Callable[[StageContext], Any]) -> Callable[[StageContext], Any]:
        def call(ctx: StageContext) -> Any:
            for option in self.options:
                ctx.declared.setdefault(option.name, option)
            return function(ctx)

        return call

    def is_active(self, ctx: StageContext) -> bool:
        return self.active is None or bool(self.active(ctx))


@contextlib.contextmanager
def no_services(options: dict[str, Any], stages: list[str]) -> Iterator[dict[str, Any]]:
    yield {}


@dataclass
class Recipe:
    """An ordered list of stages. `services` starts what the stages need for the run (e.g. an LLM
    server) and stops it afterwards, also on failure; it gets the resolved options and yields what the
    stages find in `ctx.services`. `defaults` override the declared defaults of some options (e.g.
    docmatix: `language_min_score` 0.5); `options` declares options the recipe itself reads."""

    name: str
    stages: list[Stage]
    description: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)
    services: Callable[[dict[str, Any], list[str]], contextlib.AbstractContextManager] = no_services
    options: Sequence[Option] = ()

    def open_services(self, options: dict[str, Any], stages: list[str], config: ExecutorConfig | None = None):
        """`config` tells services where tasks run (`executor`, `ray_address` keys for them)."""
        where = {"executor": config.kind, "ray_address": config.ray_address} if config else {}  # RUN_FACTS
        return self.services({**self.resolve(options), **where}, stages)

    def declared(self) -> dict[str, Option]:
        """Every option this recipe accepts: its own and its stages' declarations."""
        stage_options = (o for stage in self.stages for o in stage.options)
        return declared_options([*RUN_OPTIONS, *self.options, *stage_options])

    def resolve(self, options: dict[str, Any]) -> dict[str, Any]:
        """All the recipe's options, typed: the user's `options` over the recipe's defaults over the
        declared ones. Raises OptionError (unknown name, bad value) before any work."""
        return resolve_options(self.declared(), options, self.defaults, where=f"recipe {self.name!r}")

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise UnknownName(
            f"recipe {self.name!r} has no stage {name!r}; stages: {', '.join(self.stage_names)}"
        )

    @property
    def stage_names(self) -> list[str]:
        return [s.name for s in self.stages]


class StageFailed(UserError, RuntimeError):
    """The run stopped (a task failed, a server is gone): the message says why and what to do."""


class UnknownName(UserError, KeyError):
    """An unknown recipe or stage name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class OutputInUse(StageFailed):
    """Another run holds the output folder's lock; this run touched nothing."""


@dataclass
class ExecutorConfig:
    kind: str = "local"  # local | ray
    workers: int | None = None  # tasks run at once; default: one per core (local), every slot (ray)
    ray_address: str | None = None
    tasks: int | None = None  # tasks per stage; default: every worker slot TASKS_PER_SLOT times
    cpus_per_task: int | None = None  # Ray: CPUs a task asks for; default: the stage's
    mem_per_cpu_gb: float | None = None  # Ray: memory per CPU a task asks for; default: the stage's


def worker_slots(stage: Stage, config: ExecutorConfig) -> int:
    """Tasks that can run at once: `--workers`, else this machine's cores or the Ray cluster's CPUs
    divided by what a task asks for."""
    if config.workers:
        return config.workers
    if config.kind == "ray":
        import ray

        cpus = int(ray.cluster_resources().get("CPU", 1))
        return max(1, cpus // (config.cpus_per_task or stage.cpus_per_task))
    return os.cpu_count() or 1


def _reader(pipeline: list[PipelineStep]):
    from datatrove.pipeline.readers.base import BaseDiskReader

    return pipeline[0] if pipeline and isinstance(pipeline[0], BaseDiskReader) else None


def _has_completed_tasks(ctx: StageContext) -> bool:
    marks = ctx.logs_dir / "completions"
    return marks.exists() and any(True for _ in marks.iterdir())


def plan_tasks(stage: Stage, ctx: StageContext, pipeline: list[PipelineStep], config: ExecutorConfig):
    """(tasks, input bytes per task): from the input plan when the stage starts with a file reader
    (the reader then reads its share from the plan's paths file, without listing), else `task_count`."""
    reader = _reader(pipeline)
    counted = stage.task_count(ctx) if stage.task_count else None  # None: tasks from the input plan
    if counted or reader is None:
        return max(1, min(stage.max_tasks, counted or 1)), {}
    if reader.paths_file:  # the user's own listing (Common Crawl's warc.paths.gz): a task a line, or --tasks
        from curate.web.listing import listing_size

        return config.tasks or max(1, listing_size(reader.paths_file)), {}
    wanted = config.tasks
    bytes_per_task = stage.task_bytes(ctx) if stage.task_bytes else None
    try:
        plan = plan_for_stage(
            ctx.stage_dir,
            reader,
            wanted,
            worker_slots(stage, config),
            resumable=_has_completed_tasks(ctx),
            bytes_per_task=bytes_per_task,
        )
    except PlanMismatch as exc:
        raise StageFailed(f"stage {stage.name!r}: {exc}") from exc
    reader.paths_file = str(ctx.stage_dir / PLAN_FILE)
    return plan.tasks, plan.rank_sizes()


def make_executor(stage: Stage, ctx: StageContext, config: ExecutorConfig):
    pipeline = stage.build(ctx)
    if config.kind == "ray":
        connect_ray(config.ray_address, config.workers or os.cpu_count() or 1)
    tasks, sizes = plan_tasks(stage, ctx, pipeline, config)
    workers = config.workers or os.cpu_count() or 1
    running = min(tasks, worker_slots(stage, config))
    for step in pipeline:
        if hasattr(step, "share_concurrency"):  # e.g. the LLM's total requests in flight
            step.share_concurrency(running)
    if config.kind == "local":
        from datatrove.executor import LocalPipelineExecutor

        return _largest_first(LocalPipelineExecutor)(
            sizes,
            pipeline=pipeline,
            tasks=tasks,
            workers=min(workers, tasks),
            logging_dir=str(ctx.logs_dir),
            # not fork: a forked worker of a parent that already ran torch hangs in its OpenMP pool
            start_method="forkserver",
        )
    if config.kind == "ray":
        from datatrove.executor import RayPipelineExecutor

        return _largest_first(RayPipelineExecutor)(
            sizes,
            pipeline=pipeline,
            tasks=tasks,
            workers=min(workers, tasks) if config.workers else -1,
            logging_dir=str(ctx.logs_dir),  # shared: the output location (fsspec) on a cluster
            cpus_per_task=config.cpus_per_task or stage.cpus_per_task,
            mem_per_cpu_gb=config.mem_per_cpu_gb or stage.mem_per_cpu_gb,
        )
    raise ValueError(f"unknown executor {config.kind!r}: use 'local' or 'ray'")


def _largest_first(executor_class: type) -> type:
    """The executor, starting its largest tasks first (by input bytes).

    Which files a task reads, and so every output, stays the same; only the order in which tasks
    start changes, so the last task to finish is a small one instead of whichever came last in
    file-name order (with 2 workers that tail was ~10% of a PDF stage's wall time)."""

    class LargestFirst(executor_class):
        def __init__(self, sizes: dict[int, int], **kwargs):
            super().__init__(**kwargs)
            self.rank_input_bytes = sizes

        def get_incomplete_ranks(self, ranks=None, skip_completed=None) -> list[int]:
            incomplete = super().get_incomplete_ranks(ranks, skip_completed)
            return sorted(incomplete, key=lambda rank: -self.rank_input_bytes.get(rank, 0))

        def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1):
            # in the process that runs the task (a pool worker, a Ray worker), before the task's log sinks
            from curate.console import prepare_worker

            prepare_worker()
            return super()._run_for_rank(rank, local_rank, node_rank)

    LargestFirst.__name__ = LargestFirst.__qualname__ = f"LargestFirst{executor_class.__name__}"
    return LargestFirst


# Passed to every Ray worker (when set here): where the object store is and how to reach it. On a
# cloud cluster, prefer instance roles over keys in the environment.
FORWARDED_ENV = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_PROFILE",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "HF_TOKEN",
    "HF_ENDPOINT",
    "LLM_API_KEY",
    "CURATE_SHARED_DATA",
)


def ray_runtime_env() -> dict[str, Any]:
    """What workers on other nodes need besides the same Python environment: this checkout's packages
    (so they run the driver's code, not whatever is installed there) and the storage settings."""
    import importlib

    packages = [Path(importlib.import_module(name).__file__).parent for name in RAY_PACKAGES]
    return {
        "py_modules": [str(p) for p in packages],
        "env_vars": {key: os.environ[key] for key in FORWARDED_ENV if key in os.environ},
        "excludes": ["__pycache__", "*.pyc"],
    }


RAY_PACKAGES = ("curate", "filters", "synth", "pipelines")


def connect_ray(address: str | None, num_cpus: int) -> None:
    """Join the cluster at `address` (with a runtime environment for its nodes), or start a Ray on
    this machine's cores."""
    import ray

    if ray.is_initialized():
        return
    if not address:
        ray.init(num_cpus=num_cpus, ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
        return
    try:
        ray.init(address=address, log_to_driver=False, runtime_env=ray_runtime_env())
    except (ConnectionError, RuntimeError) as exc:
        token = "set" if os.environ.get("RAY_AUTH_TOKEN") else "not set"
        raise StageFailed(
            f"cannot connect to the Ray cluster at {address}: {type(exc).__name__}: {str(exc)[:300]}. "
            "Check the address (`ray status` on the head node prints it). A cluster started with token "
            "authentication needs RAY_AUTH_MODE=token here, and its token: RAY_AUTH_TOKEN (now "
            f"{token}) or the token file that `ray start` wrote on the head node (~/.ray/auth_token)."
        ) from exc


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


def _check_input(stage: Stage, ctx: StageContext) -> None:
    """A missing input is "no such input" (a missing bucket or credentials say so, naming it)."""
    try:
        found = exists(ctx.input, "input")
        upstream = location(ctx.input).parent  # OUTPUT/stages/PREVIOUS when reading a stage's data
        if not found and exists(upstream / "logs" / "completions"):
            # the previous stage ran and kept nothing: an empty input (an empty prefix on object stores)
            if not is_url(ctx.input):
                Path(ctx.input).mkdir(parents=True)
            return
    except LocationError as exc:
        raise StageFailed(f"stage {stage.name!r}: {exc}") from exc
    if not found:
        raise StageFailed(
            f"stage {stage.name!r}: no such input {ctx.input} (run the stage before it first, or pass --input)"
        )


def run_stage(stage: Stage, ctx: StageContext, config: ExecutorConfig, progress: bool = False) -> float:
    """Run (or resume) one stage; raise StageFailed if any task did not complete, if its input is not
    what the stage before it kept (curate/ledger.py), or if too many of its records errored.
    Returns seconds."""
    _check_input(stage, ctx)
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
        with watch:
            executor.run()
    except Exception as exc:  # whatever a task raised: the stage failed; its traceback is in the task's log
        raise StageFailed(
            f"stage {stage.name!r} failed: {type(exc).__name__}: {exc} (traceback in {ctx.logs_dir}/logs)"
        ) from exc
    incomplete = executor.get_incomplete_ranks(skip_completed=True)
    if incomplete:
        raise StageFailed(
            f"stage {stage.name!r}: tasks {incomplete} did not complete; see {ctx.logs_dir}/logs; "
            "rerun the same command to resume"
        )
    if stage.finish:
        stage.finish(ctx)
    elapsed = time.monotonic() - started
    _record_elapsed(ctx, elapsed)
    _close_ledger(stage, ctx, executor.pipeline, input_part)
    return elapsed


def _close_ledger(stage: Stage, ctx: StageContext, pipeline: list, input_part: dict | None) -> None:
    """Record what the stage kept (per file) and fail it if records went missing or too many errored;
    a failed stage's ledger says why, so the next stage refuses to read it."""
    from curate.report import stage_funnel

    funnel = stage_funnel(ctx.stage_dir)
    entry: dict[str, Any] = {"stage": stage.name, "input": input_part}
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


def run_recipe(
    recipe: Recipe,
    input: str,
    output: str | Path,
    config: ExecutorConfig | None = None,
    only_stage: str | None = None,
    options: dict[str, Any] | None = None,
    progress: bool = False,
) -> None:
    """Run (or resume) a recipe's stages in order, or only `only_stage`; raise StageFailed on failure."""
    config = config or ExecutorConfig()
    output = location(output)
    options = recipe.resolve(options or {})  # typed; an unknown or bad option fails here, before any work
    try:
        check_output(output)
    except LocationError as exc:
        raise StageFailed(str(exc)) from exc
    if only_stage:
        recipe.stage(only_stage)  # validates the name
    contexts = stage_contexts(recipe, input, output, options)
    active = [s.name for s, ctx in zip(recipe.stages, contexts, strict=True) if s.is_active(ctx)]
    if only_stage and only_stage not in active:
        raise StageFailed(f"stage {only_stage!r} is switched off by this run's options; nothing to run")
    lock = OutputLock(output)
    try:
        lock.acquire()
    except OutputLocked as exc:  # another run writes this folder: touch nothing
        raise OutputInUse(str(exc)) from exc
    try:
        _run_locked(recipe, input, output, config, only_stage, options, progress, contexts, active)
    finally:
        lock.release()


def _run_locked(recipe, input, output, config, only_stage, options, progress, contexts, active) -> None:
    """The stages of `run_recipe`, with the output folder locked."""
    write_text_atomic(
        output / "run.json",
        json.dumps(
            {
                "recipe": recipe.name,
                "stages": active,
                "input": redact_url(input),
                "options": public_options(options, recipe.declared()),  # secrets masked
            },
            indent=2,
            default=str,
        ),
    )
    selected = [name for name in active if not only_stage or name == only_stage]
    for stage, ctx in zip(recipe.stages, contexts, strict=True):
        if stage.name in selected and stage.preflight:
            stage.preflight(ctx)
    try:
        with recipe.open_services(options, selected, config) as services:
            for stage, ctx in zip(recipe.stages, contexts, strict=True):
                if stage.name in selected:
                    ctx.services.update(services)
                    run_stage(stage, ctx, config, progress=progress)
    finally:
        from curate.report import run_funnel, write_funnel_json

        write_funnel_json(output, run_funnel(output, active))
