"""Training loader: our rank-aware, resumable loader vs raw tar iteration of the same shards.

Shards: the real photos of ../shared/data/images/photos, repeated to 3,000 samples in shards of
1,000 / 1,000 / 700 / 300 (an unbalanced set, as a run with several tasks used to leave). Both sides
use a torch DataLoader with the same worker count and batch size; the baseline is webdataset's own tar
iteration split by worker (`wds.WebDataset`), the fastest plain way to stream these shards.
Balance: samples per rank for 2, 3 and 8 ranks, ours vs webdataset's split of whole shards by node.
"""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
SIZES = [1000, 1000, 700, 300]
WORKERS, BATCH = 2, 32


def build_shards(folder: Path) -> list[str]:
    photos = sorted(
        p for p in (SHARED / "images" / "photos").rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")
    )
    if not photos:
        raise SystemExit(f"skipped: no photos under {SHARED / 'images' / 'photos'}")
    blobs = [(p.suffix.lower().lstrip(".").replace("jpeg", "jpg"), p.read_bytes()) for p in photos]
    shards, n = [], 0
    for index, size in enumerate(SIZES):
        path = folder / f"shard-{index:05d}.tar"
        with tarfile.open(path, "w") as tar:
            for _ in range(size):
                ext, data = blobs[n % len(blobs)]
                for member, payload in (
                    (f"s{n:06d}.{ext}", data),
                    (f"s{n:06d}.json", json.dumps({"id": n}).encode()),
                ):
                    info = tarfile.TarInfo(member)
                    info.size = len(payload)
                    tar.addfile(info, io.BytesIO(payload))
                n += 1
        shards.append({"name": path.name, "samples": size, "bytes": path.stat().st_size, "sha256": ""})
    (folder / "manifest.json").write_text(json.dumps({"shards": shards}))
    return [str(folder / s["name"]) for s in shards]


def raw_rate(urls: list[str], decode: bool) -> float:
    import webdataset as wds
    from torch.utils.data import DataLoader

    from curate.output.loader import _collate_as_lists

    dataset = wds.WebDataset(
        urls, shardshuffle=False, nodesplitter=None, workersplitter=wds.split_by_worker, empty_check=False
    )
    # the same work as ours: json/txt decoded (images too when `decode`), batches collated as lists
    dataset = dataset.decode("pil") if decode else dataset.decode()
    loader = DataLoader(dataset, batch_size=BATCH, num_workers=WORKERS, collate_fn=_collate_as_lists)
    started, count = time.perf_counter(), 0
    for batch in loader:
        count += len(batch["__key__"])
    return count / (time.perf_counter() - started)


def our_rate(folder: Path, decode: bool) -> float:
    from curate.output.loader import make_dataloader

    loader = make_dataloader(
        folder, batch_size=BATCH, num_workers=WORKERS, decode_images=decode, rank=0, world_size=1
    )
    started, count = time.perf_counter(), 0
    for batch in loader:
        count += len(batch["__key__"])
    return count / (time.perf_counter() - started)


def main() -> None:
    from curate.output.loader import plan_epoch, shard_counts

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        urls = build_shards(folder)
        total = sum(SIZES)
        print(f"{total} samples in shards of {SIZES}; {WORKERS} workers, batch {BATCH}")
        for decode in (False, True):
            raw = max(raw_rate(urls, decode) for _ in range(2))
            ours = max(our_rate(folder, decode) for _ in range(2))
            label = "decoded images" if decode else "bytes only    "
            print(
                f"  {label}: raw tar (webdataset) {raw:8.0f} samples/s | ours {ours:8.0f} samples/s | {ours / raw:.2f}x"
            )
        counts = shard_counts(folder)
        print("balance (samples per rank in one epoch):")
        for world in (2, 3, 8):
            ours = [sum(s.stop - s.start for s in plan_epoch(counts, r, world)) for r in range(world)]
            by_shard = [sum(n for i, (_, n) in enumerate(counts) if i % world == r) for r in range(world)]
            print(
                f"  {world} ranks: ours {ours} (tail dropped: {total - sum(ours)}) | whole shards by node {by_shard}"
            )
