"""Task plans: the driver lists a stage's input once and hands every task its share.

The listing (names and sizes, one listing request on an object store) becomes `stages/NAME/inputs.txt`,
one work unit a line, and the stage's reader reads it as datatrove's `paths_file`: task r reads lines
r, r + tasks, r + 2 * tasks, ... Units go to tasks by size, largest first to the task with the fewest
bytes so far (empty lines pad the shorter shares), so one task does not get all the big files. No task
lists the input folder, the number of tasks is free of the number of files up to one task per unit (a
`--tasks` above that makes no task with nothing to read: on Ray each would cost a round trip, a log and
a marker), and a rerun reuses the same plan, so a resumed stage gives every unit to the same task.

A work unit is a file, or for record stages (Parquet) a range of one file's row groups,
`NAME.parquet::rg=START-END`: a stage after a large one is split by rows, not by its input's file count.
"""

from __future__ import annotations

import heapq
import json
import math
from dataclasses import dataclass
from glob import has_magic

from datatrove.pipeline.readers.base import BaseDiskReader

from curate.io import ROW_GROUPS
from curate.location import is_url, location, parquet_footers, write_text_atomic
from curate.names import plan_line, plan_name

PLAN_FILE = "inputs.txt"
PLAN_INFO = "plan.json"
# default tasks: every worker slot gets this many, so a slow task does not hold up the stage's end
TASKS_PER_SLOT = 3


class PlanMismatch(ValueError):
    pass


@dataclass
class InputPlan:
    units: list[str]
    sizes: list[int]
    tasks: int
    listed_files: int = 0
    balanced: bool = True  # False for a reader that cannot skip padding lines: plain round-robin

    def shares(self) -> list[list[int]]:
        """Unit indices of each task: largest unit first, each to the task with the fewest bytes so far."""
        if not self.balanced:
            return [list(range(rank, len(self.units), self.tasks)) for rank in range(self.tasks)]
        shares: list[list[int]] = [[] for _ in range(self.tasks)]
        load = [(0, rank) for rank in range(self.tasks)]
        heapq.heapify(load)
        for unit in sorted(range(len(self.units)), key=lambda i: (-self.sizes[i], i)):
            total, rank = heapq.heappop(load)
            shares[rank].append(unit)
            heapq.heappush(load, (total + self.sizes[unit], rank))
        # in listing order, within a task and across tasks (task 0 holds the first unit), so "the first
        # record" (e.g. the copy dedup keeps) follows the input's order as with a plain round-robin
        for share in shares:
            share.sort()
        return sorted(shares, key=lambda share: share[0] if share else len(self.units))

    def lines(self) -> list[str]:
        """The paths file: line i is read by task i % tasks; empty lines pad shorter shares."""
        shares = self.shares()
        depth = max((len(share) for share in shares), default=0)
        return [
            plan_line(self.units[shares[rank][row]]) if row < len(shares[rank]) else ""
            for row in range(depth)
            for rank in range(self.tasks)
        ]

    def rank_sizes(self) -> dict[int, int]:
        return {rank: sum(self.sizes[i] for i in share) for rank, share in enumerate(self.shares())}


def list_inputs(reader: BaseDiskReader) -> dict[str, int]:
    """The reader's input files with their sizes, from one listing (datatrove's glob rules)."""
    folder = reader.data_folder
    maxdepth = None if reader.recursive else 1
    pattern = reader.glob_pattern
    if pattern:
        if not has_magic(pattern):
            pattern = f"*{pattern}"
        found = folder.glob(pattern, maxdepth=maxdepth, detail=True)
    else:
        found = folder.find("", maxdepth=maxdepth, detail=True)
    return {
        name: int(info.get("size") or 0)
        for name, info in sorted(found.items())
        if info.get("type") != "directory"
    }


def row_group_units(
    reader: BaseDiskReader, files: dict[str, int], wanted: int
) -> tuple[list[str], list[int]]:
    """Split Parquet files into about `wanted` units of consecutive row groups (the footers read
    concurrently, one ranged read a file)."""
    footers = parquet_footers(reader.data_folder, files)
    groups: list[tuple[str, list[int]]] = [
        (name, [meta.row_group(i).total_byte_size for i in range(meta.num_row_groups)])
        for name, meta in footers.items()
    ]
    total = sum(len(sizes) for _, sizes in groups)
    per_unit = max(1, math.floor(total / max(1, wanted)))
    units, unit_sizes = [], []
    for name, sizes in groups:
        # a file's row groups are uncompressed sizes: scale to the file's bytes for the size order
        scale = files[name] / max(1, sum(sizes))
        for start in range(0, len(sizes), per_unit):
            end = min(len(sizes), start + per_unit)
            units.append(f"{name}{ROW_GROUPS}{start}-{end}")
            unit_sizes.append(int(sum(sizes[start:end]) * scale))
    return units, unit_sizes


def make_plan(
    reader: BaseDiskReader, tasks: int | None, slots: int, bytes_per_task: int | None = None
) -> InputPlan:
    """Work units and task count: `tasks` if given, else one task per `bytes_per_task` of input when
    that is set (e.g. one per shard), else enough for every slot TASKS_PER_SLOT times; never more
    tasks than work units (at least one)."""
    files = list_inputs(reader)
    if bytes_per_task:
        wanted = tasks or max(1, math.ceil(sum(files.values()) / bytes_per_task))
    else:
        wanted = tasks or max(1, slots * TASKS_PER_SLOT)
    units, sizes = list(files), list(files.values())
    if getattr(reader, "splits_row_groups", False) and 0 < len(files) < wanted:
        units, sizes = row_group_units(reader, files, wanted)
    count = max(1, min(wanted, len(units)))
    balanced = getattr(reader, "skips_empty_paths", False)
    return InputPlan(units, sizes, count, listed_files=len(files), balanced=balanced)


def plan_for_stage(
    stage_dir,
    reader: BaseDiskReader,
    tasks: int | None,
    slots: int,
    resumable: bool,
    bytes_per_task: int | None = None,
) -> InputPlan:
    """The stage's plan: the one saved by an earlier attempt when some of its tasks completed (so each
    unit stays with its task), else a new one written to `stage_dir/inputs.txt`."""
    stage_dir = location(stage_dir)
    info_path = stage_dir / PLAN_INFO
    if resumable and info_path.exists():
        info = json.loads(info_path.read_text())
        asked = info.get("asked") or info["tasks"]  # --tasks of the first attempt (above the units: capped)
        if tasks and tasks not in (asked, info["tasks"]):
            raise PlanMismatch(
                f"{stage_dir} was started with --tasks {asked}, not {tasks}: rerun with "
                f"--tasks {asked} to resume it, or delete that folder to start the stage again"
            )
        units = [plan_name(line) for line in (stage_dir / PLAN_FILE).read_text().splitlines() if line]
        plan = InputPlan(units, [0] * len(units), info["tasks"], info.get("files", 0))
        rank_bytes = info.get("rank_bytes", [])
        plan.rank_sizes = lambda: dict(enumerate(rank_bytes))  # type: ignore[method-assign]
        return plan
    plan = make_plan(reader, tasks, slots, bytes_per_task)
    if not is_url(stage_dir):
        stage_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(stage_dir / PLAN_FILE, "".join(f"{line}\n" for line in plan.lines()))
    sizes = plan.rank_sizes()  # once: a call shares the units out again (once a rank: 11 s at 2,000 tasks)
    rank_bytes = [sizes[r] for r in range(plan.tasks)]
    write_text_atomic(
        info_path,
        json.dumps({"tasks": plan.tasks, "asked": tasks, "units": len(plan.units), "files": plan.listed_files,
                    "rank_bytes": rank_bytes}),
    )  # fmt: skip
    return plan
