"""Helpers for tests that compare runs: real PDFs copied into an input folder, and what each sample of
an output holds, as a digest."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable
from pathlib import Path

from curate.output.loader import make_dataset


def copy_pdfs(shared_data: Path, names: Iterable[str], dest: Path) -> Path:
    """The PDFs `names` (paths under shared_data/pdf) copied into `dest`, in their sub-folders."""
    for name in names:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shared_data / "pdf" / name, dest / name)
    return dest


def sample_digests(output: str | Path) -> dict[str, str]:
    """Sample key -> sha256 of its members and its JSON, streamed with webdataset (URLs through fsspec);
    a key seen twice fails."""
    found = {}
    for sample in make_dataset(output, decode_images=False):
        digest = hashlib.sha256()
        for member in sorted(k for k in sample if not k.startswith("__") and k not in ("image", "json")):
            value = sample[member]
            digest.update(member.encode() + (value if isinstance(value, bytes) else value.encode()))
        digest.update(json.dumps(sample["json"], sort_keys=True).encode())
        assert sample["__key__"] not in found, "duplicate sample"
        found[sample["__key__"]] = digest.hexdigest()
    return found
