"""Each filter's items/s against a direct call of the library it wraps, on the same items, in this run.

NSFW: NudeNet `detect_batch` on the image bytes. Language: fastText `predict` on the texts.
Perplexity: pocketsphinx `NGramModel.prob` per word (trigram history), and llama.cpp `eval` + log-softmax.
CLIP: open_clip `encode_image`/`encode_text` + cosine, same batch size (random weights: none ship here).
Baseline and ours alternate CURATE_BENCH_ROUNDS times (default 5) after a warm-up; each ratio is the median of
the per-round ratios of items per CPU-second (this process, all threads: wall time moves with the shared
machine's load) with its spread (lowest-highest), so a 0.9x goal can be judged on a shared machine.
Workers: 1 (in-process), so the ratio is the per-record overhead of our step.
"""

from __future__ import annotations

import io
import os
import random
import time
from collections.abc import Callable
from pathlib import Path

from datatrove.data import Document

from benchmarks.measure import ratios, spread, verdict
from curate.record import image_media, pair_record

DATA = Path(
    os.environ.get("CURATE_SHARED_DATA", Path(__file__).resolve().parent.parent.parent / "shared" / "data")
)
ROUNDS = int(os.environ.get("CURATE_BENCH_ROUNDS", "5"))


def rate(fn: Callable[[], int]) -> tuple[float, float]:
    """(items per CPU-second of this process, all its threads; items per wall second)."""
    started, cpu = time.perf_counter(), time.process_time()
    n = fn()
    return n / max(time.process_time() - cpu, 1e-9), n / (time.perf_counter() - started)


def compare(name: str, batch: int, baseline: Callable[[], int], ours: Callable[[], int], unit: str) -> None:
    """Baseline and ours in turn, ROUNDS times (a warm-up pair first, not counted): per-round ratios of
    items per CPU-second (the machine's other jobs move wall time, much less this process's CPU time),
    printed as median [lowest-highest] with whether the 0.9x goal is met or the noise cannot tell; the
    wall-time ratio beside it."""
    baseline(), ours()  # warm-up: sessions, caches, first-call allocations
    base, mine = [], []
    for i in range(ROUNDS):
        pair = [(base, baseline), (mine, ours)]
        for rates, fn in pair if i % 2 == 0 else pair[::-1]:  # neither always runs first
            rates.append(rate(fn))
    values = ratios([m[0] for m in mine], [b[0] for b in base])
    walls = ratios([m[1] for m in mine], [b[1] for b in base])
    print(
        f"{name:<18} batch {batch:>3}  workers 1  direct {spread([b[0] for b in base], '', 1):>20} {unit}/CPU-s"
        f"  ours {spread([m[0] for m in mine], '', 1):>20} {unit}/CPU-s  ratio {spread(values)}"
        f"  {verdict(values, 0.9)}  (wall: {spread(walls)})",
        flush=True,
    )


def photos(n: int) -> list[bytes]:
    files = sorted(p for p in (DATA / "images/photos").iterdir() if p.suffix in (".jpg", ".png"))
    return [files[i % len(files)].read_bytes() for i in range(n)]


def texts(n: int, min_chars: int = 200) -> list[str]:
    import lxml.html

    out = []
    for page in sorted((DATA / "html").glob("*.html")):
        tree = lxml.html.fromstring(page.read_bytes())
        for node in tree.xpath("//script|//style"):
            node.drop_tree()
        out += [
            t for t in (" ".join(p.text_content().split()) for p in tree.iter("p")) if len(t) >= min_chars
        ]
    return (out * (n // max(len(out), 1) + 1))[:n]


def docs_of(strings: list[str]) -> list[Document]:
    return [Document(text=t, id=str(i), metadata={"scores": {}}) for i, t in enumerate(strings)]


def bench_nsfw(n: int = 96, batch: int = 8) -> None:
    from curate.filters.nsfw import NsfwFilter
    from nudenet import NudeDetector

    images = photos(n)
    detector = NudeDetector()
    # ours at its default batch (2: onnxruntime's arena keeps the largest call's tensors), against the
    # library's call at `batch`
    step = NsfwFilter()
    step.classifier._detector = detector  # the same loaded session for both

    def baseline():
        return len(detector.detect_batch(images, batch_size=batch))

    def ours():
        docs = [
            pair_record(str(i), "", image_media(b, media_id=str(i)), source="") for i, b in enumerate(images)
        ]
        return sum(1 for _ in step.run(iter(docs)))

    compare(f"nsfw (ours at {step.batch_size})", batch, baseline, ours, "img")


def bench_language(n: int = 2000) -> None:
    from curate.filters.language import LanguageFilter
    from curate.filters.packaged import lid176_path
    from fasttext.FastText import _FastText

    items = texts(n)
    model = _FastText(str(lid176_path()))
    step = LanguageFilter(languages=None, min_score=0.0)
    step.lid._model = model

    def baseline():
        return len([model.predict(t.replace("\n", " "), k=1) for t in items])

    docs = docs_of(items)  # records are built by the reader, outside the filter's time
    compare(
        "language (lid.176)", step.batch_size, baseline, lambda: sum(1 for _ in step.run(iter(docs))), "doc"
    )


def bench_ngram(n: int = 300) -> None:
    from curate.filters.perplexity import PerplexityFilter, PocketsphinxNgramLM, words_of

    items = texts(n)
    lm = PocketsphinxNgramLM()
    step = PerplexityFilter(backend="ngram")
    step._lm = lm
    raw = lm.lm

    def baseline():
        for text in items:
            history, total = ["<s>", "<s>"], 0
            for word in words_of(text):
                p = raw.prob([word, history[-1], history[-2]])
                if p > -(1 << 28):
                    total += p
                history.append(word)
        return len(items)

    words = sum(len(words_of(t)) for t in items)
    print(f"  (ngram: {words / n:.0f} words per document)")
    docs = docs_of(items)
    compare("perplexity ngram", 1, baseline, lambda: sum(1 for _ in step.run(iter(docs))), "doc")


def bench_causal(n: int = 6, max_tokens: int = 128) -> None:
    import numpy as np
    from curate.filters.perplexity import LlamaCppCausalLM, PerplexityFilter

    items = texts(n, min_chars=600)
    lm = LlamaCppCausalLM(max_tokens=max_tokens)
    step = PerplexityFilter(backend="causal")
    step._lm = lm
    llm = lm.llm

    def baseline():
        for text in items:
            tokens = llm.tokenize(text.encode(), add_bos=True)[:max_tokens]
            llm.reset()
            llm.eval(tokens)
            logits = np.asarray(llm.scores[: len(tokens) - 1], dtype=np.float64)
            log_norm = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
            float(np.mean(logits[np.arange(len(tokens) - 1), tokens[1:]] - log_norm))
        return len(items)

    print(f"  (causal: {Path(lm.model_path).name}, {max_tokens} tokens per document)")
    docs = docs_of(items)
    compare("perplexity causal", 1, baseline, lambda: sum(1 for _ in step.run(iter(docs))), "doc")


def bench_clip(n: int = 32, batch: int = 16) -> None:
    import torch
    from curate.filters.clip_score import ClipScoreFilter
    from PIL import Image

    images = photos(n)
    captions = texts(n, min_chars=60)
    step = ClipScoreFilter(min_score=None, batch_size=batch, random_init_seed=0)
    model, preprocess, tokenizer, _ = step.clip

    def baseline():
        for i in range(0, n, batch):
            pixels = torch.stack(
                [preprocess(Image.open(io.BytesIO(b)).convert("RGB")) for b in images[i : i + batch]]
            )
            with torch.no_grad():
                a = model.encode_image(pixels)
                b = model.encode_text(tokenizer(captions[i : i + batch]))
                (a / a.norm(dim=-1, keepdim=True) * (b / b.norm(dim=-1, keepdim=True))).sum(-1).tolist()
        return n

    def ours():
        docs = [
            pair_record(str(i), captions[i], image_media(b, media_id=str(i)), source="")
            for i, b in enumerate(images)
        ]
        return sum(1 for _ in step.run(iter(docs)))

    print(f"  (clip: ViT-B-32 random weights, {torch.get_num_threads()} torch threads)")
    compare("clip score", batch, baseline, ours, "pair")


def main() -> None:
    if not DATA.is_dir():
        print(f"skipped: real test data not found at {DATA}")
        return
    random.seed(0)
    for bench in (bench_language, bench_ngram, bench_nsfw, bench_clip, bench_causal):
        bench()


if __name__ == "__main__":
    main()
