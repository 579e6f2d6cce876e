"""How a stage's tasks are executed: datatrove's local or Ray executor, with as many tasks as the input
plan (curate/run/plan.py) gives, largest first; and the connection to a Ray cluster."""

from __future__ import annotations

import atexit
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datatrove.pipeline.base import PipelineStep

from curate.recipe import Stage, StageContext, StageFailed
from curate.run.plan import PLAN_FILE, PlanMismatch, plan_for_stage
from curate.secrets import redact_text


@dataclass
class ExecutorConfig:
    kind: str = "local"  # local | ray
    workers: int | None = None  # tasks run at once; default: one per core (local), every slot (ray)
    ray_address: str | None = None
    tasks: int | None = None  # tasks per stage; default: every worker slot TASKS_PER_SLOT times
    cpus_per_task: int | None = None  # Ray: CPUs a task asks for; default: the stage's
    mem_per_cpu_gb: float | None = None  # Ray: memory per CPU a task asks for; default: the stage's
    # Ray: tasks packed into one actor (datatrove's `tasks_per_job`), run at once in forked processes on the
    # CPUs of one task, so it suits tiny tasks only. Each actor is a fresh process that imports the stage
    # (~1-2 CPU-s): for thousands of one-page tasks (the driver-overhead bench) packing keeps the cluster on
    # the tasks, not on starting actors
    tasks_per_actor: int = 1


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

        if min(workers, tasks) > 1:
            _preload_in_forkserver(pipeline)
        return _largest_first(LocalPipelineExecutor)(
            sizes,
            environment=DriverEnvironment(),
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
            tasks_per_job=config.tasks_per_actor,
        )
    raise ValueError(f"unknown executor {config.kind!r}: use 'local' or 'ray'")


def _preload_in_forkserver(pipeline: list) -> None:
    """The pipeline's modules imported once in the forkserver that every pool worker is forked from:
    each worker imported them again to unpickle its task (curate, datatrove, pyarrow, PyMuPDF: ~0.5
    CPU-s a worker). Takes effect when the forkserver starts (the first pool of this process); an import
    that fails there is skipped and happens in the worker, as before. Importing is all the forkserver
    does with them: nothing runs (no thread pool is started) before it forks."""
    import multiprocess

    modules = {type(step).__module__ for step in pipeline} | {"pyarrow.parquet"}
    # modules the steps import only once they run (PyMuPDF in the PDF reader), and pandas, which pyarrow
    # imports at a writer's first batch (`pa.array` asks whether a list is a pandas object): each pool
    # worker imported them again (pandas ~0.3, PyMuPDF ~0.13 CPU-s a worker)
    later = {name for step in pipeline for name in getattr(step, "preload_modules", ())} | {"pandas"}
    # the steps' modules first: curate's PyMuPDF guard (curate/__init__.py) must run before PyMuPDF loads
    multiprocess.get_context("forkserver").set_forkserver_preload(
        ["__main__", *sorted(modules), *sorted(later - modules)]
    )


def _largest_first(executor_class: type) -> type:
    """The executor, starting its largest tasks first (by input bytes).

    Which files a task reads, and so every output, stays the same; only the order in which tasks
    start changes, so the last task to finish is a small one instead of whichever came last in
    file-name order (with 2 workers that tail was ~10% of a PDF stage's wall time)."""

    class LargestFirst(executor_class):
        def __init__(self, sizes: dict[int, int], environment: DriverEnvironment | None = None, **kwargs):
            super().__init__(**kwargs)
            self.rank_input_bytes = sizes
            self.environment = environment

        def get_incomplete_ranks(self, ranks=None, skip_completed=None) -> list[int]:
            incomplete = super().get_incomplete_ranks(ranks, skip_completed)
            return sorted(incomplete, key=lambda rank: -self.rank_input_bytes.get(rank, 0))

        def save_executor_as_json(self, indent: int = 4) -> None:
            """datatrove's executor.json (every step's attributes), with URL credentials masked."""
            from datatrove.executor.base import ExecutorJSONEncoder

            text = redact_text(json.dumps(self, cls=ExecutorJSONEncoder, indent=indent))
            with self.logging_dir.open("executor.json", "w") as f:
                f.write(text)

        def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1):
            # in the process that runs the task (a pool worker, a Ray worker), before the task's log sinks
            from curate.run.console import prepare_worker

            if self.environment:
                self.environment.apply()
            prepare_worker()
            _terminable_by_sigterm()
            return super()._run_for_rank(rank, local_rank, node_rank)

    LargestFirst.__name__ = LargestFirst.__qualname__ = f"LargestFirst{executor_class.__name__}"
    return LargestFirst


class DriverEnvironment:
    """The driver's environment when the stage starts, applied in each local pool worker before its task.

    Pool workers fork from a forkserver, which keeps the environment of the moment it started (the first
    pool of the process): a second run in the same process, after credentials or an endpoint were set,
    failed in its workers with NoCredentialsError. Printed as a placeholder, never its values: the
    executor's attributes are written to executor.json."""

    def __init__(self):
        self._values = dict(os.environ)
        self._driver = os.getpid()

    def apply(self) -> None:
        if os.getpid() == self._driver:  # a task run in the driver's process (one worker) has it already
            return
        for key in set(os.environ) - set(self._values):
            del os.environ[key]
        os.environ.update(self._values)

    def __repr__(self) -> str:
        return "<the driver's environment>"


def _terminable_by_sigterm() -> None:
    """In a task's process: SIGTERM ends it, as its pool's `terminate()` expects. datatrove runs a Ray
    task in a process forked from the Ray worker, which inherits Ray's SIGTERM handler; that handler
    calls into Ray's core worker, whose threads a forked process does not have, so an idle pool process
    sent SIGTERM at the end of the task never ended and the stage hung (seen in the docmatix journey)."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


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
    """What workers on other nodes need besides the same Python environment: the driver's `curate`
    package (so they run the driver's code, not whatever is installed there) and the storage settings."""
    return {
        "py_modules": [str(shipped_package())],
        "env_vars": {key: os.environ[key] for key in FORWARDED_ENV if key in os.environ},
        "excludes": ["__pycache__", "*.pyc"],
    }


WINGS = ("filters", "synth", "pipelines")  # installed inside curate (pyproject's package-dir)


def shipped_package() -> Path:
    """The `curate` package as installed, its wings inside: the package folder itself when it holds them
    (a wheel), else (a checkout, where the wings are folders beside it) a copy assembled once per
    process, which Ray uploads by content hash."""
    import importlib
    import shutil
    import tempfile

    import curate

    root = Path(curate.__file__).parent
    wings = {name: Path(importlib.import_module(f"curate.{name}").__file__).parent for name in WINGS}
    if all(path.parent == root for path in wings.values()):
        return root
    global _assembled
    if _assembled is None or not _assembled.is_dir():
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        _assembled = Path(tempfile.mkdtemp(prefix="curate-ray-")) / "curate"
        shutil.copytree(root, _assembled, ignore=ignore)
        for name, path in wings.items():
            shutil.copytree(path, _assembled / name, ignore=ignore)
        atexit.register(shutil.rmtree, _assembled.parent, ignore_errors=True)
    return _assembled


_assembled: Path | None = None


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
    # a wrong address or auth mode: ConnectionError/RuntimeError; token auth on here but no token found
    # (no RAY_AUTH_TOKEN, no ~/.ray/auth_token): Ray's AuthenticationError, which is neither
    except (ConnectionError, RuntimeError, _ray_auth_error()) as exc:
        token = "set" if os.environ.get("RAY_AUTH_TOKEN") else "not set"
        raise StageFailed(
            f"cannot connect to the Ray cluster at {address}: {type(exc).__name__}: {_one_line(exc, 300)}. "
            "Check the address (`ray status` on the head node prints it). A cluster started with token "
            "authentication needs RAY_AUTH_MODE=token here, and its token: RAY_AUTH_TOKEN (now "
            f"{token}) or the token file that `ray start` wrote on the head node (~/.ray/auth_token)."
        ) from None  # what went wrong is in the message: a user's setup, not a bug to show a traceback for


def _one_line(exc: BaseException, chars: int) -> str:
    return " ".join(str(exc).split())[:chars]


def _ray_auth_error() -> type[BaseException]:
    """Ray's AuthenticationError (Ray >= 2.52); a class nothing raises on an older Ray."""
    try:
        from ray.exceptions import AuthenticationError
    except ImportError:
        return ConnectionError
    return AuthenticationError
