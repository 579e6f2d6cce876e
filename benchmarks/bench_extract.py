"""Main-content extraction quality and speed on hand-labelled web pages, ours vs trafilatura (and jusText /
readability-lxml when installed), all measured in the same run, on two public sets:

1. The ScrapingHub article-extraction-benchmark (https://github.com/scrapinghub/article-extraction-benchmark,
   MIT licence): 181 real news and blog pages (html/*.html.gz) with a hand-checked `articleBody` each
   (ground-truth.json). Metric, the benchmark's own: each text is split into \\w+ tokens and 4-token
   shingles; per page, true/false positives and false negatives are counted over shingle multisets and
   normalised by their sum (long pages weigh no more than short ones); precision and recall are the means
   over pages, F1 their harmonic mean.
2. trafilatura's evaluation set (https://github.com/adbar/trafilatura, tests/evaldata.json with the pages
   in tests/eval and tests/cache, Apache-2.0): 990 pages in many languages, each with 1-6 snippets its
   main text must contain and 1-6 it must not (boilerplate). Metric, that set's own: whitespace-normalised
   substring matches counted over all snippets; precision tp/(tp+fp), recall tp/(tp+fn), F1. It is
   trafilatura's development set, so it favours trafilatura.

Neither is committed here. The bench looks for a checkout of each in $CURATE_ARTICLE_BENCH /
$CURATE_TRAFILATURA_EVAL, ../shared/data/{article-extraction-benchmark,trafilatura}, or
~/.cache/curate/{article-extraction-benchmark,trafilatura}, and skips a set, saying how to get it, where it
is absent.

Split: each set is cut in two by a hash of the page (set 1: its sha256 key; set 2: the sha256 of its URL);
our thresholds were tuned on the even half, the odd half is held out and its figures are the ones to quote.
Set 2 is run on its held-out half only (to keep the bench short).

Ours is scored on its article body: its text blocks without the headline (its first block when that is a
heading) and without figure captions, which an article body leaves out; the full text blocks (headline and
captions included, as our documents have them) and the blocks before the classifier are scored too.

Speed: documents per second from the raw page bytes (each tool decodes them itself), one core, best of
BENCH_EXTRACT_ROUNDS rounds (default 2) on set 1; the tools take turns page by page, so every tool sees
the same machine load.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROUNDS = int(os.environ.get("BENCH_EXTRACT_ROUNDS", 2))
_SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
_CACHE = Path.home() / ".cache" / "curate"
_TOKEN = re.compile(r"\w+")
_SPACES = re.compile(r"\s+")
HEADINGS = ("h1", "h2", "h3")


@dataclass
class LabelledPage:
    key: str
    url: str
    html: bytes
    truth: str = ""  # set 1: the article body
    must: list[str] = field(default_factory=list)  # set 2: snippets of the main text
    must_not: list[str] = field(default_factory=list)  # set 2: snippets of boilerplate

    @property
    def held_out(self) -> bool:
        return int(self.key, 16) % 2 == 1


def _find(env: str, name: str, marker: str) -> Path | None:
    for candidate in (os.environ.get(env, ""), _SHARED / name, _CACHE / name):
        if candidate and (Path(candidate) / marker).is_file():
            return Path(candidate)
    return None


def find_dataset() -> Path | None:
    return _find("CURATE_ARTICLE_BENCH", "article-extraction-benchmark", "ground-truth.json")


def find_snippet_set() -> Path | None:
    return _find("CURATE_TRAFILATURA_EVAL", "trafilatura", "tests/evaldata.json")


def load_pages(folder: Path) -> list[LabelledPage]:
    truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for key, item in sorted(truth.items()):
        html = gzip.decompress((folder / "html" / f"{key}.html.gz").read_bytes())
        pages.append(LabelledPage(key, item.get("url") or "", html, truth=item.get("articleBody") or ""))
    return pages


def load_snippet_pages(folder: Path) -> list[LabelledPage]:
    items = json.loads((folder / "tests" / "evaldata.json").read_text(encoding="utf-8"))
    pages = []
    for url, item in items.items():
        path = next(p for d in ("eval", "cache") if (p := folder / "tests" / d / item["file"]).is_file())
        key = hashlib.sha256(url.encode()).hexdigest()
        pages.append(LabelledPage(key, url, path.read_bytes(), must=item["with"], must_not=item["without"]))
    return pages


# ---- the metrics ------------------------------------------------------------------------------


def _shingles(text: str, n: int = 4) -> Counter:
    tokens = _TOKEN.findall(text or "")
    if len(tokens) < n:
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def shingle_counts(truth: str, prediction: str) -> tuple[float, float, float]:
    """(tp, fp, fn) over 4-token shingles, normalised to sum to 1 (all zero when both texts are empty)."""
    true, pred = _shingles(truth), _shingles(prediction)
    tp = sum((true & pred).values())
    fp = sum((pred - true).values())
    fn = sum((true - pred).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def scores(counts: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    """(F1, precision, recall): precision and recall averaged over pages, F1 of the two means."""

    def ratio(tp: float, other: float, rest: float) -> float:
        if other == rest == 0:
            return 1.0
        return tp / (tp + other) if tp + other else 0.0

    precisions = [ratio(tp, fp, fn) for tp, fp, fn in counts if tp + fp > 0]
    recalls = [ratio(tp, fn, fp) for tp, fp, fn in counts if tp + fn > 0]
    precision = sum(precisions) / max(1, len(precisions))
    recall = sum(recalls) / max(1, len(recalls))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return f1, precision, recall


def snippet_scores(pages: list[LabelledPage], texts: list[str]) -> tuple[float, float, float]:
    """(F1, precision, recall) over all snippets of all pages, whitespace-normalised substring matches."""
    tp = fp = fn = 0
    for page, text in zip(pages, texts, strict=True):
        text = _SPACES.sub(" ", text)
        found = sum(1 for s in page.must if _SPACES.sub(" ", s).strip() in text)
        tp, fn = tp + found, fn + len(page.must) - found
        fp += sum(1 for s in page.must_not if _SPACES.sub(" ", s).strip() in text)
    precision, recall = tp / max(1, tp + fp), tp / max(1, tp + fn)
    return 2 * tp / max(1, 2 * tp + fp + fn), precision, recall


# ---- the extractors ---------------------------------------------------------------------------


def _ours(page: LabelledPage) -> str:
    """Our article body: the text blocks without the headline and figure captions (both stay in our
    documents: the headline first, a caption right after its image)."""
    from curate.web.extract import TextBlock, extract_page

    blocks = [i for i in extract_page(page.html, page.url).items if isinstance(i, TextBlock)]
    if blocks and blocks[0].tag in HEADINGS:
        blocks = blocks[1:]
    return "\n".join(b.text for b in blocks if b.tag != "figcaption")


def _ours_all_blocks(page: LabelledPage) -> str:
    from curate.web.extract import extract_page

    return "\n".join(extract_page(page.html, page.url).text_blocks)


def _ours_before(page: LabelledPage) -> str:
    """Every block left by the tag/class clean-up, without the block classifier."""
    from curate.web.extract import extract_page

    return "\n".join(extract_page(page.html, page.url, main_content=False).text_blocks)


def _trafilatura(page: LabelledPage) -> str:
    import trafilatura

    return trafilatura.extract(page.html, url=page.url, include_comments=False) or ""


def _justext(page: LabelledPage) -> str:
    import justext

    paragraphs = justext.justext(page.html, justext.get_stoplist("English"))
    return "\n".join(p.text for p in paragraphs if not p.is_boilerplate)


def _readability(page: LabelledPage) -> str:
    import lxml.html
    from readability import Document

    summary = Document(page.html).summary(html_partial=True)
    return lxml.html.fromstring(summary).text_content() if summary.strip() else ""


OURS = "curate extract_page"


def extractors() -> dict[str, Callable[[LabelledPage], str]]:
    import importlib.util

    found = {OURS: _ours, "trafilatura": _trafilatura}
    if importlib.util.find_spec("justext"):
        found["jusText"] = _justext
    if importlib.util.find_spec("readability"):
        found["readability-lxml"] = _readability
    return found


def _extract_all(extract: Callable[[LabelledPage], str], pages: list[LabelledPage]) -> list[str]:
    texts = []
    for page in pages:
        try:
            texts.append(extract(page))
        except Exception:  # a tool that fails on a page scores nothing for it
            texts.append("")
    return texts


def run(pages: list[LabelledPage], tools: dict, rounds: int) -> dict[str, tuple[list[str], float]]:
    """Each extractor's outputs and its best docs/s over `rounds` rounds. The tools take turns page by page,
    so a change in machine load (other jobs on a shared machine) falls on all of them alike."""
    outputs: dict[str, list[str]] = {name: [""] * len(pages) for name in tools}
    speed: dict[str, float] = {}
    for _ in range(rounds):
        seconds = dict.fromkeys(tools, 0.0)
        for i, page in enumerate(pages):
            for name, extract in tools.items():
                started = time.perf_counter()
                try:
                    outputs[name][i] = extract(page)
                except Exception:  # a tool that fails on a page scores nothing for it
                    outputs[name][i] = ""
                seconds[name] += time.perf_counter() - started
        for name in tools:
            speed[name] = max(speed.get(name, 0.0), len(pages) / seconds[name])
    return {name: (outputs[name], speed[name]) for name in tools}


# ---- the report -------------------------------------------------------------------------------


def bench_articles(folder: Path) -> None:
    pages = load_pages(folder)
    results = run(pages, extractors(), ROUNDS)
    held = [i for i, p in enumerate(pages) if p.held_out]
    tuned = [i for i, p in enumerate(pages) if not p.held_out]
    base_speed = results["trafilatura"][1]

    def cells(texts: list[str]) -> list[str]:
        out = []
        for subset in (held, tuned):
            f1, p, r = scores([shingle_counts(pages[i].truth, texts[i]) for i in subset])
            out.append(f"{f1:.3f} {p:.3f} {r:.3f}")
        return out

    print(f"1. ScrapingHub article-extraction-benchmark, {len(pages)} pages ({folder})")
    print("   token-shingle (4-gram) F1 / precision / recall; docs/s best of", ROUNDS, "rounds")
    print(f"{'':26} {f'held-out ({len(held)})':>22} {f'tuning ({len(tuned)})':>22} {'docs/s':>8}")
    for name, (texts, rate) in results.items():
        held_cell, tuned_cell = cells(texts)
        print(
            f"{name:26} {held_cell:>22} {tuned_cell:>22} {rate:8.1f}  ({rate / base_speed:.2f}x trafilatura)"
        )
    for name, extract in (
        ("  ours, all text blocks", _ours_all_blocks),
        ("  ours, no classifier", _ours_before),
    ):
        held_cell, tuned_cell = cells(_extract_all(extract, pages))
        print(f"{name:26} {held_cell:>22} {tuned_cell:>22}")
    ours_f1 = scores([shingle_counts(pages[i].truth, results[OURS][0][i]) for i in held])[0]
    base_f1 = scores([shingle_counts(pages[i].truth, results["trafilatura"][0][i]) for i in held])[0]
    ratio = results[OURS][1] / base_speed
    print(
        f"   held-out F1 ours - trafilatura: {ours_f1 - base_f1:+.3f} (goal >= 0); speed {ratio:.2f}x (goal >= 3x)"
    )


def bench_snippets(folder: Path) -> None:
    pages = [p for p in load_snippet_pages(folder) if p.held_out]
    tools = {OURS: _ours, "  ours, all text blocks": _ours_all_blocks, "trafilatura": _trafilatura}
    results = run(pages, tools, 1)
    print(f"2. trafilatura's evaluation set, held-out half: {len(pages)} pages ({folder})")
    print("   snippet F1 / precision / recall (must / must-not substrings); docs/s one round")
    for name, (texts, rate) in results.items():
        f1, p, r = snippet_scores(pages, texts)
        print(f"{name:26} {f'{f1:.3f} {p:.3f} {r:.3f}':>22} {rate:8.1f}")
    ours, base = (
        snippet_scores(pages, results[OURS][0])[0],
        snippet_scores(pages, results["trafilatura"][0])[0],
    )
    print(f"   held-out F1 ours - trafilatura: {ours - base:+.3f}")


def main() -> None:
    import logging

    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    logging.getLogger("readability").setLevel(logging.CRITICAL)
    articles, snippets = find_dataset(), find_snippet_set()
    if articles is None:
        print(
            "1. skipped: the ScrapingHub article-extraction-benchmark was not found; clone "
            "https://github.com/scrapinghub/article-extraction-benchmark and set CURATE_ARTICLE_BENCH to it"
        )
    else:
        bench_articles(articles)
    if snippets is None:
        print(
            "2. skipped: trafilatura's evaluation set was not found; clone https://github.com/adbar/trafilatura "
            "and set CURATE_TRAFILATURA_EVAL to it"
        )
    else:
        bench_snippets(snippets)


if __name__ == "__main__":
    main()
