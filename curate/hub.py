"""Push a run's shards to the Hugging Face Hub as a dataset repo, with a dataset card.

Uses huggingface_hub's `upload_large_folder` (resumable, multi-threaded). The token comes from the
usual places (HF_TOKEN, `huggingface-cli login`) and is never printed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from curate.report import format_funnel, run_funnel
from curate.shards import MANIFEST

CARD = "README.md"


@dataclass
class PushPlan:
    repo: str
    folder: Path
    files: list[tuple[str, int]]  # (path in repo, bytes)

    @property
    def allow_patterns(self) -> list[str]:
        return [path for path, _ in self.files]

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self.files)

    def describe(self) -> str:
        lines = [
            f"push to https://huggingface.co/datasets/{self.repo} ({len(self.files)} files, {self.total_bytes:,} bytes):"
        ]
        lines += [f"  {path}  {size:,} B" for path, size in self.files]
        return "\n".join(lines)


def dataset_card(output: Path, repo: str) -> str:
    """What the dataset is, the funnel of the run, and how to load it."""
    manifest = json.loads((output / "shards" / MANIFEST).read_text())
    run = json.loads((output / "run.json").read_text()) if (output / "run.json").exists() else {}
    order = run.get("stages")
    funnel = format_funnel(run_funnel(output, order)) if (output / "stages").exists() else "(no stage logs)"
    recipe = run.get("recipe", "curate")
    return f"""---
configs:
- config_name: default
  data_files:
  - split: train
    path: shards/*.tar
tags:
- webdataset
- curate
---
# {repo.split("/")[-1]}

A WebDataset made by the `curate` recipe `{recipe}`: {manifest["total_samples"]} samples in
{len(manifest["shards"])} tar shards ({manifest["total_bytes"]:,} bytes). Each sample has `KEY.json`
(text, metadata, scores{", QA turns in `texts`" if recipe == "docmatix" else ""}), its image(s) and
`KEY.txt`. `shards/manifest.json` lists every shard with its sample count and sha256.

## How it was made

```
{funnel}
```

## Load it

With Hugging Face `datasets`:

```python
from datasets import load_dataset
ds = load_dataset("{repo}", split="train")
```

Streamed with `webdataset` into a PyTorch DataLoader (the manifest lists the shards):

```python
import json, webdataset as wds
from huggingface_hub import hf_hub_download
from torch.utils.data import DataLoader
manifest = json.load(open(hf_hub_download("{repo}", "shards/manifest.json", repo_type="dataset")))
urls = [f"https://huggingface.co/datasets/{repo}/resolve/main/shards/{{s['name']}}" for s in manifest["shards"]]
ds = wds.WebDataset(urls, nodesplitter=wds.split_by_node, workersplitter=wds.split_by_worker).decode("pil")
loader = DataLoader(ds, batch_size=None, num_workers=2)
```
"""


def push_plan(output: Path, repo: str) -> PushPlan:
    output = Path(output)
    manifest_path = output / "shards" / MANIFEST
    if not manifest_path.exists():
        raise FileNotFoundError(f"{output} has no shards/{MANIFEST}: run a recipe to the end first")
    manifest = json.loads(manifest_path.read_text())
    files = []
    for shard in manifest["shards"]:
        path = output / "shards" / shard["name"]
        if not path.exists() or path.stat().st_size != shard["bytes"]:
            raise FileNotFoundError(f"shard {path} is missing or not the size the manifest says")
        files.append((f"shards/{shard['name']}", shard["bytes"]))
    files.append((f"shards/{MANIFEST}", manifest_path.stat().st_size))
    card = dataset_card(output, repo)
    (output / CARD).write_text(card)
    files.append((CARD, len(card.encode())))
    if (output / "funnel.json").exists():
        files.append(("funnel.json", (output / "funnel.json").stat().st_size))
    return PushPlan(repo, output, files)


def push(output: Path, repo: str, private: bool = False, dry_run: bool = False) -> PushPlan:
    plan = push_plan(output, repo)
    print(plan.describe())
    if dry_run:
        print("dry run: nothing uploaded")
        return plan
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True)
    api.upload_large_folder(
        repo_id=repo, folder_path=str(plan.folder), repo_type="dataset", allow_patterns=plan.allow_patterns
    )
    print(f"pushed: https://huggingface.co/datasets/{repo}")
    return plan
