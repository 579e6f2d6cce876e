"""Stream the shards into training: a rank-aware, resumable PyTorch loader, or Hugging Face `datasets`.

What `make_dataloader` guarantees, on one process or on every rank of a multi-GPU job:

- **Every rank gets the same number of batches per epoch.** The plan is made from the manifest's
  per-shard sample counts, not by handing whole shards to ranks: the epoch's samples (shards in a
  seeded order that is the same on every rank) are cut into `world_size` contiguous, equal ranges,
  and each rank's range into equal per-worker ranges. The remainder (`total % world_size` samples)
  is dropped (`tail="drop"`, default) or filled by repeating samples from the start of the epoch
  (`tail="pad"`, each repeat marked `__padded__: True`), so a DDP job never hangs on a rank that ran out.
- **Every sample at most once per epoch** across ranks and workers (exactly once with `tail="pad"`
  except the marked repeats).
- **Shuffling**: the shard order is shuffled per epoch with `seed + epoch` (identical on every rank,
  which is what makes the ranges disjoint); samples are shuffled within a worker by a buffer of
  `shuffle` samples, seeded by (seed, epoch, rank, worker).
- **Resumable mid-epoch**: `loader.state_dict()` after k batches and `load_state_dict()` in a new
  process continue with the next unseen samples: none repeated, none skipped. The state counts, per
  worker, the samples of batches already *delivered* to the training loop (prefetched batches are
  produced again after a restart).

Rank and world size come from `torch.distributed` when it is initialised (DataLoader workers do not
see the process group, so they are passed in), else from `RANK`/`WORLD_SIZE` (torchrun), else 0/1.

    from curate.output.loader import make_dataloader
    loader = make_dataloader("out/docmatix", batch_size=8, num_workers=2, shuffle=1000)
    for epoch in range(3):
        loader.set_epoch(epoch)
        for batch in loader:
            images, metas = batch["image"], batch["json"]
"""

from __future__ import annotations

import io
import json
import os
import random
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from torch.utils.data import IterableDataset

from curate.output.shards import read_samples, shard_paths

# Shards on an object store stream through fsspec (webdataset has no handler of its own for these);
# registered at import, so DataLoader workers that import this module have it too.
_FSSPEC_SCHEMES = ("s3", "s3a", "gcs", "az", "abfs", "abfss")


def _gopen_fsspec(url: str, mode: str = "rb", bufsize: int = 8192, **kw):
    import fsspec

    return fsspec.open(url, mode).open()


def _register_fsspec_schemes() -> None:
    from webdataset.gopen import gopen_schemes

    for scheme in _FSSPEC_SCHEMES:
        gopen_schemes.setdefault(scheme, _gopen_fsspec)


_register_fsspec_schemes()


_IMAGE_EXTENSIONS = ("png", "jpg", "jpeg", "webp", "gif", "tif")


# --- the plan: which samples of which shards each rank and worker reads ------------------------------


@dataclass(frozen=True)
class Segment:
    """Samples `start` to `stop` (exclusive) of one shard, in its stored order."""

    url: str
    start: int
    stop: int
    padded: bool = False  # repeats of the epoch's first samples that fill the last rank (`tail="pad"`)


def shard_counts(output: str | Path | list[str]) -> list[tuple[str, int]]:
    """(shard URL, sample count) in manifest order; for a plain list of shards, counted from their tar headers."""
    if isinstance(output, list):
        return [(url, _count_samples(url)) for url in output]
    import fsspec

    folder = str(output).rstrip("/")
    for candidate in (f"{folder}/shards", folder):
        manifest = f"{candidate}/manifest.json"
        fs, path = fsspec.core.url_to_fs(manifest)
        if fs.exists(path):
            with fs.open(path) as f:
                shards = json.load(f)["shards"]
            return [(f"{candidate}/{_shard_name(s, manifest)}", int(s["samples"])) for s in shards]
    return [(url, _count_samples(url)) for url in shard_paths(output)]


class BadShard(ValueError):
    """A shard (or one of its samples) that cannot be read as written: names the shard and the key."""


def _shard_name(entry: dict, manifest: str) -> str:
    name = str(entry.get("name", ""))
    if not name or "/" in name or name in (".", ".."):
        raise BadShard(f"{manifest} names a shard outside its folder: {name[:200]!r}")
    return name


def verify_checksums(output: str | Path) -> int:
    """Check every shard of a run against the sha256 its manifest lists (reads every shard once);
    raise BadShard naming the first one that differs or is missing. Returns the shards checked."""
    import hashlib

    import fsspec

    folder = str(output).rstrip("/")
    for candidate in (f"{folder}/shards", folder):
        fs, path = fsspec.core.url_to_fs(f"{candidate}/manifest.json")
        if fs.exists(path):
            break
    else:
        raise FileNotFoundError(f"{output} has no manifest.json to check its shards against")
    with fs.open(path) as f:
        shards = json.load(f)["shards"]
    for entry in shards:
        url = f"{candidate}/{_shard_name(entry, path)}"
        expected = entry.get("sha256")
        if not expected:
            raise BadShard(f"{path} lists no sha256 for {entry['name']}: nothing to check it against")
        try:
            with fsspec.open(url, "rb") as f:
                digest = hashlib.file_digest(f, "sha256").hexdigest()
        except FileNotFoundError:
            raise BadShard(f"shard {url} is missing (listed in {path})") from None
        if digest != expected:
            raise BadShard(f"shard {url}: sha256 {digest} is not the manifest's {expected}: damaged or changed")
    return len(shards)


def _count_samples(url: str) -> int:
    import fsspec

    with fsspec.open(url, "rb") as f:
        return sum(1 for _ in read_samples(f))


def plan_epoch(
    counts: list[tuple[str, int]],
    rank: int,
    world_size: int,
    epoch: int = 0,
    seed: int = 0,
    shuffle_shards: bool = True,
    tail: str = "drop",
) -> list[Segment]:
    """The segments rank `rank` reads in `epoch`: a contiguous 1/world_size of the epoch's sample order."""
    if tail not in ("drop", "pad"):
        raise ValueError(f"tail must be 'drop' or 'pad', got {tail!r}")
    order = list(counts)
    if shuffle_shards:
        random.Random(seed * 1_000_003 + epoch).shuffle(order)  # same on every rank
    total = sum(n for _, n in order)
    per_rank = -(-total // world_size) if tail == "pad" else total // world_size
    start = rank * per_rank
    return _slice(order, start, start + per_rank, total)


def _slice(order: list[tuple[str, int]], start: int, stop: int, total: int) -> list[Segment]:
    """Samples [start, stop) of the epoch's order; indexes past the end wrap to its start (padding)."""
    segments, offset = [], 0
    for url, n in order:
        lo, hi = max(start, offset), min(stop, offset + n)
        if lo < hi:
            segments.append(Segment(url, lo - offset, hi - offset))
        offset += n
    if stop > total and total:
        segments += [Segment(s.url, s.start, s.stop, True) for s in _slice(order, 0, stop - total, total)]
    return segments


def split_segments(segments: list[Segment], parts: int) -> list[list[Segment]]:
    """Cut a rank's segments into `parts` runs of equal length (the first `len % parts` one longer)."""
    total = sum(s.stop - s.start for s in segments)
    base, extra = divmod(total, parts)
    bounds = [0]
    for part in range(parts):
        bounds.append(bounds[-1] + base + (1 if part < extra else 0))
    out: list[list[Segment]] = []
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        run, offset = [], 0
        for s in segments:
            n = s.stop - s.start
            a, b = max(lo, offset), min(hi, offset + n)
            if a < b:
                run.append(Segment(s.url, s.start + a - offset, s.start + b - offset, s.padded))
            offset += n
        out.append(run)
    return out


# --- reading: tar members -> samples -------------------------------------------------------------------


def iter_shard(url: str, start: int = 0, stop: int | None = None) -> Iterator[dict]:
    """Raw samples (`__key__` plus member bytes by extension) `start`..`stop` of a local or fsspec shard."""
    import fsspec

    local = "://" not in url or url.startswith("file://")
    opened = (
        open(url.removeprefix("file://"), "rb", buffering=1 << 20) if local else fsspec.open(url, "rb").open()
    )
    index, last = -1, None
    try:
        with opened as f:
            for index, sample in enumerate(read_samples(f)):
                last = sample["__key__"]
                if stop is not None and index >= stop:
                    return
                if index >= start:
                    yield {**sample, "__url__": url}
    except (tarfile.TarError, EOFError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        after = f"after sample {last!r}" if last is not None else "before its first sample"
        raise BadShard(
            f"shard {url}: cannot be read {after} ({type(exc).__name__}: {exc}); "
            "curate.output.loader.verify_checksums checks every shard against the manifest"
        ) from exc
    if stop is not None and index < stop - 1:  # tarfile ends a stream quietly at a cut header
        after = f"after sample {last!r}" if last is not None else "before its first sample"
        raise BadShard(
            f"shard {url}: ends {after}, {index + 1} samples where the manifest says {stop}: truncated "
            "(curate.output.loader.verify_checksums checks every shard against the manifest)"
        )


def _decode_member(ext: str, value: bytes, decode_images: bool):
    last = ext.rsplit(".", 1)[-1]
    if last == "json":
        return json.loads(value)
    if last == "txt":
        return value.decode("utf-8")
    if decode_images and last in _IMAGE_EXTENSIONS:
        from PIL import Image

        image = Image.open(io.BytesIO(value))
        image.load()
        return image.convert("RGB") if image.mode not in ("RGB", "L") else image
    return value


def decode_sample(sample: dict, decode_images: bool = True) -> dict:
    """Decode members the way the shards are written: json, txt, images (PIL, RGB) and `image`, the first one."""
    out = dict(sample)
    for ext, value in sample.items():
        if not isinstance(value, bytes):
            continue
        try:
            out[ext] = _decode_member(ext, value, decode_images)
        except Exception as exc:  # a damaged member: say which, of which sample, of which shard
            raise BadShard(
                f"shard {sample.get('__url__', '?')}: sample {sample.get('__key__', '?')!r}, member {ext!r}: "
                f"cannot be decoded ({type(exc).__name__}: {str(exc)[:200]})"
            ) from exc
    images = sorted(k for k in sample if k.rsplit(".", 1)[-1] in _IMAGE_EXTENSIONS)
    out["image"] = out[images[0]] if images else None
    return out


# --- the PyTorch side --------------------------------------------------------------------------------


def distributed_rank() -> tuple[int, int]:
    """(rank, world size) of this process: torch.distributed when initialised, else torchrun's env."""
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
    except ImportError:
        pass
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


class ShardSamples(IterableDataset):
    """An `IterableDataset` of one rank's planned samples, split across DataLoader workers."""

    def __init__(
        self,
        counts: list[tuple[str, int]],
        rank: int,
        world_size: int,
        decode_images: bool = True,
        shuffle: int = 0,
        seed: int = 0,
        tail: str = "drop",
    ):
        self.counts, self.rank, self.world_size = counts, rank, world_size
        self.decode_images, self.shuffle, self.seed, self.tail = decode_images, shuffle, seed, tail
        self.epoch = 0
        self.skip: dict[int, int] = {}  # worker -> samples already delivered (resume)
        self.num_workers = 1
        self.worker_offset = 0

    def worker_segments(self, worker: int) -> list[Segment]:
        segments = plan_epoch(
            self.counts, self.rank, self.world_size, self.epoch, self.seed, self.shuffle > 0, self.tail
        )
        return split_segments(segments, self.num_workers)[worker]

    def samples_per_worker(self) -> list[int]:
        return [sum(s.stop - s.start for s in self.worker_segments(w)) for w in range(self.num_workers)]

    def _raw(self, worker: int) -> Iterator[dict]:
        for segment in self.worker_segments(worker):
            for sample in iter_shard(segment.url, segment.start, segment.stop):
                sample["__padded__"] = segment.padded
                yield sample

    def _shuffled(self, samples: Iterator[dict], worker: int) -> Iterator[dict]:
        if self.shuffle <= 1:
            yield from samples
            return
        rng = random.Random(f"{self.seed}/{self.epoch}/{self.rank}/{worker}")
        buffer: list[dict] = []
        for sample in samples:
            buffer.append(sample)
            if len(buffer) >= self.shuffle:
                yield buffer.pop(rng.randrange(len(buffer)))
        while buffer:
            yield buffer.pop(rng.randrange(len(buffer)))

    def __iter__(self) -> Iterator[dict]:
        from torch.utils.data import get_worker_info

        info = get_worker_info()
        # after a restart the DataLoader starts at its worker 0: rotate so the logical worker whose
        # batch came next before the restart comes first again, and the order is unchanged
        worker = ((info.id if info else 0) + self.worker_offset) % self.num_workers
        stream = self._shuffled(self._raw(worker), worker)
        for position, sample in enumerate(stream):
            if position < self.skip.get(worker, 0):
                continue  # delivered before the restart: read again (the order is seeded), not decoded
            sample["__worker__"] = worker
            yield decode_sample(sample, self.decode_images)


def _collate_as_lists(samples: list[dict]) -> dict[str, list]:
    """Keep each field a list: images differ in size and JSON in shape, so nothing is stacked."""
    keys = set().union(*samples)
    return {k: [s.get(k) for s in samples] for k in keys}


class ShardLoader:
    """A `torch.utils.data.DataLoader` over one rank's plan, with `set_epoch`, `state_dict`, `load_state_dict`.

    Iterating it runs one epoch; the next iteration starts the next epoch unless `set_epoch` says
    otherwise. Batches are dicts of lists (`__key__`, `json`, `txt`, `image`, the image members, ...).
    """

    def __init__(self, dataset: ShardSamples, batch_size: int, num_workers: int, **loader_kwargs):
        self.dataset, self.batch_size, self.num_workers = dataset, batch_size, num_workers
        self.loader_kwargs = loader_kwargs
        dataset.num_workers = max(1, num_workers)
        self.delivered = [0] * dataset.num_workers  # samples of the current epoch handed to the caller
        self._resumed = False

    @property
    def epoch(self) -> int:
        return self.dataset.epoch

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.dataset.epoch:
            self.dataset.epoch = epoch
            self.delivered = [0] * self.dataset.num_workers
            self.dataset.skip = {}

    def __len__(self) -> int:
        """Batches per epoch, the same on every rank."""
        return sum(-(-n // self.batch_size) for n in self.dataset.samples_per_worker())

    def __iter__(self) -> Iterator[dict]:
        from torch.utils.data import DataLoader

        if not self._resumed and any(self.delivered):
            self.set_epoch(self.dataset.epoch + 1)  # a new pass over a finished (or abandoned) epoch
        self._resumed = False
        self.dataset.skip = dict(enumerate(self.delivered))
        self.dataset.worker_offset = self._next_worker()
        loader = DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            collate_fn=_collate_as_lists,
            **self.loader_kwargs,
        )
        for batch in loader:
            workers = batch.pop("__worker__")
            self.delivered[workers[0]] += len(workers)  # a batch comes from one worker
            yield batch
        self.dataset.skip = {}

    def _next_worker(self) -> int:
        """The worker whose batch comes next: a DataLoader takes batches from its workers in turn,
        skipping those that have finished."""
        batches = [-(-n // self.batch_size) for n in self.dataset.samples_per_worker()]
        done = sum(-(-n // self.batch_size) for n in self.delivered)
        worker, order = 0, []
        while len(order) <= done and any(batches):
            if batches[worker]:
                order.append(worker)
                batches[worker] -= 1
            worker = (worker + 1) % len(batches)
        return order[done] if done < len(order) else 0

    def state_dict(self) -> dict:
        d = self.dataset
        return {
            "epoch": d.epoch,
            "seed": d.seed,
            "rank": d.rank,
            "world_size": d.world_size,
            "num_workers": d.num_workers,
            "shards": [url for url, _ in d.counts],
            "delivered": list(self.delivered),
        }

    def load_state_dict(self, state: dict) -> None:
        d = self.dataset
        mine = (d.seed, d.rank, d.world_size, d.num_workers, [url for url, _ in d.counts])
        saved = (state["seed"], state["rank"], state["world_size"], state["num_workers"], state["shards"])
        if mine != saved:
            raise ValueError(
                "this loader state was saved with another seed, rank, world size, worker count or shard "
                "list; resume with the same settings (a changed plan would repeat or skip samples)"
            )
        d.epoch = state["epoch"]
        self.delivered = list(state["delivered"])
        self._resumed = True


def make_dataloader(
    output: str | Path | list[str],
    batch_size: int = 8,
    num_workers: int = 2,
    decode_images: bool = True,
    shuffle: int = 0,
    seed: int = 0,
    tail: str = "drop",
    rank: int | None = None,
    world_size: int | None = None,
    verify: bool = False,
    **loader_kwargs,
) -> ShardLoader:
    """A resumable loader over a run's shards (local or fsspec URL), for this process's rank.

    `shuffle`: 0 reads shards in manifest order and samples in stored order; N > 0 shuffles the shard
    order per epoch and samples through a buffer of N. `tail`: "drop" or "pad" (see the module doc).
    `verify`: first check every shard against the manifest's sha256 (`verify_checksums`: reads them all).
    """
    if rank is None or world_size is None:
        rank, world_size = distributed_rank()
    if verify:
        verify_checksums(output)
    counts = shard_counts(output)
    if not counts:
        raise FileNotFoundError(f"no shards found in {output}")
    dataset = ShardSamples(counts, rank, world_size, decode_images, shuffle, seed, tail)
    return ShardLoader(dataset, batch_size, num_workers, **loader_kwargs)


def make_dataset(output: str | Path | list[str], decode_images: bool = True, shuffle: int = 0):
    """A plain `webdataset.WebDataset` over a run's shards (or a list of shard paths/URLs), for inspection
    and ad-hoc streaming. Training jobs should use `make_dataloader` (balanced ranks, resumable)."""
    import webdataset as wds

    urls = output if isinstance(output, list) else shard_paths(output)
    if not urls:
        raise FileNotFoundError(f"no shards found in {output}")
    dataset = wds.WebDataset(urls, shardshuffle=False, nodesplitter=None, empty_check=False)
    if shuffle:
        dataset = dataset.shuffle(shuffle)
    dataset = dataset.decode("pil") if decode_images else dataset.decode()
    return dataset.map(_with_first_image)


def _with_first_image(sample: dict) -> dict:
    images = sorted(k for k in sample if k.rsplit(".", 1)[-1] in _IMAGE_EXTENSIONS)
    sample["image"] = sample[images[0]] if images else None
    return sample


def load_hf_dataset(output: str | Path, split: str = "train"):
    """The shards as a Hugging Face `datasets.Dataset` (images decoded by `datasets`). For several ranks,
    `datasets.distributed.split_dataset_by_node(ds, rank, world_size)` gives each rank its part."""
    from datasets import load_dataset

    return load_dataset("webdataset", data_files={split: shard_paths(output)}, split=split)
