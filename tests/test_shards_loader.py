"""Shards are complete, checksummed and stream once per epoch into a DataLoader and `datasets`."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections import Counter

from PIL import Image

from curate.output.loader import load_hf_dataset, make_dataloader
from curate.output.shards import shard_paths


def test_manifest_matches_the_shards(pdf_run):
    folder = pdf_run / "shards"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert len(manifest["shards"]) >= 4  # shard_samples=20 for ~90 pages
    assert not list(folder.glob("*.tmp")), "a temporary shard was left behind"
    for shard in manifest["shards"]:
        path = folder / shard["name"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == shard["sha256"]
        assert path.stat().st_size == shard["bytes"]
        with tarfile.open(path) as tar:
            keys = Counter(member.name.split(".", 1)[0] for member in tar.getmembers())
        assert len(keys) == shard["samples"] <= 20
        assert all(n == 3 for n in keys.values())  # json + image + txt


def test_two_worker_dataloader_reads_each_sample_once(pdf_run):
    manifest = json.loads((pdf_run / "shards" / "manifest.json").read_text())
    seen = Counter()
    for batch in make_dataloader(pdf_run, batch_size=8, num_workers=2):
        seen.update(batch["__key__"])
        assert all(isinstance(image, Image.Image) for image in batch["image"])
    assert sum(seen.values()) == manifest["total_samples"]
    assert max(seen.values()) == 1


def test_load_dataset_webdataset_decodes_images(pdf_run):
    ds = load_hf_dataset(pdf_run)
    manifest = json.loads((pdf_run / "shards" / "manifest.json").read_text())
    assert len(ds) == manifest["total_samples"]
    row = ds[0]
    assert isinstance(row["png"], Image.Image) and row["png"].size[0] > 100
    assert row["json"]["kind"] == "page"
    assert len(set(ds["__key__"])) == len(ds)


def test_shards_are_plain_tar_that_other_tools_read(pdf_run):
    path = shard_paths(pdf_run)[0]
    with tarfile.open(path) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(".png"))
        image = Image.open(io.BytesIO(tar.extractfile(member).read()))
        image.verify()
