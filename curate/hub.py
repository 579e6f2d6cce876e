"""Push a run's shards (WebDataset and/or Hub-native Parquet) to the Hugging Face Hub, with a dataset card.

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


def _manifest(output: Path, folder: str) -> dict | None:
    path = output / folder / MANIFEST
    return json.loads(path.read_text()) if path.exists() else None


def card_configs(output: Path) -> str:
    """The card's `configs`: Parquet files per layout (the Hub's viewer reads them) and the tar shards."""
    parquet, shards = _manifest(output, "parquet"), _manifest(output, "shards")
    configs = []
    for i, (layout, pattern) in enumerate(sorted((parquet or {}).get("configs", {}).items())):
        configs.append(("default" if i == 0 else layout, f"parquet/{pattern}"))
    if shards:
        configs.append(("default" if not configs else "webdataset", "shards/*.tar"))
    return "\n".join(
        f"- config_name: {name}\n  data_files:\n  - split: train\n    path: {path}" for name, path in configs
    )


def dataset_card(output: Path, repo: str) -> str:
    """What the dataset is, the funnel of the run, and how to load it."""
    manifest = _manifest(output, "shards") or {"total_samples": 0, "shards": [], "total_bytes": 0}
    parquet = _manifest(output, "parquet")
    run = json.loads((output / "run.json").read_text()) if (output / "run.json").exists() else {}
    order = run.get("stages")
    funnel = format_funnel(run_funnel(output, order)) if (output / "stages").exists() else "(no stage logs)"
    recipe = run.get("recipe", "curate")
    return f"""---
configs:
{card_configs(output)}
tags:
- webdataset
- curate
---
# {repo.split("/")[-1]}

A WebDataset made by the `curate` recipe `{recipe}`: {manifest["total_samples"]} samples in
{len(manifest["shards"])} tar shards ({manifest["total_bytes"]:,} bytes). Each sample has `KEY.json`
(text, metadata, scores{", QA turns in `texts`" if recipe == "docmatix" else ""}), its image(s) and
`KEY.txt`. `shards/manifest.json` lists every shard with its sample count and sha256.
{_parquet_note(parquet)}
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


def _parquet_note(parquet: dict | None) -> str:
    if not parquet:
        return ""
    return (
        f"\nThe same samples as Hub-native Parquet in `parquet/` ({parquet['total_samples']} rows): an `images` "
        "list and `texts` (QA turns `{user, assistant, source}`, or OBELICS's aligned texts), loaded by "
        "`load_dataset` and the dataset viewer; the tar shards are the `webdataset` config.\n"
    )


def push_plan(output: Path, repo: str) -> PushPlan:
    output = Path(output)
    files = []
    for folder, key in (("shards", "shards"), ("parquet", "files")):
        manifest_path = output / folder / MANIFEST
        if not manifest_path.exists():
            continue
        for entry in json.loads(manifest_path.read_text())[key]:
            path = output / folder / entry["name"]
            if not path.exists() or path.stat().st_size != entry["bytes"]:
                raise FileNotFoundError(f"{path} is missing or not the size the manifest says")
            files.append((f"{folder}/{entry['name']}", entry["bytes"]))
        files.append((f"{folder}/{MANIFEST}", manifest_path.stat().st_size))
    if not files:
        raise FileNotFoundError(f"{output} has no shards/{MANIFEST}: run a recipe to the end first")
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
