"""How each recipe's cost grows with its input: every stage at 1x, 4x and 16x a base input.

    python -m benchmarks scale        (or `make bench`)

Recipes: pdf-pages and docmatix on the born-digital PDFs of ../shared/data/pdf (docmatix without the
LLM: a stub server that answers at once, tests/stub_llm.py), interleaved and pairs on the WARC files of
../shared/data/warc. Nx is N copies of the base files (copies are duplicates: the dedup stages drop them,
so stages after dedup see fewer records; each stage's rate is over the records it was given). Each
stage runs as `curate run RECIPE --stage NAME` would, in a fresh process: wall time (start-up included),
the stage's own time, records in per second and the peak RSS of its process tree (driver + workers).

Goals: a recipe's cost per input item at 16x within 10% of 1x (the fixed cost per run is printed apart:
the marginal cost between 4x and 16x is the per-item cost without it); peak memory at 16x within 1.2x of
1x. CURATE_BENCH_SCALES=1,4,16 (default) sets the scales; CURATE_BENCH_SCALE_FILES the base input's
files per recipe (default 2 PDFs, 1 WARC; bigger runs: e.g. 13 and 3); CURATE_BENCH_RECIPES a subset.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from benchmarks.measure import in_child

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CURATE_SHARED_DATA", REPO.parent / "shared" / "data"))
SCALES = tuple(int(s) for s in os.environ.get("CURATE_BENCH_SCALES", "1,4,16").split(","))
RECIPES = os.environ.get("CURATE_BENCH_RECIPES", "pdf-pages,docmatix,interleaved,pairs").split(",")
WORKERS = 2
# base inputs: real files of the shared data; PDFs of at most 4 pages (docmatix skips longer ones)
PDF_FILES = (
    "code_and_formula.pdf",
    "scotus-transcript-p1.pdf",
    "issue-33-lorem-ipsum.pdf",
    "senate-expenditures.pdf",
)
WARC_FILES = ("warc__sample-0000.warc.gz", "warc__sample-0001.warc.gz", "example.warc.gz")


def base_files(recipe: str) -> list[Path]:
    pdf = recipe in ("pdf-pages", "docmatix")
    count = int(os.environ.get("CURATE_BENCH_SCALE_FILES", "0")) or (2 if pdf else 1)
    folder, preferred = (SHARED / "pdf" / "born_digital", PDF_FILES) if pdf else (SHARED / "warc", WARC_FILES)
    files = [folder / n for n in preferred if (folder / n).is_file()]
    pattern = "*.pdf" if pdf else "*.warc.gz"
    files += [
        p
        for p in sorted(folder.glob(pattern))
        if p not in files and "wat" not in p.name and "wet" not in p.name
    ]
    return files[:count]


def scaled_input(files: list[Path], copies: int, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for i in range(copies):
        for f in files:
            shutil.copy(f, dest / f"{i:03d}_{f.name}")
    return dest


def stage_names(recipe_name: str, input: str, output: str, options: dict) -> list[str]:
    from curate.pipelines import get_recipe

    from curate.run.runner import active_stage_names

    recipe = get_recipe(recipe_name)
    return active_stage_names(recipe, input, Path(output), recipe.resolve(options))


def run_one_stage(recipe_name: str, input: str, output: str, stage: str, options: dict) -> dict:
    """One stage of a recipe run (as `curate run RECIPE --stage NAME`), in this process."""
    from curate.pipelines import get_recipe

    from curate.run.executors import ExecutorConfig
    from curate.run.report import stage_funnel
    from curate.run.runner import run_recipe

    run_recipe(
        get_recipe(recipe_name), input, output, ExecutorConfig("local", workers=WORKERS), stage, options
    )
    stage_dir = Path(output) / "stages" / stage
    funnel = stage_funnel(stage_dir)
    elapsed = stage_dir / "elapsed.txt"
    return {
        "items": funnel.records_in if funnel else 0,
        "kept": funnel.kept if funnel else 0,
        "stage_seconds": float(elapsed.read_text()) if elapsed.exists() else 0.0,
    }


def measure_recipe(recipe: str, options: dict, tmp: Path) -> dict[int, dict[str, object]]:
    """{scale: {stage: Run}} for the recipe's stages at each scale. A stage runs at every scale before
    the next stage starts, so a stage's scales are measured close in time (the machine's load moves)."""
    files = base_files(recipe)
    inputs = {scale: scaled_input(files, scale, tmp / f"{recipe}-in-{scale}") for scale in SCALES}
    outputs = {scale: tmp / f"{recipe}-out-{scale}" for scale in SCALES}
    first = SCALES[0]
    stages = in_child(
        "benchmarks.bench_scale:stage_list", recipe, str(inputs[first]), str(outputs[first]), options
    )
    results: dict[int, dict[str, object]] = {scale: {} for scale in SCALES}
    for stage in stages.extra["stages"]:
        for scale in SCALES:
            results[scale][stage] = in_child(
                "benchmarks.bench_scale:run_one_stage",
                recipe,
                str(inputs[scale]),
                str(outputs[scale]),
                stage,
                options,
            )
    for folder in (*inputs.values(), *outputs.values()):
        shutil.rmtree(folder, ignore_errors=True)
    return results


def stage_list(recipe: str, input: str, output: str, options: dict) -> dict:
    return {"items": 0, "stages": stage_names(recipe, input, output, options)}


def report(recipe: str, files: list[Path], results: dict[int, dict]) -> None:
    first, last = SCALES[0], SCALES[-1]
    print(
        f"{recipe}: base input {len(files)} file(s) ({', '.join(f.name for f in files)}); {WORKERS} workers"
    )
    header = "".join(f"{f'{s}x: in  s  in/s  MB':>30}" for s in SCALES)
    print(f"  {'stage':<16}{header}")
    for stage in results[first]:
        cells = ""
        for scale in SCALES:
            run = results[scale].get(stage)
            if run is None:
                cells += f"{'-':>30}"
                continue
            seconds = run.extra["stage_seconds"] or run.wall
            rate = run.items / seconds if seconds else 0.0
            cells += f"{run.items:>9}{run.wall:>6.1f}{rate:>8.1f}{run.peak_rss / 2**20:>7.0f}"
        print(f"  {stage:<16}{cells}")
    inputs = {s: next(iter(results[s].values())).items for s in SCALES}
    walls = {s: sum(r.wall for r in results[s].values()) for s in SCALES}
    peaks = {s: max(r.peak_rss for r in results[s].values()) for s in SCALES}
    per_item = {s: walls[s] / max(inputs[s], 1) for s in SCALES}
    print(
        "  whole recipe: "
        + ", ".join(
            f"{s}x {inputs[s]} items {walls[s]:.0f}s ({per_item[s] * 1000:.0f} ms/item)" for s in SCALES
        )
    )
    if len(SCALES) >= 3:
        a, b, c = SCALES[-3:]
        low = (walls[b] - walls[a]) / max(inputs[b] - inputs[a], 1)
        high = (walls[c] - walls[b]) / max(inputs[c] - inputs[b], 1)
        fixed = walls[a] - low * inputs[a]
        print(
            f"  marginal cost per item: {a}x->{b}x {low * 1000:.0f} ms, {b}x->{c}x {high * 1000:.0f} ms "
            f"(ratio {high / low if low > 0 else float('nan'):.2f}, goal <= 1.10); fixed cost per run ~{fixed:.0f}s"
        )
    print(
        f"  per item {last}x / {first}x: {per_item[last] / per_item[first]:.2f} (goal <= 1.10, fixed cost included);"
        f" peak RSS {last}x / {first}x: {peaks[last] / max(peaks[first], 1):.2f} (goal <= 1.20)"
    )


def main() -> None:
    if not SHARED.is_dir():
        print(f"skipped: no test data at {SHARED}")
        return
    sys.path.insert(0, str(REPO / "tests"))
    from stub_llm import StubLLM

    with tempfile.TemporaryDirectory() as tmp, StubLLM() as stub:
        # docmatix without the LLM: the stub answers every request at once (round trip included)
        docmatix = {
            "llm_url": stub.url, "llm_retries": 0, "llm_timeout": 30, "response_format": "none",
            "second_opinion": "none",
        }  # fmt: skip
        for recipe in RECIPES:
            options = docmatix if recipe == "docmatix" else {}
            files = base_files(recipe)
            if not files:
                print(f"{recipe}: skipped, no input files under {SHARED}")
                continue
            report(recipe, files, measure_recipe(recipe, options, Path(tmp)))


if __name__ == "__main__":
    main()
