"""How each recipe's cost grows with its input: every stage at 1x, 4x and 16x a base input.

    python -m benchmarks scale        (or `make bench`)

Recipes: pdf-pages and docmatix on one-page PDFs (docmatix without the LLM: a stub server that answers at
once, tests/stub_llm.py), interleaved and pairs on the web pages of ../shared/data/html and
../shared/data/warc, their images served by a local site of distinct images (`ImageSite`). Each stage
runs as `curate run RECIPE --stage NAME` would, in a fresh process, 2 workers: wall time (start-up
included), records in per second of the stage's own time, CPU-seconds and peak RSS of its process tree.

1x is CURATE_BENCH_SCALE_ITEMS items (default 32: a task's share at 16x fills a write batch, and a stage's
per-item work is seconds, not hidden under its 1-3 CPU-s of start-up), 16x 16 times as many. What an item
is depends on the recipe's dedup (copies would be dropped, leaving the later stages the same few records
at every scale):
- pdf-pages (no dedup by default): copies of the same 1x set of one-page PDFs at every scale, so every
  scale does the same work per item;
- docmatix (dedups pages): distinct one-page PDFs, the born-digital set's pages then pages of Debian's
  texlive-latex-base-doc manuals (when installed);
- pairs (dedups image URLs and images): copies of the 1x set of web pages, each copy's images at URLs of
  their own (distinct images);
- interleaved (dedups paragraphs and documents): distinct web pages: ../shared/data's ~100, then English
  pages of the extraction bench's public labelled sets where their mirrors are here (benchmarks/extract_sets.py);
  without them 1x is capped at a sixteenth of the ~100 (said in the output).
Distinct items are dealt so each block of 1x items holds one of each size stratum (sizes: a cost proxy):
1x, 4x and 16x have the same mix.

Per-item cost is the marginal CPU-seconds of the stage's process tree per record between scales (a
run's fixed cost cancels out; CPU time, not wall time, which the machine's load moves): 1x->4x and
4x->16x; the 1x run is repeated CURATE_BENCH_SCALE_REPEATS times (default 2), so the 1x->4x cost has a
spread. Goals: per-item cost at 16x within 10% of 1x (4x->16x over 1x->4x <= 1.10); peak RSS of the
stage's largest process at 16x within 1.2x of 1x. CURATE_BENCH_SCALES=1,4,16 sets the scales,
CURATE_BENCH_RECIPES a subset.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import sys
import tempfile
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from benchmarks.measure import in_child, spread

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CURATE_SHARED_DATA", REPO.parent / "shared" / "data"))
SCALES = tuple(int(s) for s in os.environ.get("CURATE_BENCH_SCALES", "1,4,16").split(","))
BASE_ITEMS = int(os.environ.get("CURATE_BENCH_SCALE_ITEMS", "32"))
REPEATS = max(1, int(os.environ.get("CURATE_BENCH_SCALE_REPEATS", "2")))  # of the first scale
# recipes whose dedup does not drop copies of an item (pairs: the images of each copy are distinct)
COPIES = ("pdf-pages", "pairs")
# extra distinct pages for docmatix past the born-digital set's 78 (a Debian package of LaTeX manuals)
EXTRA_PDF_PACKAGE = "texlive-latex-base-doc"
EXTRA_PAGES_PER_PDF = 3
RECIPES = os.environ.get("CURATE_BENCH_RECIPES", "pdf-pages,docmatix,interleaved,pairs").split(",")
WORKERS = 2


def item_pool(recipe: str, needed: int) -> list[tuple[str, bytes]]:
    """Distinct input items as (name, bytes), in an order where every block of BASE_ITEMS has the same
    mix (`_strata`): one-page PDFs (PDF recipes; at least `needed` where enough pages are installed) or
    web pages whose <img> URLs are filled in when written (`write_item`)."""
    if recipe in ("pdf-pages", "docmatix"):
        items = _pdf_pages(sorted((SHARED / "pdf" / "born_digital").glob("*.pdf")), 1 << 30)
        if len(items) < needed:
            items += _pdf_pages(_package_pdfs(EXTRA_PDF_PACKAGE), needed - len(items), EXTRA_PAGES_PER_PDF)
    else:
        items = _web_pages()
        if recipe == "interleaved" and len(items) < needed:
            items += _labelled_web_pages(needed - len(items))
    return _strata(items, BASE_ITEMS)


def _strata(items: list[tuple[str, bytes]], block: int) -> list[tuple[str, bytes]]:
    """The items dealt into blocks of `block`: sorted by size (a cost proxy), cut into `block` strata,
    block k holding the k-th item of each stratum (in a fixed shuffle), so 1x, 4x and 16x (the first 1, 4,
    16 blocks) have the same mix of small and large items."""
    import random

    ordered = sorted(items, key=lambda item: (len(item[1]), item[0]))
    per = max(1, len(ordered) // block)
    strata = [ordered[i * per : (i + 1) * per] for i in range(block)]
    for stratum in strata:
        random.Random(0).shuffle(stratum)
    dealt = [stratum[k] for k in range(per) for stratum in strata if k < len(stratum)]
    return dealt + ordered[per * block :]  # what does not fill a stratum goes last


def _pdf_pages(paths: list[Path], wanted: int, per_pdf: int = 1 << 30) -> list[tuple[str, bytes]]:
    """The first `per_pdf` pages of each PDF as one-page PDFs, up to `wanted` pages."""
    import pymupdf

    items = []
    for path in paths:
        try:
            pdf = pymupdf.open(path)
        except (RuntimeError, ValueError):
            continue
        with pdf:
            for number in range(min(pdf.page_count, per_pdf)):
                if len(items) >= wanted:
                    return items
                with pymupdf.open() as one:
                    one.insert_pdf(pdf, from_page=number, to_page=number)
                    items.append((f"{path.stem}_p{number + 1:03d}", one.tobytes()))
    return items


def _package_pdfs(package: str) -> list[Path]:
    """The PDFs a Debian package installed (none where it is not)."""
    import subprocess

    try:
        listing = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True, check=False).stdout
    except OSError:
        return []
    return sorted(Path(line) for line in listing.split() if line.endswith(".pdf") and Path(line).is_file())


def _web_pages() -> list[tuple[str, bytes]]:
    """The real pages of ../shared/data/html and the HTML responses of ../shared/data/warc."""
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
    return pages


class _ImageNumbers:
    """Numbers of the image site's images: each <img> written gets one of its own (distinct images)."""

    def __init__(self):
        self.next = 0

    def local(self, html: bytes, image_site: str) -> bytes:
        """The page with srcset left out (it names the pages' own image hosts, unreachable here) and every
        <img src> pointing at an image of `image_site` no other <img> has."""

        def local(match: re.Match) -> bytes:
            self.next += 1
            return match.group(1) + f"{image_site}/img/{self.next}.jpg".encode() + match.group(3)

        return IMG_SRC.sub(local, SRCSET.sub(b"", html))


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


def _labelled_web_pages(wanted: int) -> list[tuple[str, bytes]]:
    """Up to `wanted` English pages of the web-extraction bench's public labelled sets
    (benchmarks/extract_sets.py, where their mirrors are here): distinct pages for the interleaved recipe,
    which dedups, past the ~100 of ../shared/data. None where no set is found (1x is then capped, said in
    the output)."""
    from benchmarks.extract_sets import load_sets

    sets, _ = load_sets()
    pages = [
        (f"{labelled.name}_{page.key}", page.html)
        for labelled in sorted(sets, key=lambda labelled: labelled.name)
        for page in labelled.pages
        if page.truth or page.must
        if not page.non_english
    ]
    return [(re.sub(r"[^\w.-]+", "_", name), html) for name, html in pages[:wanted]]


def scaled_input(
    recipe: str,
    pool: list[tuple[str, bytes]],
    base: int,
    scale: int,
    dest: Path,
    images: _ImageNumbers,
    image_site: str,
) -> Path:
    """scale x base items in `dest`: copies of the first `base` (recipes in COPIES) or the first
    scale x base distinct ones."""
    dest.mkdir(parents=True, exist_ok=True)
    for i in range(scale * base):
        name, data = pool[i % base] if recipe in COPIES else pool[i]
        if recipe in ("pdf-pages", "docmatix"):
            (dest / f"{i // base}_{name}.pdf").write_bytes(data)
        else:
            (dest / f"{i // base}_{name}.html").write_bytes(images.local(data, image_site))
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


def base_items(recipe: str, pool: list) -> int:
    """1x: BASE_ITEMS, or for a recipe of distinct items, what the pool has for the largest scale."""
    if recipe in COPIES:
        return min(BASE_ITEMS, len(pool))
    return max(1, min(BASE_ITEMS, len(pool) // max(SCALES)))


def measure_recipe(recipe: str, options: dict, tmp: Path, image_site: str = "") -> tuple[int, dict]:
    """(1x items, {scale: {stage: [Run, ...]}}) for the recipe's stages at each scale (the first scale
    REPEATS times). A stage runs at every scale before the next stage starts, the first scale's repeats
    around the others, so a stage's scales are measured close in time (the machine's load moves)."""
    pool = item_pool(recipe, BASE_ITEMS * max(SCALES))
    base = base_items(recipe, pool)
    kind = "copies of the 1x items" if recipe in COPIES else "distinct items"
    print(f"  {recipe}: 1x = {base} items ({kind}; pool of {len(pool)} distinct)", flush=True)
    images = _ImageNumbers()
    inputs = {
        scale: scaled_input(recipe, pool, base, scale, tmp / f"{recipe}-in-{scale}", images, image_site)
        for scale in SCALES
    }
    first = SCALES[0]
    stages = in_child(
        "benchmarks.bench_scale:stage_list", recipe, str(inputs[first]), str(tmp / "list"), options
    )
    results: dict[int, dict[str, list]] = {scale: {} for scale in SCALES}
    order = [first, *SCALES[1:], *[first] * (REPEATS - 1)]
    for stage in stages.extra["stages"]:
        for n, scale in enumerate(order):
            output = tmp / f"{recipe}-out-{scale}-{order[:n].count(scale)}"
            run = in_child(
                "benchmarks.bench_scale:run_one_stage",
                recipe,
                str(inputs[scale]),
                str(output),
                stage,
                options,
            )
            results[scale].setdefault(stage, []).append(run)
    for folder in (*inputs.values(), *tmp.glob(f"{recipe}-out-*")):
        shutil.rmtree(folder, ignore_errors=True)
    return base, results


def stage_list(recipe: str, input: str, output: str, options: dict) -> dict:
    return {"items": 0, "stages": stage_names(recipe, input, output, options)}


def report(recipe: str, base: int, results: dict[int, dict[str, list]]) -> None:
    first, last = SCALES[0], SCALES[-1]
    # a recipe of distinct items whose pool is short (interleaved without the extraction sets' mirrors): a 1x
    # of a few items is mostly fixed cost and may not reach every stage's models, so its ratios say nothing
    capped = recipe not in COPIES and base < BASE_ITEMS
    not_judged = f"(not judged: 1x is {base} items, under {BASE_ITEMS})"
    kind = "one-page PDFs" if recipe in ("pdf-pages", "docmatix") else "web pages (.html)"
    print(f"{recipe}: 1x = {base} {kind}; {WORKERS} workers; the {first}x run {REPEATS} times")
    header = "".join(f"{f'{s}x: in  s  CPU-s  MB':>31}" for s in SCALES)
    print(
        f"  {'stage':<16}{header}   {'marginal CPU ms/item: low, high, high/low':>44}"
        f"  largest RSS {last}x/{first}x"
    )
    before: dict[int, int] = {}  # records of the stage before, per scale
    totals = {s: [0.0] * len(results[s][next(iter(results[s]))]) for s in SCALES}
    for stage in results[first]:
        cells, name = "", stage
        runs: dict[int, list] = {}
        for scale in SCALES:
            rs = results[scale].get(stage) or []
            if rs and not rs[0].items and before.get(scale):  # e.g. dedup-match: it reads keys, no records
                rs, name = [replace(r, items=before[scale]) for r in rs], f"{stage}*"
            if not rs:
                cells += f"{'-':>31}"
                continue
            before[scale] = rs[0].items
            runs[scale] = rs
            for i, r in enumerate(rs):
                totals[scale][i] += r.cpu
            cpu = min(r.cpu for r in rs)
            cells += (
                f"{rs[0].items:>9}{rs[0].wall:>6.1f}{cpu:>8.1f}{max(r.peak_rss for r in rs) / 2**20:>7.0f}"
            )
        print(f"  {name:<16}{cells}   {_stage_ratios(runs)}")
    print("  (* a stage that reads no records: per record of the stage before it)")
    inputs = {s: next(iter(results[s].values()))[0].items for s in SCALES}
    largest = {s: max(r.extra["peak_process_rss"] for rs in results[s].values() for r in rs) for s in SCALES}
    print(
        "  whole recipe: " + ", ".join(f"{s}x {inputs[s]} items {min(totals[s]):.0f} CPU-s" for s in SCALES)
    )
    if len(SCALES) >= 3:
        low, high = _slopes({s: totals[s] for s in SCALES}, inputs)
        ratios = [high / v for v in low if v > 0]
        fixed = min(totals[SCALES[-3]]) - statistics.median(low) * inputs[SCALES[-3]]
        print(
            f"  marginal CPU per item: {SCALES[-3]}x->{SCALES[-2]}x {spread([v * 1000 for v in low], ' ms', 0)},"
            f" {SCALES[-2]}x->{last}x {high * 1000:.0f} ms; high/low {spread(ratios)} "
            f"{not_judged if capped else verdict_at_most(ratios, 1.10)};"
            f" fixed cost per run ~{fixed:.0f} CPU-s"
        )
    memory = "(meets <= 1.20)" if largest[last] <= 1.2 * largest[first] else "(over 1.20)"
    print(
        f"  peak RSS of the largest process, {last}x / {first}x: {largest[last] / max(largest[first], 1):.2f} "
        f"{not_judged if capped else memory}"
    )
    if capped:
        missing = (
            f"the Debian package {EXTRA_PDF_PACKAGE} (`make bench-deps`)"
            if recipe == "docmatix"
            else "the extraction sets' mirrors (benchmarks/extract_sets.py)"
        )
        wanted = f"{BASE_ITEMS} at 1x and {BASE_ITEMS * last} at {last}x"
        print(f"  too few distinct items for {wanted}: {missing} not here")


def _slopes(cpu: dict[int, list[float]], items: dict[int, int]) -> tuple[list[float], float]:
    """Marginal CPU-seconds per item between the last three scales: low (one per repeat of the first of
    them, when it is the first scale) and high."""
    a, b, c = SCALES[-3:]
    low = [(min(cpu[b]) - v) / max(items[b] - items[a], 1) for v in cpu[a]]
    high = (min(cpu[c]) - min(cpu[b])) / max(items[c] - items[b], 1)
    return low, high


def verdict_at_most(values: list[float], goal: float) -> str:
    if not values:
        return ""
    if max(values) <= goal:
        return f"(meets <= {goal:.2f})"
    if min(values) > goal:
        return f"(over {goal:.2f})"
    return (
        f"(median {'meets' if statistics.median(values) <= goal else 'over'} {goal:.2f}, spread crosses it)"
    )


def _stage_ratios(runs: dict[int, list]) -> str:
    """A stage's marginal cost per record in: CPU-seconds of its process tree for the extra records
    between two scales (the fixed cost of a run cancels out), between the first two scales (median over
    the first scale's repeats) and the last two, their ratio (goal <= 1.10: the cost per record does not
    grow with the input); and the peak RSS of its largest process at the last scale over the first
    (goal <= 1.20; the tree's sum also counts how many workers a scale started, which stops growing at
    --workers)."""
    if len(runs) < 3:
        return "-"
    a, b, c = (runs[s] for s in SCALES[-3:])
    memory = max(r.extra["peak_process_rss"] for r in c) / max(
        max(r.extra["peak_process_rss"] for r in runs[SCALES[0]]), 1
    )
    if not (a[0].items < b[0].items < c[0].items):
        return f"{'-':>44}{memory:>20.2f}"
    low = [(min(r.cpu for r in b) - r.cpu) / (b[0].items - r.items) for r in a]
    high = (min(r.cpu for r in c) - min(r.cpu for r in b)) / (c[0].items - b[0].items)
    median_low = statistics.median(low)
    ratio = f"{high / median_low:.2f}" if median_low > 0 else "n/a"
    lows = spread([v * 1000 for v in low], "", 0)
    return f"{lows:>18} {high * 1000:>8.0f} {ratio:>16}{memory:>20.2f}"


def main() -> None:
    if not SHARED.is_dir():
        print(f"skipped: no test data at {SHARED}")
        return
    sys.path.insert(0, str(REPO / "tests"))
    from stub_llm import StubLLM

    with tempfile.TemporaryDirectory() as tmp, StubLLM() as stub, ImageSite() as site:
        # docmatix without the LLM: the stub answers every request at once (round trip included); it runs
        # in this process, which the stages starve at 16x: a request may wait, so retries and a long timeout
        docmatix = {
            "llm_url": stub.url, "llm_retries": 2, "llm_timeout": 120, "response_format": "none",
            "second_opinion": "none",
        }  # fmt: skip
        # the images are on the local site; CLIP off: its weights are not on this machine (no internet)
        web = {"allow_private": True, "fetch_retries": 0, "clip": False}
        for recipe in RECIPES:
            options = docmatix if recipe == "docmatix" else {} if recipe == "pdf-pages" else web
            report(recipe, *measure_recipe(recipe, options, Path(tmp), site.url))


if __name__ == "__main__":
    main()
