"""How each recipe's cost grows with its input: every stage at 1x, 4x and 16x a base input.

    python -m benchmarks scale        (or `make bench`)

Recipes: pdf-pages and docmatix on the born-digital PDFs of ../shared/data/pdf (docmatix without the
LLM: a stub server that answers at once, tests/stub_llm.py), interleaved and pairs on the web pages of
../shared/data/html and ../shared/data/warc, their images served by a local site (`ImageSite`). The inputs are distinct items, not copies (copies would be dropped by the dedup
stages, leaving the later stages the same few records at every scale): every page of the PDFs as a
one-page PDF, every web page as an .html file; 1x is the first CURATE_BENCH_SCALE_ITEMS of them
(default 4), Nx the first N times as many (copies only once the 78 pages / 101 web pages run out,
said in the output). Each stage runs as `curate run RECIPE --stage NAME`
would, in a fresh process: wall time (start-up included), records in per second of the stage's own
time, and the peak RSS of its process tree (driver + workers); per stage, its marginal CPU-seconds per
record between scales (the fixed cost of a run cancels out) and the peak RSS of its largest process at
the last scale over the first.

Goals: a recipe's cost per input item at 16x within 10% of 1x (the fixed cost per run is printed apart:
the marginal cost between 4x and 16x is the per-item cost without it); peak memory at 16x within 1.2x of
1x. CURATE_BENCH_SCALES=1,4,16 (default) sets the scales; CURATE_BENCH_RECIPES a subset.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from benchmarks.measure import in_child

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CURATE_SHARED_DATA", REPO.parent / "shared" / "data"))
SCALES = tuple(int(s) for s in os.environ.get("CURATE_BENCH_SCALES", "1,4,16").split(","))
BASE_ITEMS = int(os.environ.get("CURATE_BENCH_SCALE_ITEMS", "4"))
RECIPES = os.environ.get("CURATE_BENCH_RECIPES", "pdf-pages,docmatix,interleaved,pairs").split(",")
WORKERS = 2


def item_pool(recipe: str, dest: Path, image_site: str = "") -> list[Path]:
    """Distinct input items, one per file: each page of the born-digital PDFs as a one-page PDF (PDF
    recipes), or each web page (../shared/data/html and the WARCs' HTML responses) as an .html file
    whose images are on `image_site` (web recipes)."""
    import random

    dest.mkdir(parents=True, exist_ok=True)
    if recipe in ("pdf-pages", "docmatix"):
        items = _pdf_pages(SHARED / "pdf" / "born_digital", dest)
    else:
        items = _web_pages(dest, image_site)
    # a fixed shuffle: each scale a sample of every source, not 1x all from the first file
    random.Random(0).shuffle(items)
    return items


def _pdf_pages(folder: Path, dest: Path) -> list[Path]:
    import pymupdf

    items = []
    for path in sorted(folder.glob("*.pdf")):
        with pymupdf.open(path) as pdf:
            for number in range(pdf.page_count):
                with pymupdf.open() as one:
                    one.insert_pdf(pdf, from_page=number, to_page=number)
                    items.append(dest / f"{path.stem}_p{number + 1:03d}.pdf")
                    one.save(items[-1])
    return items


def _web_pages(dest: Path, image_site: str) -> list[Path]:
    """The real pages of ../shared/data/html and the HTML responses of ../shared/data/warc as .html files,
    every <img src> pointing at an image of `image_site` of its own (this machine has no internet: the
    pages' own image hosts cannot be reached)."""
    from warcio.archiveiterator import ArchiveIterator

    pages = [(p.stem, p.read_bytes()) for p in sorted((SHARED / "html").glob("*.html"))]
    for path in sorted((SHARED / "warc").glob("*.warc.gz")):
        with path.open("rb") as stream:
            for number, record in enumerate(ArchiveIterator(stream)):
                headers = record.http_headers
                if (
                    record.rec_type == "response"
                    and headers
                    and "html" in (headers.get_header("Content-Type") or "")
                ):
                    pages.append(
                        (f"{path.name.removesuffix('.warc.gz')}_{number:04d}", record.content_stream().read())
                    )
    items, images = [], 0
    for name, html in pages:

        def local(match: re.Match) -> bytes:
            nonlocal images
            images += 1
            return match.group(1) + f"{image_site}/img/{images}.jpg".encode() + match.group(3)

        items.append(dest / f"{name}.html")
        items[-1].write_bytes(IMG_SRC.sub(local, SRCSET.sub(b"", html)))
    return items


# an <img> tag's src attribute value (quoted): group 2 is the URL
# srcset candidates (left out: they name the pages' own image hosts)
SRCSET = re.compile(rb"""\s(?:data-)?srcset\s*=\s*("[^"]*"|'[^']*')""", re.I)
IMG_SRC = re.compile(rb"""(<img\b[^>]*?\ssrc\s*=\s*["'])([^"']*)(["'])""", re.I)


class ImageSite:
    """A local web server of distinct JPEG photos at /img/N.jpg (the shared photos, each N a different
    crop, tint and pattern, so image dedup sees distinct images), robots.txt allowing all."""

    def __enter__(self):
        import threading

        from benchmarks.image_server import image_server

        photos = [
            p for p in sorted((SHARED / "images" / "photos").glob("*.jpg")) if "orientation" not in p.name
        ]
        self.server = image_server(lambda number: (_distinct_image(photos, number), "image/jpeg"))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@lru_cache(maxsize=4096)
def _distinct_image_bytes(path: str, number: int) -> bytes:
    import io

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(number)
    with Image.open(path) as photo:
        photo = photo.convert("RGB")
        width, height = photo.size
        left, top = int(rng.integers(0, width // 4 + 1)), int(rng.integers(0, height // 4 + 1))
        photo = photo.crop((left, top, left + width * 3 // 4, top + height * 3 // 4)).resize((320, 256))
    pixels = np.asarray(photo, dtype=np.float32) * rng.uniform(0.6, 1.0, 3)
    blocks = rng.uniform(0, 255, (8, 8, 3)).repeat(40, axis=0).repeat(32, axis=1)  # 320 x 256
    mixed = (0.7 * pixels + 0.3 * blocks.transpose(1, 0, 2)[: pixels.shape[0], : pixels.shape[1]]).clip(
        0, 255
    )
    out = io.BytesIO()
    Image.fromarray(mixed.astype(np.uint8)).save(out, "JPEG", quality=85)
    return out.getvalue()


def _distinct_image(photos: list[Path], number: int) -> bytes:
    return _distinct_image_bytes(str(photos[number % len(photos)]), number)


def scaled_input(pool: list[Path], scale: int, dest: Path) -> tuple[Path, int]:
    """The first scale x BASE_ITEMS items of the pool in `dest`, and how many of them are copies (the
    pool cycled once it runs out)."""
    dest.mkdir(parents=True, exist_ok=True)
    wanted = scale * BASE_ITEMS
    for i in range(wanted):
        item = pool[i % len(pool)]
        shutil.copy(item, dest / f"{i // len(pool)}_{item.name}")
    return dest, max(0, wanted - len(pool))


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


def measure_recipe(
    recipe: str, options: dict, tmp: Path, image_site: str = ""
) -> dict[int, dict[str, object]]:
    """{scale: {stage: Run}} for the recipe's stages at each scale. A stage runs at every scale before
    the next stage starts, so a stage's scales are measured close in time (the machine's load moves)."""
    pool = item_pool(recipe, tmp / f"{recipe}-pool", image_site)
    inputs, copies = {}, {}
    for scale in SCALES:
        inputs[scale], copies[scale] = scaled_input(pool, scale, tmp / f"{recipe}-in-{scale}")
    if any(copies.values()):
        print(
            f"  {recipe}: {len(pool)} distinct items; copies at "
            + ", ".join(f"{s}x: {n}" for s, n in copies.items() if n)
        )
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
    for folder in (*inputs.values(), *outputs.values(), tmp / f"{recipe}-pool"):
        shutil.rmtree(folder, ignore_errors=True)
    return results


def stage_list(recipe: str, input: str, output: str, options: dict) -> dict:
    return {"items": 0, "stages": stage_names(recipe, input, output, options)}


def report(recipe: str, results: dict[int, dict]) -> None:
    first, last = SCALES[0], SCALES[-1]
    kind = "one-page PDFs" if recipe in ("pdf-pages", "docmatix") else "web pages (.html)"
    print(f"{recipe}: 1x = {BASE_ITEMS} {kind}; {WORKERS} workers")
    header = "".join(f"{f'{s}x: in  s  in/s  MB':>30}" for s in SCALES)
    print(f"  {'stage':<16}{header}   {'marginal CPU ms/item, ratio':>32}  largest RSS {last}x/{first}x")
    before: dict[int, int] = {}  # records of the stage before, per scale
    for stage in results[first]:
        cells, runs, name = "", [], stage
        for scale in SCALES:
            run = results[scale].get(stage)
            if run is None:
                cells += f"{'-':>30}"
                runs.append(None)
                continue
            if not run.items and before.get(scale):  # e.g. dedup-match: it reads the keys, no records
                run, name = replace(run, items=before[scale]), f"{stage}*"
            before[scale] = run.items
            runs.append(run)
            seconds = run.extra["stage_seconds"] or run.wall
            rate = run.items / seconds if seconds else 0.0
            cells += f"{run.items:>9}{run.wall:>6.1f}{rate:>8.1f}{run.peak_rss / 2**20:>7.0f}"
        print(f"  {name:<16}{cells}   {_stage_ratios(runs)}")
    print("  (* a stage that reads no records: per record of the stage before it)")
    inputs = {s: next(iter(results[s].values())).items for s in SCALES}
    walls = {s: sum(r.wall for r in results[s].values()) for s in SCALES}
    cpus = {s: sum(r.cpu for r in results[s].values()) for s in SCALES}
    peaks = {s: max(r.peak_rss for r in results[s].values()) for s in SCALES}
    largest = {s: max(r.extra["peak_process_rss"] for r in results[s].values()) for s in SCALES}
    print(
        "  whole recipe: "
        + ", ".join(f"{s}x {inputs[s]} items {walls[s]:.0f}s wall, {cpus[s]:.0f} CPU-s" for s in SCALES)
    )
    if len(SCALES) >= 3:
        a, b, c = SCALES[-3:]
        low = (cpus[b] - cpus[a]) / max(inputs[b] - inputs[a], 1)
        high = (cpus[c] - cpus[b]) / max(inputs[c] - inputs[b], 1)
        fixed = cpus[a] - low * inputs[a]
        print(
            f"  marginal CPU per item: {a}x->{b}x {low * 1000:.0f} ms, {b}x->{c}x {high * 1000:.0f} ms "
            f"(ratio {high / low if low > 0 else float('nan'):.2f}, goal <= 1.10); "
            f"fixed cost per run ~{fixed:.0f} CPU-s"
        )
    print(
        f"  peak RSS {last}x / {first}x: largest process {largest[last] / max(largest[first], 1):.2f} "
        f"(goal <= 1.20), whole tree {peaks[last] / max(peaks[first], 1):.2f}"
    )


def _stage_ratios(runs: list) -> str:
    """A stage's marginal cost per record in: CPU-seconds of its process tree for the extra records
    between two scales (the fixed cost of a run cancels out; CPU time, not wall time, which the
    machine's load moves), between the first two scales and the last two, their ratio (goal <= 1.10:
    the cost per record does not grow with the input); and the peak RSS of its largest process at the
    last scale over the first (goal <= 1.20; the tree's sum also counts how many workers a scale
    started, which stops growing at --workers)."""
    if len(runs) < 3 or any(run is None for run in runs):
        return "-"
    a, b, c = runs[-3:]
    memory = c.extra["peak_process_rss"] / max(runs[0].extra["peak_process_rss"], 1)
    if not (a.items < b.items < c.items):
        return f"{'-':>32}{memory:>20.2f}"
    low = (b.cpu - a.cpu) / (b.items - a.items)
    high = (c.cpu - b.cpu) / (c.items - b.items)
    ratio = f"{high / low:.2f}" if low > 0 else "n/a"
    return f"{low * 1000:>10.0f} {high * 1000:>8.0f} {ratio:>12}{memory:>20.2f}"


def main() -> None:
    if not SHARED.is_dir():
        print(f"skipped: no test data at {SHARED}")
        return
    sys.path.insert(0, str(REPO / "tests"))
    from stub_llm import StubLLM

    with tempfile.TemporaryDirectory() as tmp, StubLLM() as stub, ImageSite() as site:
        # docmatix without the LLM: the stub answers every request at once (round trip included)
        docmatix = {
            "llm_url": stub.url, "llm_retries": 0, "llm_timeout": 30, "response_format": "none",
            "second_opinion": "none",
        }  # fmt: skip
        # the images are on the local site; CLIP off: its weights are not on this machine (no internet)
        web = {"allow_private": True, "fetch_retries": 0, "clip": False}
        for recipe in RECIPES:
            options = docmatix if recipe == "docmatix" else {} if recipe == "pdf-pages" else web
            report(recipe, measure_recipe(recipe, options, Path(tmp), site.url))


if __name__ == "__main__":
    main()
