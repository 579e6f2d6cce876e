"""MinHash dedup: our signatures + LSH buckets + clusters vs datasketch's MinHash LSH on the same
documents in the same run, and peak memory of the whole three-stage dedup at 1x and 4x the input.

Documents are 200 words of real text (../shared/data/html pages and born-digital PDF text), ten
20-word segments from random places, plus 20% planted near copies (3% of words changed). Both sides use the same words,
the same 5-word shingles, 112 hash functions and 14 bands of 8.

    python -m benchmarks dedup            (CURATE_BENCH_DOCS=N sets the 1x size, default 4000)
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CURATE_SHARED_DATA", REPO.parent / "shared" / "data"))
BANDS, ROWS, NGRAM = 14, 8, 5


def corpus_words() -> list[str]:
    import lxml.html
    import pymupdf

    words: list[str] = []
    for path in sorted((SHARED / "html").glob("*.html")):
        words += lxml.html.fromstring(path.read_bytes()).text_content().split()
    for path in sorted((SHARED / "pdf" / "born_digital").glob("*.pdf")):
        with pymupdf.open(path) as pdf:
            for page in pdf:
                words += page.get_text().split()
    return words


def make_documents(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    words = corpus_words()
    docs = []
    for _ in range(count):
        if docs and rng.random() < 0.2:  # a near copy of an earlier document
            source = rng.choice(docs).split()
            docs.append(" ".join(w if rng.random() > 0.03 else w[::-1] for w in source))
        else:  # 10 segments of 20 words from random places: documents that share little
            starts = [rng.randrange(len(words) - 20) for _ in range(10)]
            docs.append(" ".join(w for start in starts for w in words[start : start + 20]))
    return docs


def datasketch_dedup(docs: list[str]) -> int:
    """The baseline: datasketch MinHash + MinHashLSH, query then insert, one document at a time."""
    from curate.filters.dedup.normalize import words
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(num_perm=BANDS * ROWS, params=(BANDS, ROWS))
    duplicates = 0
    for i, doc in enumerate(docs):
        tokens = words(doc)
        shingles = [" ".join(tokens[j : j + NGRAM]).encode() for j in range(max(1, len(tokens) - NGRAM + 1))]
        m = MinHash(num_perm=BANDS * ROWS, seed=1)
        m.update_batch(shingles)
        if lsh.query(m):
            duplicates += 1
        else:
            lsh.insert(i, m)
    return duplicates


def our_dedup(docs: list[str]) -> int:
    """Ours in one process: batched signatures -> band keys -> sorted buckets -> clusters."""
    from curate.filters.dedup.decisions import cluster
    from curate.filters.dedup.index import ENTRY
    from curate.filters.dedup.kinds import MinHashText
    from curate.filters.dedup.match_step import cluster_pairs

    kind = MinHashText(bands=BANDS, rows=ROWS, ngram=NGRAM)
    parts = []
    for first in range(0, len(docs), 256):
        sigs, ok = kind.hasher.signatures(docs[first : first + 256])
        keys = kind.hasher.band_keys(sigs)[ok]
        idx = np.flatnonzero(ok) + first
        entries = np.zeros(keys.size, dtype=ENTRY)
        entries["key"], entries["idx"] = keys.reshape(-1), np.repeat(idx, BANDS)
        parts.append(entries)
    dropped, _, _ = cluster([(kind, cluster_pairs(np.concatenate(parts)))])
    return len(dropped)


def pipeline_run(input_dir: str, output_dir: str) -> None:
    """The three dedup stages through the recipe runner (what `curate run` does), one worker."""
    from curate.filters.dedup.stages import minhash_dedup_stages

    from curate.recipe import Recipe
    from curate.run.executors import ExecutorConfig
    from curate.run.runner import run_recipe

    stages = minhash_dedup_stages(bands=BANDS, rows=ROWS, ngram=NGRAM, exact_text=False)
    run_recipe(Recipe("bench", stages), input_dir, output_dir, ExecutorConfig("local", workers=1))


def write_input(docs: list[str], folder: Path, files: int = 4) -> None:
    from curate.io import RecordWriter
    from curate.record import pdf_page_record

    per_file = -(-len(docs) // files)
    for rank in range(files):
        with RecordWriter(str(folder)) as writer:
            for i, text in enumerate(docs[rank * per_file : (rank + 1) * per_file]):
                writer.write(pdf_page_record(f"doc-{rank}-{i}", text, None, source="bench", page=1), rank)


def measure_child(mode: str, arg: str) -> dict:
    """Peak RSS (ru_maxrss of a fresh child process) and seconds of one run."""
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_dedup", "--child", mode, arg],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def peak_rss_mb() -> float:
    """This program's peak resident memory (VmHWM). Not ru_maxrss: Linux carries the forking parent's
    peak into a child's ru_maxrss across exec, which would hide the child's own figure."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode: str, arg: str) -> None:
    """`imports`: the libraries alone; `pipeline FOLDER`: the 3 stages on a Parquet folder written by the
    parent; `datasketch FOLDER`: the baseline on the same documents (held in memory, as it needs)."""
    import logging

    import curate.filters.dedup.stages  # noqa: F401
    import datasketch  # noqa: F401 - the same libraries in every child
    import datatrove.executor  # noqa: F401
    import pyarrow.parquet as pq
    import scipy.sparse.csgraph  # noqa: F401
    from loguru import logger

    import curate.run.runner  # noqa: F401

    logger.remove()
    logging.disable(logging.WARNING)
    started = time.perf_counter()
    if mode == "pipeline":
        with tempfile.TemporaryDirectory() as tmp:
            pipeline_run(arg, tmp)
    elif mode == "datasketch":
        texts = [
            t
            for f in sorted(Path(arg).glob("*.parquet"))
            for t in pq.read_table(f, columns=["text"])["text"].to_pylist()
        ]
        datasketch_dedup(texts)
    seconds = time.perf_counter() - started
    print(json.dumps({"peak_mb": peak_rss_mb(), "seconds": seconds}))


def main() -> None:
    count = int(os.environ.get("CURATE_BENCH_DOCS", 4000))
    docs = make_documents(count)
    words = sum(len(d.split()) for d in docs) / len(docs)
    print(f"{len(docs)} documents of ~{words:.0f} words (real text, 20% planted near copies)")

    started = time.perf_counter()
    ours_found = our_dedup(docs)
    ours = len(docs) / (time.perf_counter() - started)
    started = time.perf_counter()
    baseline_found = datasketch_dedup(docs)
    baseline = len(docs) / (time.perf_counter() - started)
    print(f"datasketch MinHash+LSH : {baseline:8.0f} docs/s   duplicates found {baseline_found}")
    print(f"ours (signatures+LSH)  : {ours:8.0f} docs/s   duplicates found {ours_found}")
    print(f"ratio ours/datasketch  : {ours / baseline:8.2f}x")

    base = measure_child("imports", "0")["peak_mb"]
    print(f"python + libraries alone: peak RSS {base:.0f} MB")
    peaks = {}
    for scale in (1, 4):
        n = count * scale
        with tempfile.TemporaryDirectory() as tmp:
            write_input(make_documents(n), Path(tmp) / "in")
            ours_run = measure_child("pipeline", str(Path(tmp) / "in"))
            base_run = measure_child("datasketch", str(Path(tmp) / "in"))
        peaks[scale] = (ours_run["peak_mb"] - base, base_run["peak_mb"] - base)
        print(
            f"{scale}x ({n} docs): 3-stage dedup pipeline peak RSS {ours_run['peak_mb']:.0f} MB"
            f" (+{peaks[scale][0]:.0f} MB over the libraries; {n / ours_run['seconds']:.0f} docs/s end to"
            f" end incl. Parquet I/O and task overhead); datasketch in-memory LSH peak"
            f" {base_run['peak_mb']:.0f} MB (+{peaks[scale][1]:.0f} MB)"
        )
    ratio = [(peaks[4][i] / peaks[1][i]) if peaks[1][i] > 0 else float("nan") for i in (0, 1)]
    print(f"memory above the libraries, 4x/1x: ours {ratio[0]:.2f}x, datasketch {ratio[1]:.2f}x")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    else:
        main()
