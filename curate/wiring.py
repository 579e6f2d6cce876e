"""A step declared once with the run options it is built from, and stages listed as such steps.

`StepSpec(Class, args=(arg(Class, PARAM, OPTION_NAME), ...), errors=SINK)` says how a step becomes
part of a run: each constructor argument is read from a run option whose default and type come from
the constructor's own signature (`Option.arg`), so the option and the constructor cannot disagree;
`exclusions`/`errors` name the stage's sinks the step writes to. A step with a `switch` can be left
out of a run with `--set SWITCH=false` (every filter has one); a filter whose score allows it declares a
dataset-wide `cut` (a percentile of every stored score, applied in a stage of its own). A recipe lists
stages as `records_stage("name", [SPEC, ...])`: the previous stage's records, through the enabled
steps, into its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from datatrove.pipeline.base import PipelineStep

from curate.options import Option
from curate.recipe import Stage, StageContext


def arg(step: Callable, param: str, name: str | None = None, **fields: Any) -> tuple[str, Option]:
    """Constructor argument `param` of `step`, read from run option `name` (default: the constructor's)."""
    return param, Option.arg(step, param, name, **fields)


@dataclass(frozen=True)
class DatasetCut:
    """A cut of a fraction of the whole dataset by a step's stored score, in a stage after the step's
    (`curate.filters.stages.cut_stage`): the threshold is one percentile over every stored score."""

    fraction: Option  # unset (None) or 0: no cut
    score: str
    highest: bool  # drop the highest scores (perplexity), else the lowest (CLIP)
    description: str
    keep: bool = False  # `fraction` is the fraction kept, not dropped

    def drop_fraction(self, ctx: StageContext) -> float | None:
        value = ctx.option(self.fraction.name)
        return None if value is None else (1 - value if self.keep else value)


@dataclass(frozen=True)
class StepSpec:
    """How one step is built from a stage's context."""

    step: Callable[..., PipelineStep]  # the class (or a factory) called with the arguments below
    args: tuple[tuple[str, Option], ...] = ()  # (constructor argument, its option), made with `arg`
    fixed: Mapping[str, Any] = field(default_factory=dict)  # constructor arguments that are not options
    exclusions: str | None = None  # the exclusion sink's name (`exclusion_writer=`); None: none
    errors: str | None = None  # the error sink's name (`error_writer=`); None: none
    options: tuple[Option, ...] = ()  # further options that `prepare` reads
    # adjust the arguments read from the options, with the context (its input, services): -> arguments
    prepare: Callable[[dict[str, Any], StageContext], dict[str, Any]] | None = None
    switch: str | None = None  # `--set SWITCH=false` leaves the step out; a filter's name in `filters_stage`
    enabled_by_default: bool = True
    description: str = ""
    cut: DatasetCut | None = None  # a dataset-wide percentile cut the step's scores allow

    @property
    def switch_option(self) -> Option | None:
        if self.switch is None:
            return None
        return Option(
            self.switch, bool, self.enabled_by_default, help=f"{self.description} (false: left out)"
        )

    @property
    def all_options(self) -> tuple[Option, ...]:
        switch = (self.switch_option,) if self.switch else ()
        return (*switch, *(option for _, option in self.args), *self.options)

    def enabled(self, ctx: StageContext) -> bool:
        return self.switch is None or ctx.flag(self.switch, self.enabled_by_default)

    def build(self, ctx: StageContext) -> PipelineStep:
        kwargs = {**self.fixed, **{param: ctx.option(option.name) for param, option in self.args}}
        if self.prepare:
            kwargs = self.prepare(kwargs, ctx)
        if self.exclusions:
            kwargs["exclusion_writer"] = ctx.exclusion_writer(self.exclusions)
        if self.errors:
            kwargs["error_writer"] = ctx.error_writer(self.errors)
        return self.step(**kwargs)


def records_stage(
    name: str,
    steps: Sequence[StepSpec],
    reader: StepSpec | None = None,
    options: Sequence[Option] = (),
    **stage: Any,
) -> Stage:
    """A stage whose pipeline is `reader` (default: the previous stage's records), `steps`, then its
    records writer; it declares its steps' options and `options`. `stage`: further `Stage` fields."""

    def build(ctx: StageContext) -> list[PipelineStep]:
        first = reader.build(ctx) if reader else ctx.reader()
        return [first, *(spec.build(ctx) for spec in steps if spec.enabled(ctx)), ctx.writer()]

    specs = [reader, *steps] if reader else list(steps)
    declared = (*(option for spec in specs for option in spec.all_options), *options)
    return Stage(name, build, options=declared, **stage)
