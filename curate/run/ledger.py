"""The run's ledger: no record is lost between stages, and no stage passes on a systematic fault.

Each stage accounts for its records inside itself (in = kept + dropped + errored, curate/run/report.py).
Between stages, the ledger does the same: when a stage finishes, `stages/NAME/ledger.json` records
how many records each file of its `data/` holds, checked against what its writer counted per task
(a file the listing shows at the size its writer closed it at holds what the writer counted; any other
is read from its Parquet footer), with each file's size and version (ETag or modification time);
before the next stage reads that folder, the files it finds must be exactly those, with those counts
(a file whose size or version changed is read again), and after it ran, its input count must equal
their sum. A file deleted, added or truncated between stages fails the run naming the stage and the files.

The error-rate limit: a stage whose errored records exceed `max_error_rate` of its input (default
0.2, `--set max_error_rate=`) fails, naming the most frequent reason, once at least
`error_rate_min_records` records (default 20) entered it: one broken PDF of two in a test folder is
the data, 300 of 1,000 pages failing the same way is a fault to look at, not a dataset to ship.
"""

from __future__ import annotations

import contextlib
import json
import posixpath
import re
import threading
import time
from collections.abc import Iterator, Sequence
from glob import has_magic
from typing import Any

from datatrove.io import DataFolder, get_datafolder
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.readers.base import BaseDiskReader
from datatrove.utils.stats import MetricStats, PipelineStats

from curate.location import is_url, parquet_footers

LEDGER = "ledger.json"
READ_AHEAD_SECONDS = 10.0  # how often (at most) the driver fetches finished tasks' stats while they run


def stat_total(stats, key: str) -> int:
    """A counter's total; datatrove keeps a loaded stat as a number, a dict or a MetricStats."""
    value = stats.stats.get(key)
    if isinstance(value, dict):
        value = value.get("total", 0)
    return int(getattr(value, "total", value) or 0)


class LedgerError(RuntimeError):
    """Records went missing (or appeared) between or inside stages, or too many errored."""


def _stage_folder(stage_dir: Any) -> DataFolder:
    return get_datafolder(str(stage_dir))


def read_ledger(stage_dir: Any) -> dict | None:
    folder = _stage_folder(stage_dir)
    if not folder.isfile(LEDGER):
        return None
    with folder.open(LEDGER, "rt") as f:
        return json.load(f)


def write_ledger(stage_dir: Any, ledger: dict) -> None:
    folder = _stage_folder(stage_dir)
    with folder.open(LEDGER + ".tmp", "wt") as f:
        json.dump(ledger, f, indent=2)
    folder.mv(LEDGER + ".tmp", LEDGER)


def _version(info: dict) -> str | None:
    """What changes when a file's content does, from a listing: its ETag or generation on an object
    store, its modification time on a disk (None: not told, the file is read again)."""
    for key in ("ETag", "etag", "generation", "mtime", "LastModified", "last_modified"):
        if info.get(key) is not None:
            return str(info[key])
    return None


def _records_listing(
    folder: DataFolder, reader: BaseDiskReader | None = None
) -> dict[str, tuple[int, str | None]]:
    """(size, version) of each file a `RecordReader` of `folder` reads (the same glob and depth as
    datatrove's `list_files`), from one listing."""
    folder.invalidate_cache("")  # a fresh listing, not one s3fs kept from before the files were written
    if not folder.isdir(""):
        return {}
    maxdepth = None if (reader.recursive if reader is not None else True) else 1
    pattern = reader.glob_pattern if reader is not None else "*.parquet"
    if pattern and not has_magic(pattern):
        pattern = f"*{pattern}"
    found = (
        folder.glob(pattern, maxdepth=maxdepth, detail=True)
        if pattern
        else folder.find("", maxdepth=maxdepth, detail=True)
    )
    return {
        name: (int(info.get("size") or 0), _version(info))
        for name, info in sorted(found.items())
        if info.get("type") != "directory"
    }


def files_with_rows(
    folder: DataFolder,
    reader: BaseDiskReader | None = None,
    known: dict | None = None,
    written: dict[str, tuple[int, int]] | None = None,
) -> dict[str, tuple[int, int, str | None]]:
    """(records, size, version) of each Parquet file of a records folder. Records come from the
    footers, read concurrently (no data is read), except for files whose size and version are those
    in `known` (a ledger's `versions`: `{name: [size, version, records]}`), or whose size is the one
    its writer closed it at (`written`: `{name: (size, records)}`, from the tasks' stats): those files
    are as they were written or recorded, and are not read again."""
    listing = _records_listing(folder, reader)
    rows = {}
    for name, (size, version) in listing.items():
        seen = (known or {}).get(name)
        closed = (written or {}).get(name)
        if version is not None and seen is not None and [size, version] == list(seen[:2]):
            rows[name] = int(seen[2])
        elif closed is not None and closed[0] == size:
            rows[name] = closed[1]
    unread = {name: size for name, (size, _) in listing.items() if name not in rows}
    rows.update({name: footer.num_rows for name, footer in parquet_footers(folder, unread).items()})
    return {name: (rows[name], size, version) for name, (size, version) in listing.items()}


def rows_per_file(
    folder: DataFolder, reader: BaseDiskReader | None = None, known: dict | None = None
) -> dict[str, int]:
    """Records per Parquet file of a records folder (`files_with_rows`)."""
    return {name: rows for name, (rows, _, _) in files_with_rows(folder, reader, known).items()}


def _data_part(files: dict[str, tuple[int, int, str | None]]) -> dict:
    """The ledger's `data` part: records per file and in all, and each file's size and version, so a
    later check reads only the files that changed."""
    return {
        "files": {name: rows for name, (rows, _, _) in files.items()},
        "records": sum(rows for rows, _, _ in files.values()),
        "versions": {name: [size, version, rows] for name, (rows, size, version) in files.items()},
    }


def _task_file(name: str, writer: PipelineStep) -> str:
    """The file name a writer's task writes, whatever part of it: datatrove prefixes `NNN_` when it may
    split a task's output at `max_file_size` (000_00003.parquet, 001_00003.parquet, ...)."""
    base = posixpath.basename(name)
    if getattr(writer, "max_file_size", 0) > 0 and re.match(r"\d{3}_", base):
        return posixpath.join(posixpath.dirname(name), base[4:])
    return name


def _first_part(name: str, writer: PipelineStep) -> str:
    if getattr(writer, "max_file_size", 0) > 0:
        return posixpath.join(posixpath.dirname(name), "000_" + posixpath.basename(name)).lstrip("/")
    return name


def task_stats(stage_dir: Any) -> dict[str, PipelineStats]:
    """Each task's stats (`logs/stats/RANK.json`) by file name. The driver reads them for the ledger,
    its funnel and the run's funnel: a file is fetched once per version (its size and modification
    time or ETag from the one listing), and the ones not yet read in one concurrent batch (2,000 tasks
    on an object store: three passes of 2,000 requests, one after another, before); on an object store
    most were already fetched while the tasks ran (`stats_read_ahead`)."""
    fetched = _fetch_stats(stage_dir)
    if fetched is None:
        return {}
    root, listing = fetched
    # parsed each time: callers get their own objects
    return {
        name: PipelineStats.from_json(json.loads(_STATS_CACHE[(root, name, listing[name])]))
        for name in sorted(listing)
    }


def _fetch_stats(stage_dir: Any, logs: DataFolder | None = None) -> tuple[str, dict] | None:
    """(stats folder, {file name: version}) after fetching into _STATS_CACHE the files not yet in it
    (through `logs`, the stats folder, when given: the read-ahead's own filesystem)."""
    logs = logs or get_datafolder(posixpath.join(str(stage_dir), "logs", "stats"))
    # a fresh listing: s3fs keeps listings, and an earlier one (read ahead while the tasks ran) would
    # hide the files written since
    logs.invalidate_cache("")
    if not logs.isdir(""):
        return None
    listing = {
        name: (info.get("size"), _version(info))
        for name, info in logs.find("", maxdepth=1, detail=True).items()
        if name.endswith(".json") and info.get("type") != "directory"
    }
    root = posixpath.join(str(stage_dir), "logs", "stats")
    if any(key[0] != root for key in _STATS_CACHE):  # one stage's files kept at a time
        _STATS_CACHE.clear()
    missing = [name for name, version in listing.items() if (root, name, version) not in _STATS_CACHE]
    if missing:
        # a few requests at a time: an object store answers them in parallel (one after another, 2,000
        # tasks' files took ~10 s a pass), and a small server (moto, in-process) is not swamped
        batch = {"batch_size": 16} if getattr(logs.fs, "async_impl", False) else {}
        data = logs.cat(missing, **batch)
        if not isinstance(data, dict):  # one file: its bytes
            data = {missing[0]: data}
        by_base = {posixpath.basename(str(path)): raw for path, raw in data.items()}
        for name in missing:
            _STATS_CACHE[(root, name, listing[name])] = by_base[posixpath.basename(name)]
    return root, listing


@contextlib.contextmanager
def stats_read_ahead(stage_dir: Any, every: float | None = None) -> Iterator[None]:
    """While a stage's tasks run, the driver (otherwise waiting) fetches the stats files of the tasks
    done so far, every `every` seconds or less often (a pass takes at most a tenth of the thread's time),
    so the ledger after the run reads only the last few: 2,000
    tasks' stats on an object store were ~2,000 requests after the run. Only for an output on an object
    store (a local folder's files read in a fraction of a second). A file that changes later (a task
    run again) has another version and is fetched again; a failed fetch is left to the ledger."""
    every = READ_AHEAD_SECONDS if every is None else every
    if not is_url(str(stage_dir)) or every <= 0:  # 0: off
        yield
        return
    stop = threading.Event()
    # its own filesystem instance: s3fs keeps the listings it made, and one made here, a moment before the
    # last tasks wrote their stats, would hide those files from datatrove's Ray executor, which opens every
    # task's stats file through the process's shared instance when the tasks end (FileNotFoundError)
    logs = _private_folder(posixpath.join(str(stage_dir), "logs", "stats"))

    def read_ahead() -> None:
        pause = every
        while not stop.wait(pause):
            started = time.monotonic()
            try:
                _fetch_stats(stage_dir, logs)
            except Exception:  # noqa: BLE001  the ledger reads them again after the run, and says why
                pass
            # a pass lists every stats file so far (2,000 on an object store: seconds on a busy server):
            # at most a tenth of the thread's time, so the driver does not compete with the tasks
            pause = max(every, 9 * (time.monotonic() - started))

    thread = threading.Thread(target=read_ahead, name="curate-stats-read-ahead", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _private_folder(url: str) -> DataFolder:
    """A DataFolder of `url` on a filesystem instance of its own (no listing shared with other code)."""
    import fsspec

    fs, path = fsspec.core.url_to_fs(url, skip_instance_cache=True)
    return DataFolder(path, fs=fs)


# (stats folder, file name, version) -> that file's bytes, for this process (a driver)
_STATS_CACHE: dict[tuple, bytes] = {}


def _writer_written(stage_dir: Any, writer: PipelineStep) -> dict[str, tuple[int, int, int]] | None:
    """(records, bytes, files) the stage's writer wrote, per task's output file name (from each task's
    stats), or None when its file names cannot be told from the rank (then nothing is compared)."""
    from curate.io import BYTES_WRITTEN

    written: dict[str, tuple[int, int, int]] = {}
    for name, stats in task_stats(stage_dir).items():
        step = stats.stats[-1] if stats.stats else None
        records = stat_total(step, "total") if step else 0
        closed = step.stats.get(BYTES_WRITTEN) if step else None
        if closed is not None and not isinstance(closed, MetricStats):  # as loaded: a dict or a number
            closed = MetricStats.from_dict(closed)
        size, files = (int(closed.total), int(closed.n)) if closed is not None else (0, 0)
        rank = posixpath.basename(name).removesuffix(".json")
        try:
            file_name = writer.output_filename.substitute(rank=rank)
        except (KeyError, ValueError):  # a template with other fields: names not known in advance
            return None
        if records:
            before = written.get(file_name, (0, 0, 0))
            written[file_name] = (before[0] + records, before[1] + size, before[2] + files)
    return written


def _differences(found: dict[str, int], expected: dict[str, int], writer: str) -> list[str]:
    problems = []
    for name in sorted(expected.keys() | found.keys()):
        want, got = expected.get(name), found.get(name)
        if got is None:
            problems.append(f"{name} missing ({want} records)")
        elif want is None:
            problems.append(f"{name} not written by {writer} ({got} records)")
        elif want != got:
            problems.append(f"{name} holds {got} records, {writer} wrote {want}")
    return problems


def _summary(problems: list[str], limit: int = 10) -> str:
    more = f"; and {len(problems) - limit} more" if len(problems) > limit else ""
    return "; ".join(problems[:limit]) + more


def record_output(stage: str, stage_dir: Any, data_dir: Any, pipeline: Sequence[PipelineStep]) -> dict:
    """After a stage's tasks completed: records per file of its data folder, checked against what its
    writer counted. Returns the ledger's `data` part."""
    from curate.io import RecordWriter

    writer = pipeline[-1] if pipeline else None
    writes_data = isinstance(writer, RecordWriter) and (
        writer.output_folder.path.rstrip("/") == get_datafolder(str(data_dir)).path.rstrip("/")
    )
    written = _writer_written(stage_dir, writer) if writes_data else None
    # a task that closed one file: that file, at the size it was closed at, holds the task's records
    closed = {
        _first_part(name, writer): (size, records)
        for name, (records, size, files) in (written or {}).items()
        if files == 1
    }
    files = files_with_rows(get_datafolder(str(data_dir)), written=closed)
    found = {name: rows for name, (rows, _, _) in files.items()}
    if writes_data:
        expected = None if written is None else {name: records for name, (records, _, _) in written.items()}
        if expected is not None:
            per_task: dict[str, int] = {}
            for name, rows in found.items():
                task_file = _task_file(name, writer)
                per_task[task_file] = per_task.get(task_file, 0) + rows
            shown = {name: _first_part(name, writer) for name in expected.keys() | per_task.keys()}
            problems = _differences(
                {shown[k]: v for k, v in per_task.items()},
                {shown[k]: v for k, v in expected.items()},
                f"stage {stage!r}",
            )
            if problems:
                raise LedgerError(
                    f"stage {stage!r}: its data folder {data_dir} does not hold what it wrote: "
                    f"{_summary(problems)}. Delete {posixpath.join(str(stage_dir), 'logs', 'completions')} "
                    "and rerun to redo the stage"
                )
    return _data_part(files)


def upstream_of(pipeline: Sequence[PipelineStep]) -> tuple[BaseDiskReader, str, str] | None:
    """(reader, stage name, stage folder) when the stage starts by reading a stage's `data/` folder."""
    from curate.io import RecordReader

    reader = pipeline[0] if pipeline else None
    if not isinstance(reader, RecordReader):
        return None
    data_path = reader.data_folder.path.rstrip("/")
    stage_path = posixpath.dirname(data_path)
    if (
        posixpath.basename(data_path) != "data"
        or posixpath.basename(posixpath.dirname(stage_path)) != "stages"
    ):
        return None  # records from elsewhere (e.g. a user's folder): no ledger to compare with
    return reader, posixpath.basename(stage_path), stage_path


def check_input(stage: str, pipeline: Sequence[PipelineStep]) -> dict | None:
    """Before a stage runs: the files its reader will read are exactly those the stage that wrote
    them recorded. Returns the ledger's `input` part (upstream stage, its records), or None."""
    found_upstream = upstream_of(pipeline)
    if found_upstream is None:
        return None
    reader, upstream, stage_path = found_upstream
    folder = DataFolder(stage_path, fs=reader.data_folder.fs)
    ledger = None
    if folder.isfile(LEDGER):
        with folder.open(LEDGER, "rt") as f:
            ledger = json.load(f)
    if ledger is None or "data" not in ledger:
        raise LedgerError(
            f"stage {stage!r} reads the records of stage {upstream!r}, which has not finished "
            f"(no {posixpath.join(stage_path, LEDGER)}): run stage {upstream!r} first (a rerun resumes it)"
        )
    if ledger.get("failed"):
        raise LedgerError(
            f"stage {stage!r} reads the records of stage {upstream!r}, which failed: {ledger['failed']}"
        )
    expected = ledger["data"]["files"]
    found = rows_per_file(reader.data_folder, reader, ledger["data"].get("versions"))
    problems = _differences(found, expected, f"stage {upstream!r}")
    if problems:
        raise LedgerError(
            f"stage {stage!r}: its input {reader.data_folder.path} changed since stage {upstream!r} wrote it: "
            f"{_summary(problems)}. Delete {posixpath.join(stage_path, 'logs', 'completions')} and rerun "
            f"to redo stage {upstream!r}"
        )
    return {"stage": upstream, "records": ledger["data"]["records"]}


def data_changes(stage_dir: Any, entry: dict) -> str | None:
    """What changed in a finished stage's `data/` since its ledger was written (for the report), or None."""
    recorded = (entry.get("data") or {}).get("files")
    if recorded is None:
        return None
    found = rows_per_file(
        get_datafolder(posixpath.join(str(stage_dir), "data")), known=entry["data"].get("versions")
    )
    problems = _differences(found, recorded, "the stage")
    return f"data/ changed since the stage finished: {_summary(problems)}" if problems else None


def check_input_count(stage: str, input_part: dict | None, records_in: int) -> str | None:
    """After a stage ran: why its input count differs from what its upstream stage kept, or None."""
    if input_part is None or records_in == input_part["records"]:
        return None
    return (
        f"stage {stage!r} read {records_in} records, but stage {input_part['stage']!r} "
        f"kept {input_part['records']}"
    )


def error_rate_problem(funnel, max_rate: float, min_records: int) -> str | None:
    """Why a stage's errors are too many to pass on (a systematic fault), or None."""
    if funnel is None or funnel.records_in < max(1, min_records):
        return None
    rate = funnel.errored_total / funnel.records_in
    if rate <= max_rate:
        return None
    reason, count = max(funnel.errored.items(), key=lambda kv: kv[1])
    return (
        f"stage {funnel.stage!r}: {funnel.errored_total} of {funnel.records_in} records errored "
        f"({rate:.0%} > max_error_rate={max_rate:g}); most often {reason} ({count}). "
        "See `curate report OUTPUT --errors`; if these inputs are expected to fail, rerun with "
        f"--set max_error_rate={min(1.0, round(rate + 0.05, 2)):g}"
    )
