"""The training loader on several ranks: balanced, every sample at most once per epoch, resumable mid-epoch.

Shard sets are built from the real pages of ../shared/data/pdf (the `pdf_run` fixture): one shard
holding everything, and an unbalanced set (60 / 7 / the rest samples). Ranks are real processes on
the gloo backend, launched as `torch.multiprocessing.spawn` would (process group, no environment)
and as torchrun would (RANK/WORLD_SIZE in the environment).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from curate.output.loader import iter_shard, make_dataloader, plan_epoch, shard_counts, split_segments
from curate.output.shards import shard_paths

REPO = Path(__file__).resolve().parent.parent


def _reshard(run: Path, folder: Path, sizes: list[int]) -> list[str]:
    """The run's samples rewritten as shards of `sizes` samples (the last takes the rest), with a manifest."""
    samples = [s for url in shard_paths(run) for s in iter_shard(url)]
    folder.mkdir()
    bounds, start = [], 0
    for size in sizes:
        bounds.append((start, start + size))
        start += size
    bounds.append((start, len(samples)))
    entries = []
    for n, (lo, hi) in enumerate(bounds):
        if lo >= hi:
            continue
        path = folder / f"shard-{n:05d}.tar"
        with tarfile.open(path, "w") as tar:
            for sample in samples[lo:hi]:
                for ext, data in sample.items():
                    if isinstance(data, bytes):
                        info = tarfile.TarInfo(f"{sample['__key__']}.{ext}")
                        info.size = len(data)
                        import io

                        tar.addfile(info, io.BytesIO(data))
        entries.append({"name": path.name, "samples": hi - lo, "bytes": path.stat().st_size, "sha256": ""})
    (folder / "manifest.json").write_text(json.dumps({"shards": entries}))
    return [s["__key__"] for s in samples]


@pytest.fixture(scope="module")
def shard_sets(pdf_run, tmp_path_factory):
    root = tmp_path_factory.mktemp("shard_sets")
    keys = _reshard(pdf_run, root / "one", [])
    _reshard(pdf_run, root / "unbalanced", [60, 7])
    return {"one": root / "one", "unbalanced": root / "unbalanced", "keys": keys}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


RANK_SCRIPT = """
import json, os, sys
import torch.distributed as dist
from curate.output.loader import make_dataloader

folder, out, mode, rank, world, port = sys.argv[1:7]
rank, world = int(rank), int(world)
if mode == "group":  # as torch.multiprocessing.spawn: a process group, no RANK/WORLD_SIZE
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
loader = make_dataloader(folder, batch_size=4, num_workers=2, decode_images=False, shuffle=16, seed=7)
batches = [batch["__key__"] for batch in loader]
json.dump({"len": len(loader), "batches": batches}, open(out, "w"))
if mode == "group":
    dist.barrier()
    dist.destroy_process_group()
"""


def _run_ranks(folder: Path, tmp: Path, mode: str, world: int = 2) -> list[dict]:
    port = _free_port()
    procs = []
    for rank in range(world):
        env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
        if mode == "env":
            env.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
        args = [sys.executable, "-c", RANK_SCRIPT, str(folder), str(tmp / f"{mode}-{rank}.json")]
        procs.append(subprocess.Popen([*args, mode, str(rank), str(world), str(port)], env=env))
    for proc in procs:
        assert proc.wait(timeout=300) == 0
    return [json.loads((tmp / f"{mode}-{rank}.json").read_text()) for rank in range(world)]


@pytest.mark.parametrize("shards", ["one", "unbalanced"])
@pytest.mark.parametrize("mode", ["group", "env"])
def test_two_ranks_get_equal_batches_and_disjoint_samples(shard_sets, tmp_path, shards, mode):
    results = _run_ranks(shard_sets[shards], tmp_path, mode)
    everything = shard_sets["keys"]
    counts = [len(r["batches"]) for r in results]
    assert counts[0] == counts[1] == results[0]["len"] == results[1]["len"]
    seen = [key for r in results for batch in r["batches"] for key in batch]
    assert len(seen) == len(set(seen)), "a sample was read twice in one epoch"
    assert set(seen) <= set(everything)
    assert len(seen) == len(everything) - len(everything) % 2  # the documented tail: total % world dropped


def test_pad_fills_the_last_rank_with_marked_repeats(shard_sets):
    folder = shard_sets["unbalanced"]
    total = len(shard_sets["keys"])
    world = 3 if total % 3 else 4
    per_rank = []
    for rank in range(world):
        loader = make_dataloader(
            folder, batch_size=5, num_workers=0, decode_images=False, tail="pad", rank=rank, world_size=world
        )
        per_rank.append([(k, p) for b in loader for k, p in zip(b["__key__"], b["__padded__"], strict=True)])
    assert len({len(samples) for samples in per_rank}) == 1
    real = [k for samples in per_rank for k, padded in samples if not padded]
    padded = [k for samples in per_rank for k, padded in samples if padded]
    assert sorted(real) == sorted(shard_sets["keys"])  # every sample exactly once, plus marked repeats
    assert 0 < len(padded) < world and set(padded) <= set(real)


RESUME_SCRIPT = """
import json, sys
from curate.output.loader import make_dataloader

folder, state_file, out, stop_after = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
loader = make_dataloader(folder, batch_size=4, num_workers=2, decode_images=False, shuffle=32, seed=3,
                         rank=0, world_size=1)
if stop_after < 0:  # the restarted job: continue from the saved state
    loader.load_state_dict(json.load(open(state_file)))
seen = []
for i, batch in enumerate(loader):
    seen.extend(batch["__key__"])
    if i + 1 == stop_after:
        json.dump(loader.state_dict(), open(state_file, "w"))
        break  # the job dies here
json.dump(seen, open(out, "w"))
"""


def test_resume_mid_epoch_neither_repeats_nor_skips(shard_sets, tmp_path):
    folder, state = shard_sets["unbalanced"], tmp_path / "state.json"

    def run(out: str, stop_after: int) -> list[str]:
        args = [
            sys.executable,
            "-c",
            RESUME_SCRIPT,
            str(folder),
            str(state),
            str(tmp_path / out),
            str(stop_after),
        ]
        subprocess.run(args, check=True, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=300)
        return json.loads((tmp_path / out).read_text())

    before = run("before.json", 5)
    after = run("after.json", -1)
    full = run("full.json", 0)  # an uninterrupted epoch with the same seed
    assert len(before) == 20
    assert not set(before) & set(after), "a sample delivered before the restart came again"
    assert sorted(before + after) == sorted(full) == sorted(shard_sets["keys"])
    assert before + after == full  # the same order: the shuffle is seeded


def test_plan_is_balanced_for_any_world_size(shard_sets):
    counts = shard_counts(shard_sets["unbalanced"])
    total = sum(n for _, n in counts)
    for world in (1, 2, 3, 8):
        plans = [plan_epoch(counts, r, world, epoch=1, seed=5) for r in range(world)]
        sizes = [sum(s.stop - s.start for s in plan) for plan in plans]
        assert sizes == [total // world] * world
        positions = [(s.url, i) for plan in plans for s in plan for i in range(s.start, s.stop)]
        assert len(positions) == len(set(positions))
        for plan in plans:
            parts = split_segments(plan, 2)
            assert sum(s.stop - s.start for part in parts for s in part) == total // world


def test_epochs_shuffle_differently_and_each_covers_the_set(shard_sets):
    loader = make_dataloader(
        shard_sets["unbalanced"],
        batch_size=8,
        num_workers=0,
        decode_images=False,
        shuffle=16,
        rank=0,
        world_size=1,
    )
    first = [k for b in loader for k in b["__key__"]]
    second = [k for b in loader for k in b["__key__"]]  # the next iteration is the next epoch
    assert loader.epoch == 1
    assert sorted(first) == sorted(second) == sorted(shard_sets["keys"])
    assert first != second
