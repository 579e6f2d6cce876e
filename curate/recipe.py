"""Recipes are ordered lists of named stages; each stage is a datatrove pipeline from a folder to a folder.

This module is the model: a stage's context (where it reads and writes, the run's options), the stage,
the recipe. How a stage's tasks are executed is curate/run/executors.py; how a recipe runs, curate/run/runner.py.

Layout of a run's output folder:

    OUTPUT/stages/NAME/data/       records the stage kept (Parquet), the next stage's input
    OUTPUT/stages/NAME/excluded/   records its filters dropped, with reason and scores
    OUTPUT/stages/NAME/errors/     records or inputs that failed, with reason (JSONL)
    OUTPUT/stages/NAME/logs/       datatrove's logs, per-task stats and completion markers
    OUTPUT/stages/NAME/ledger.json records per file of data/, checked by the next stage (curate/run/ledger.py)
    OUTPUT/shards/                 the final WebDataset shards and manifest.json
    OUTPUT/.curate.lock            held while a run writes the folder (curate/run/lock.py)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datatrove.pipeline.base import PipelineStep

from curate.errors import UserError
from curate.io import ErrorWriter, RecordReader, RecordWriter
from curate.location import location
from curate.options import Option, declared_options, parse_bool, resolve_options

# what services are told about the run beside its options: where the tasks run (not settable)
RUN_FACTS = ("executor", "ray_address")
# options every recipe has: the run ledger's limit on errored records per stage
RUN_OPTIONS = (
    Option(
        "max_error_rate",
        float,
        0.2,
        minimum=0,
        maximum=1,
        help="a stage fails when more than this share of its records errored",
        source="a systematic fault must not end in an empty dataset with exit 0",
    ),
    Option(
        "error_rate_min_records",
        int,
        20,
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
    services: Services = field(default_factory=lambda: NO_SERVICES)  # what the recipe's services started

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
    worker slot several times over; curate/run/plan.py); `task_count` replaces that for stages whose
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


class Services:
    """What a recipe's services started for a run (e.g. the LLM servers of docmatix's qa stage), as its
    stages find it in `ctx.services`. A recipe's services subclass this with typed fields; the base has
    nothing to give."""

    def record(self, stage: str, options: dict[str, Any]) -> dict[str, Any]:
        """What OUTPUT/run.json keeps about them in the entry of a run of `stage` (no credentials)."""
        return {}


NO_SERVICES = Services()


@contextlib.contextmanager
def no_services(options: dict[str, Any], stages: list[str]) -> Iterator[Services]:
    yield NO_SERVICES


@dataclass
class Recipe:
    """An ordered list of stages. `services` starts what the stages need for the run (e.g. an LLM
    server) and stops it afterwards, also on failure; it gets the resolved options and yields the
    `Services` its stages find in `ctx.services`. `defaults` override the declared defaults of some options (e.g.
    docmatix: `language_min_score` 0.5); `options` declares options the recipe itself reads."""

    name: str
    stages: list[Stage]
    description: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)
    services: Callable[[dict[str, Any], list[str]], contextlib.AbstractContextManager[Services]] = no_services
    options: Sequence[Option] = ()

    def open_services(
        self,
        options: dict[str, Any],
        stages: list[str],
        executor: str = "local",
        ray_address: str | None = None,
    ):
        """`executor` and `ray_address` tell services where the tasks run (RUN_FACTS)."""
        where = {"executor": executor, "ray_address": ray_address}
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
