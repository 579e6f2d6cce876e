"""Push a run's output to the Hugging Face Hub as a dataset repo, with a dataset card that shows how it
was made: the funnel and every score's histogram with the threshold applied (PNG charts beside the
card), the recipe's options, and how licences and opt-outs were handled.

The output may be a local folder or any fsspec URL (`s3://...`): files are read through fsspec.
Uploads use huggingface_hub's `upload_folder` (2.x: with hf_xet installed, a streamed upload committed
in several commits that a rerun resumes; without it, one commit over the LFS protocol). The push goes
in batches (`batch_bytes`), shards first and the card last, so an interrupted push leaves whole
commits on the Hub and the card never names shards that are not there. A rerun first lists what the
repo already has and skips every file whose sha256 (shards: from the manifest) or git blob id matches,
so finished shards are neither read nor sent again. The token comes from the usual places (HF_TOKEN,
`hf auth login`) and is never printed or written.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import fsspec

from curate.errors import UserError
from curate.output.card_provenance import models_section, reproduce_section, stages_section
from curate.output.shards import MANIFEST
from curate.run.report import StageFunnel, run_funnel

CARD = "README.md"
CHARTS = "images"  # folder of the card's charts in the repo
DEFAULT_BATCH_BYTES = 5 << 30  # staged (downloaded, for object-store outputs) and uploaded at once
TABLE_FOLDERS = ("parquet",)  # other output formats a run may write beside shards/, pushed as they are
SKIPPED_FOLDERS = ("stages", "report", "shards")  # internal state, the HTML report; shards go by manifest

# recipes whose samples hold a varying number of images (members 0.png, 1.png, ...): `datasets`'
# WebDataset loader types its columns from the first samples and refuses archives whose samples differ,
# so their card makes the Parquet copy (one `images` list a row) the default config when there is one
VARYING_MEMBERS = ("interleaved", "docmatix")

# what each recipe's samples are for, in the card's `task_categories`
TASKS = {
    "docmatix": ["visual-question-answering", "image-text-to-text"],
    "pdf-pages": ["image-to-text"],
    "interleaved": ["image-text-to-text"],
    "pairs": ["image-to-text", "text-to-image"],
}


@dataclass
class HubFile:
    """One file of the push: read from the output (`location`) or made here (`content`)."""

    path: str  # path in the repo
    size: int
    sha256: str | None = None  # known in advance for shards (the manifest), else computed
    location: str | None = None  # fsspec path in the output
    content: bytes | None = None

    def digest(self, fs) -> str:
        if self.sha256 is None:
            if self.content is not None:
                self.sha256 = hashlib.sha256(self.content).hexdigest()
            else:
                with fs.open(self.location, "rb") as f:
                    self.sha256 = hashlib.file_digest(f, "sha256").hexdigest()
        return self.sha256


@dataclass
class PushPlan:
    repo: str
    output: str
    files: list[HubFile] = field(default_factory=list)

    @property
    def allow_patterns(self) -> list[str]:
        return [f.path for f in self.files]

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def describe(self) -> str:
        lines = [f"push to dataset {self.repo} ({len(self.files)} files, {self.total_bytes:,} bytes):"]
        lines += [f"  {f.path}  {f.size:,} B" for f in self.files]
        return "\n".join(lines)


def _join(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *parts])


def _read_json(fs, path: str, default=None):
    if not fs.exists(path):
        return default
    with fs.open(path, "rb") as f:
        return json.load(f)


def _is_local(output: str) -> bool:
    return "://" not in output or output.startswith("file://")


class LinkInOutput(UserError, ValueError):
    """The output folder holds a symbolic link (or a name leaving it) where a file to push was expected."""


def _check_regular(root: str, path: str) -> None:
    """`path` (in a local output `root`) must be a regular file inside it, reached through no symbolic
    link: a link `parquet/x.parquet -> /some/secret` (or a linked folder) would upload what it points
    to. Object stores have no links: only local outputs are checked."""
    shown = path[len(root.rstrip("/")) + 1 :] if path.startswith(root.rstrip("/") + "/") else path
    base = os.path.realpath(root)
    if os.path.realpath(path) != os.path.join(base, os.path.normpath(shown)):
        link = _first_link(root, shown)
        target = os.readlink(link) if link else os.path.realpath(path)
        raise LinkInOutput(
            f"push refuses {shown}: {link or path} is a symbolic link (to {target}) or leads out of the output "
            "folder; only regular files inside it are uploaded (replace the link by the file, or remove it)"
        )
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} is missing") from None
    if not stat.S_ISREG(mode):
        raise LinkInOutput(f"push refuses {shown}: not a regular file")


def _first_link(root: str, relative: str) -> str | None:
    """The first component of `root/relative` (below root) that is a symbolic link, if any."""
    current = root.rstrip("/")
    for part in relative.split("/"):
        current = f"{current}/{part}"
        if os.path.islink(current):
            return current
    return None


# ---- the card -------------------------------------------------------------------------------------


def _funnels(fs, root: str, output: str, stages: list[str] | None) -> list[StageFunnel]:
    """The run's funnel: funnel.json (written at the end of every run, any storage), else the stage logs."""
    saved = _read_json(fs, _join(root, "funnel.json"))
    if saved:
        fields = StageFunnel.__dataclass_fields__
        return [StageFunnel(**{k: v for k, v in f.items() if k in fields}) for f in saved]
    return run_funnel(output, stages) if _is_local(output) else []


def card_charts(output: str, funnels: list[StageFunnel], stages: list[str]) -> list[tuple[str, str, bytes]]:
    """(repo path, caption, PNG) of the funnel chart and of each score's histogram with its threshold,
    drawn as in the HTML report (`curate report --html`). Nothing is written to the output."""
    from curate.run.report_html import funnel_chart, histogram_chart, score_sections

    charts = []
    with tempfile.TemporaryDirectory() as tmp:
        if funnels:
            funnel_chart(funnels, Path(tmp) / "funnel.png")
            caption = "records in per stage = kept + dropped + errored"
            charts.append((f"{CHARTS}/funnel.png", caption, (Path(tmp) / "funnel.png").read_bytes()))
        if stages:
            local = (
                Path(output.removeprefix("file://"))
                if _is_local(output)
                else _scores_copy(output, stages, tmp)
            )
            for n, section in enumerate(score_sections(local, stages)):
                name = f"{n:02d}-{section.stage}-{section.score}.png"
                histogram_chart(section, Path(tmp) / name)
                kept = sum(r.kept for r in section.rows)
                if section.threshold is not None:
                    side = "at least" if section.minimum is not None else "at most"
                    caption = f"`{section.score}` ({section.stage}): kept {side} {section.threshold:.4g}"
                else:
                    caption = f"`{section.score}` ({section.stage}): not thresholded"
                caption += f"; {kept} kept, {len(section.rows) - kept} dropped"
                if section.rule:
                    caption += f". {section.rule}"
                charts.append((f"{CHARTS}/{name}", caption, (Path(tmp) / name).read_bytes()))
    return charts


def _scores_copy(output: str, stages: list[str], tmp: str) -> Path:
    """A local copy of what the histograms need from an object-store output: per stage its thresholds
    and the `id`, `text`, `metadata` columns of its kept and dropped records (no images are read)."""
    import pyarrow.parquet as pq

    fs, root = fsspec.core.url_to_fs(output)
    local = Path(tmp) / "scores"
    for stage in stages:
        remote = _join(root, "stages", stage)
        if fs.exists(_join(remote, "thresholds.json")):
            (local / "stages" / stage).mkdir(parents=True, exist_ok=True)
            fs.get_file(_join(remote, "thresholds.json"), str(local / "stages" / stage / "thresholds.json"))
        for part in ("data", "excluded"):
            for path in fs.glob(_join(remote, part, "*.parquet")):
                target = local / "stages" / stage / part / path.rsplit("/", 1)[-1]
                target.parent.mkdir(parents=True, exist_ok=True)
                with fs.open(path, "rb") as f:
                    pq.write_table(pq.read_table(f, columns=["id", "text", "metadata"]), target)
    return local


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n < limit:
            return label
    for limit, label in ((1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M")):
        if n < limit:
            return label
    return "100M<n<1B"


def _licence_section(recipe: str, options: dict, funnels: list[StageFunnel], licence: str) -> str:
    refused = {
        reason: n
        for f in funnels
        for reason, n in {**f.dropped, **f.errored}.items()
        if any(word in reason for word in ("opt_out", "robots", "noai"))
    }
    lines = [
        f"Licence of this card and of curation metadata: `{licence}`. The content of each sample keeps "
        "the licence and terms of its source: every sample names its source in `json.source` "
        "(the PDF file or shard member, or the page URL), so it can be traced and removed.",
        "",
    ]
    if recipe in ("interleaved", "pairs"):
        robots = options.get("respect_robots", True)
        lines += [
            "Opt-out signals honoured when images were fetched: "
            + (
                "robots.txt (agent `curate`), "
                if robots is not False
                else "robots.txt NOT checked (respect_robots=false), "
            )
            + "`X-Robots-Tag: noai / noimageai` response headers and a page's own `noai` meta tag; "
            "private, loopback and link-local addresses refused.",
        ]
        if refused:
            lines += [
                "",
                "Refused for an opt-out in this run: " + ", ".join(f"{k}: {v}" for k, v in refused.items()),
            ]
        else:
            lines += ["", "No image of this run was refused for an opt-out."]
    else:
        lines += [
            "The PDFs were read from the run's input as given; no opt-out signal travels with a PDF file, so "
            "the licences of the source collection apply (for PDFA/SafeDocs: Common Crawl's terms of use).",
        ]
    lines += [
        "",
        "To have a document or image removed, open a discussion on this repository naming its "
        "`source`; it will be dropped from the next push.",
    ]
    return "\n".join(lines)


def dataset_card(
    output: str,
    repo: str,
    licence: str = "other",
    charts: list[tuple[str, str, bytes]] | None = None,
    tables: list[str] | None = None,
) -> str:
    """The dataset card: YAML (configs for every format present), the funnel, the score histograms with
    their thresholds, the recipe's options, licence and opt-out handling, and how to load the data."""
    fs, root = fsspec.core.url_to_fs(output)
    manifest = _read_json(fs, _join(root, "shards", MANIFEST))
    run = _read_json(fs, _join(root, "run.json"), {})
    recipe = run.get("recipe", "curate")
    stages = run.get("stages") or []
    funnels = _funnels(fs, root, output, stages or None)
    charts = charts if charts is not None else card_charts(output, funnels, stages)
    tables = tables or []
    total = manifest["total_samples"]

    varying = recipe in VARYING_MEMBERS
    parquet_first = bool(tables) and varying
    shards_config = ["  data_files:", "  - split: train", "    path: shards/*.tar"]
    parquet_config = ["  data_files:", "  - split: train"]
    parquet_config += [f"    path: {pattern}" for pattern in sorted({_table_pattern(t) for t in (tables or [])})]
    if parquet_first:
        configs = ["- config_name: default", *parquet_config, "- config_name: webdataset", *shards_config]
    else:
        configs = ["- config_name: default", *shards_config]
        if tables:
            configs += ["- config_name: parquet", *parquet_config]
    tasks = "".join(f"\n- {t}" for t in TASKS.get(recipe, []))
    yaml = (
        f"---\nlicense: {licence}\n"
        + (f"task_categories:{tasks}\n" if tasks else "")
        + f"size_categories:\n- {_size_category(total)}\n"
        + f"tags:\n- webdataset\n- curate\n- {recipe}\n"
        + "configs:\n"
        + "\n".join(configs)
        + "\n---\n"
    )
    funnel_png = next((c for c in charts if c[0].endswith("/funnel.png")), None)
    histograms = [c for c in charts if c is not funnel_png]
    formats = f"{len(manifest['shards'])} WebDataset tar shards"
    if tables:
        formats += f" and the same records as {len(tables)} Parquet file(s) (config `parquet`)"
    parts = [
        yaml,
        f"# {repo.split('/')[-1]}\n",
        f"Made by the `curate` recipe `{recipe}`: {total:,} samples in {formats} "
        f"({manifest['total_bytes']:,} bytes of shards). Each sample has `KEY.json` (text, metadata, "
        f"scores{', QA turns in `texts`' if recipe == 'docmatix' else ''}), its image(s) and `KEY.txt`. "
        f"`shards/{MANIFEST}` lists every shard with its sample count and sha256.\n",
        "## How it was made\n",
        f"Stages, in order: {' → '.join(f'`{s}`' for s in stages) or '(unknown)'}. "
        "Every stage accounts for every record: in = kept + dropped + errored.\n",
    ]
    if funnel_png:
        parts.append(f"![Funnel: {funnel_png[1]}]({funnel_png[0]})\n")
    if funnels:
        parts.append(_funnel_markdown(funnels))
    if histograms:
        parts.append("## Scores and the thresholds applied\n")
        parts.append(
            "Each histogram shows a score over the records the stage saw, kept (green) and dropped "
            "(amber), with the threshold as a red line. Scores are stored in each sample's "
            "`json.scores`, so a different threshold can be applied without rescoring.\n"
        )
        for path, caption, _ in histograms:
            parts.append(f"{caption}\n\n![{caption}]({path})\n")
    parts += [models_section(run), stages_section(run), reproduce_section(run)]
    parts.append("## Licence and opt-out\n")
    parts.append(_licence_section(recipe, run.get("options", {}), funnels, licence) + "\n")
    parts.append(_load_section(repo, bool(tables), varying))
    return "\n".join(parts)


def _table_pattern(path: str) -> str:
    folder = path.rsplit("/", 1)[0] if "/" in path else ""
    return f"{folder}/*.parquet" if folder else "*.parquet"


def _funnel_markdown(funnels: list[StageFunnel]) -> str:
    rows = [
        "| stage | in | kept | dropped | errored | dropped by reason | errors by kind |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in funnels:
        dropped = ", ".join(f"{k}: {v}" for k, v in sorted(f.dropped.items(), key=lambda kv: -kv[1]))
        errored = ", ".join(f"{k}: {v}" for k, v in sorted(f.errored.items(), key=lambda kv: -kv[1]))
        rows.append(
            f"| `{f.stage}` | {f.records_in:,} | {f.kept:,} | {f.dropped_total:,} | {f.errored_total:,} "
            f"| {dropped} | {errored} |"
        )
    return "\n".join(rows) + "\n"


def _load_section(repo: str, tables: bool, varying: bool = False) -> str:
    if varying and tables:
        parquet = (
            "\nThis loads the Parquet copy (a sample a row, its images in one `images` list): samples hold a "
            "varying number of images, which `datasets`' WebDataset loader cannot type. The tar shards stream "
            "with `webdataset` (below).\n"
        )
    elif varying:
        parquet = (
            "\nSamples hold a varying number of images, which `datasets`' WebDataset loader cannot type: to "
            "load them with `datasets`, run the shards stage with `--set formats=webdataset,parquet` and push "
            "again (a Parquet copy, one `images` list a row). The tar shards stream with `webdataset` (below).\n"
        )
    elif tables:
        parquet = f'\nThe Parquet copy: `load_dataset("{repo}", "parquet", split="train")`.\n'
    else:
        parquet = "\n"
    return f"""## Load it

With Hugging Face `datasets`:

```python
from datasets import load_dataset
ds = load_dataset("{repo}", split="train", streaming=True)
```
{parquet}
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


# ---- the plan -------------------------------------------------------------------------------------


def _table_files(fs, root: str, local: bool) -> list[tuple[str, int]]:
    """Parquet files a run wrote beside its shards (e.g. `parquet/`), as (path in repo, bytes). A local
    output is walked without following links, and a link met on the way is refused with its name."""
    found = []
    for folder in fs.ls(root, detail=False) if fs.isdir(root) else []:
        name = folder.rstrip("/").rsplit("/", 1)[-1]
        if name in SKIPPED_FOLDERS or name.startswith("."):
            continue
        if local:
            found += _local_tables(root, folder)
            continue
        if not fs.isdir(folder):
            continue
        for path, info in sorted(fs.find(folder, detail=True).items()):
            if path.endswith(".parquet"):
                found.append((path[len(root.rstrip("/")) + 1 :], info["size"]))
    return found


def _local_tables(root: str, folder: str) -> list[tuple[str, int]]:
    """`*.parquet` under a local folder, as (path in repo, bytes); a symbolic link to a folder or to a
    `.parquet` file is refused (os.walk does not follow links, so a link to / is never descended)."""
    prefix = len(root.rstrip("/")) + 1
    if os.path.islink(folder):
        if folder.endswith(".parquet") or os.path.isdir(folder):
            _check_regular(root, folder)
        return []
    if not os.path.isdir(folder):
        return []
    found = []
    for here, dirs, files in os.walk(folder):
        for name in sorted(dirs):
            if os.path.islink(os.path.join(here, name)):
                _check_regular(root, os.path.join(here, name))
        for name in sorted(files):
            path = os.path.join(here, name)
            if name.endswith(".parquet"):
                _check_regular(root, path)
                found.append((path[prefix:], os.lstat(path).st_size))
    return sorted(found)


def push_plan(output: str | Path, repo: str, licence: str = "other") -> PushPlan:
    """Every file the push sends, checked against the manifest; the card and charts made in memory."""
    output = str(output)
    fs, root = fsspec.core.url_to_fs(output)
    manifest_path = _join(root, "shards", MANIFEST)
    if not fs.exists(manifest_path):
        raise FileNotFoundError(f"{output} has no shards/{MANIFEST}: run a recipe to the end first")
    local = _is_local(output)
    if local:
        _check_regular(root, manifest_path)
    manifest = _read_json(fs, manifest_path)
    listing = fs.find(_join(root, "shards"), detail=True)  # one listing, not a request per shard
    sizes = {path.rstrip("/").rsplit("/", 1)[-1]: info["size"] for path, info in listing.items()}
    plan = PushPlan(repo, output)
    for shard in manifest["shards"]:
        if not isinstance(shard.get("name"), str) or "/" in shard["name"] or shard["name"] in ("", ".", ".."):
            raise LinkInOutput(f"{manifest_path} names a shard outside shards/: {str(shard.get('name'))[:200]!r}")
        if local:
            _check_regular(root, _join(root, "shards", shard["name"]))
        if sizes.get(shard["name"]) != shard["bytes"]:
            raise FileNotFoundError(
                f"shard {_join(output, 'shards', shard['name'])} is missing or not the size the manifest says"
            )
        plan.files.append(
            HubFile(
                f"shards/{shard['name']}",
                shard["bytes"],
                shard.get("sha256"),
                _join(root, "shards", shard["name"]),
            )
        )
    plan.files.append(HubFile(f"shards/{MANIFEST}", sizes[MANIFEST], location=manifest_path))
    tables = _table_files(fs, root, local)
    plan.files += [HubFile(path, size, location=_join(root, path)) for path, size in tables]
    for name in ("funnel.json", "run.json", "qa_summary.json"):
        if local and os.path.lexists(_join(root, name)):
            _check_regular(root, _join(root, name))
        if fs.exists(_join(root, name)):
            plan.files.append(HubFile(name, fs.size(_join(root, name)), location=_join(root, name)))
    run = _read_json(fs, _join(root, "run.json"), {})
    stages = run.get("stages") or []
    charts = card_charts(output, _funnels(fs, root, output, stages or None), stages)
    plan.files += [HubFile(path, len(png), content=png) for path, _, png in charts]
    card = dataset_card(output, repo, licence, charts, [path for path, _ in tables]).encode()
    plan.files.append(HubFile(CARD, len(card), content=card))  # last: it names everything above
    return plan


# ---- the upload -----------------------------------------------------------------------------------


def _git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _already_there(api, repo: str) -> dict[str, tuple[int, str | None, str]]:
    """Files of the repo: path -> (size, LFS sha256 or None, git blob id). An empty dict for a new repo."""
    from huggingface_hub.errors import EntryNotFoundError, RevisionNotFoundError

    try:
        entries = api.list_repo_tree(repo, repo_type="dataset", recursive=True)
        return {
            e.path: (e.size, e.lfs.sha256 if e.lfs else None, e.blob_id)
            for e in entries
            if hasattr(e, "blob_id")
        }
    except (EntryNotFoundError, RevisionNotFoundError):
        return {}


def _unchanged(f: HubFile, remote: tuple[int, str | None, str] | None, fs) -> bool:
    if remote is None or remote[0] != f.size:
        return False
    size, lfs_sha256, blob_id = remote
    if lfs_sha256 is not None:
        return f.digest(fs) == lfs_sha256
    data = f.content if f.content is not None else fs.cat_file(f.location)
    return _git_blob_id(data) == blob_id


def _remove_stale(api, repo: str, plan: PushPlan, remote: dict) -> None:
    """Shards and charts of an earlier push that this run no longer has (e.g. a rerun wrote fewer
    shards): deleted last, so `shards/*.tar` is exactly this run's shards."""
    from huggingface_hub import CommitOperationDelete

    ours = set(plan.allow_patterns)
    stale = sorted(p for p in remote if p.startswith(("shards/", f"{CHARTS}/")) and p not in ours)
    if stale:
        api.create_commit(
            repo_id=repo,
            repo_type="dataset",
            operations=[CommitOperationDelete(path) for path in stale],
            commit_message=f"curate push: remove {len(stale)} files no longer in the run",
        )
        print(
            f"removed {len(stale)} files of an earlier push that this run does not have: {', '.join(stale)}"
        )


def _batches(files: list[HubFile], batch_bytes: int) -> list[list[HubFile]]:
    """Shards (and tables) in batches of about `batch_bytes`; the manifest, charts and card in the last."""
    last_names = {f"shards/{MANIFEST}", CARD, "funnel.json", "run.json"}
    data = [f for f in files if f.path not in last_names and not f.path.startswith(f"{CHARTS}/")]
    batches, current, size = [], [], 0
    for f in data:
        if current and size + f.size > batch_bytes:
            batches.append(current)
            current, size = [], 0
        current.append(f)
        size += f.size
    if current:
        batches.append(current)
    final = [f for f in files if f not in data]
    return batches + ([final] if final else [])


def _stage(f: HubFile, fs, folder: Path, local: bool, root: str) -> None:
    """Put one file where upload_folder finds it: a symlink to a local file, else a download."""
    target = folder / f.path
    target.parent.mkdir(parents=True, exist_ok=True)
    if f.content is not None:
        target.write_bytes(f.content)
    elif local:
        _check_regular(root, f.location)  # again just before: a link put there since the plan is refused
        target.symlink_to(os.path.abspath(f.location))
    else:
        fs.get_file(f.location, str(target))


def push(
    output: str | Path,
    repo: str,
    private: bool = False,
    dry_run: bool = False,
    licence: str = "other",
    batch_bytes: int = DEFAULT_BATCH_BYTES,
) -> PushPlan:
    """Upload the run at `output` (local folder or fsspec URL) to the dataset repo `repo`; resumable."""
    plan = push_plan(output, repo, licence)
    print(plan.describe())
    if dry_run:
        card = next(f.content for f in plan.files if f.path == CARD).decode()
        print(f"\n--- {CARD} (the dataset card) ---\n{card}--- end of {CARD} ---")
        print("dry run: nothing uploaded, nothing written")
        return plan
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True)
    fs, root = fsspec.core.url_to_fs(str(output))
    remote = _already_there(api, repo)
    todo = [f for f in plan.files if not _unchanged(f, remote.get(f.path), fs)]
    skipped = len(plan.files) - len(todo)
    if skipped:
        print(f"{skipped} of {len(plan.files)} files are already on the Hub with the same content: skipped")
    batches = _batches(todo, batch_bytes)
    local = _is_local(str(output))
    for n, batch in enumerate(batches, 1):
        with tempfile.TemporaryDirectory(prefix="curate-push-") as staging:
            for f in batch:
                _stage(f, fs, Path(staging), local, root)
            api.upload_folder(
                repo_id=repo,
                repo_type="dataset",
                folder_path=staging,
                commit_message=f"curate push {n}/{len(batches)}: {len(batch)} files",
            )
        print(f"batch {n}/{len(batches)}: {len(batch)} files, {sum(f.size for f in batch):,} bytes uploaded")
    _remove_stale(api, repo, plan, remote)
    print(f"pushed: {api.endpoint}/datasets/{repo}")
    return plan
