"""Perplexity: clean English scores lower than its own words shuffled (both backends), and the
dataset-wide percentile cut drops the expected fraction of a real corpus."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pyarrow.parquet as pq
import pytest
from curate.filters.perplexity import KenLMNgramLM, LlamaCppCausalLM, PerplexityFilter, PocketsphinxNgramLM
from curate.filters.stages import perplexity_cut_stage, perplexity_score_stage
from curate.filters.threshold import percentile_threshold
from datatrove.data import Document

from curate.io import RecordWriter
from curate.recipe import Recipe
from curate.record import scores
from curate.run.executors import ExecutorConfig
from curate.run.runner import run_recipe


def pdf_paragraphs(path, min_words=40) -> list[str]:
    """Text blocks of a real born-digital PDF, one string per block."""
    import pymupdf

    out = []
    with pymupdf.open(path) as pdf:
        for page in pdf:
            for block in page.get_text("blocks"):
                text = " ".join(block[4].split())
                if len(text.split()) >= min_words:
                    out.append(text)
    return out


def shuffled(text: str, seed: int = 0) -> str:
    words = text.split()
    random.Random(seed).shuffle(words)
    return " ".join(words)


@pytest.fixture(scope="module")
def english(shared_data) -> list[str]:
    paragraphs = pdf_paragraphs(shared_data / "pdf/born_digital/tracemonkey.pdf")
    assert len(paragraphs) >= 20
    return paragraphs


def test_ngram_clean_english_beats_shuffled(english):
    lm = PocketsphinxNgramLM()
    for text in english[:20]:
        assert lm.perplexity(text) < lm.perplexity(shuffled(text)), text[:80]


def test_ngram_skips_out_of_vocabulary_words():
    lm = PocketsphinxNgramLM()
    assert len(lm.log_probs("the cat sat on the mat")) == 6
    assert len(lm.log_probs("the zzqxw cat sat on the mat")) == 6
    assert lm.perplexity("zzqxw qqzzx") is None


def test_causal_lm_clean_english_beats_shuffled(english):
    lm = LlamaCppCausalLM(max_tokens=128)  # packaged GGUF; short texts keep the test fast on CPU
    for text in english[:4]:
        assert lm.perplexity(text) < lm.perplexity(shuffled(text)), text[:80]


def write_bigram_arpa(paragraphs: list[str], path, discount: float = 0.75) -> None:
    """A small bigram LM in ARPA format (absolute discounting, in backoff form), from real text: a model
    file as a user would bring to the KenLM backend."""
    from collections import Counter

    from curate.filters.perplexity import words_of

    sentences = [["<s>", *words_of(p), "</s>"] for p in paragraphs]
    unigrams = Counter(w for s in sentences for w in s[1:])
    bigrams = Counter((a, b) for s in sentences for a, b in zip(s, s[1:], strict=False))
    vocab = [*sorted(unigrams), "<unk>"]
    total = sum(unigrams.values())
    p1 = {w: (unigrams[w] + 1) / (total + len(vocab)) for w in vocab}
    followers: dict[str, list[str]] = {}
    for a, b in bigrams:
        followers.setdefault(a, []).append(b)
    p2, backoff = {}, {}
    for a, seen in followers.items():
        count = sum(bigrams[(a, b)] for b in seen)
        for b in seen:
            p2[(a, b)] = (bigrams[(a, b)] - discount) / count + discount * len(seen) / count * p1[b]
        backoff[a] = (1 - sum(p2[(a, b)] for b in seen)) / (1 - sum(p1[b] for b in seen if b in p1))
    lines = ["\\data\\", f"ngram 1={len(vocab) + 1}", f"ngram 2={len(p2)}", "", "\\1-grams:"]
    lines.append(f"-99\t<s>\t{math.log10(backoff['<s>']):.6f}")
    for w in vocab:
        lines.append(f"{math.log10(p1[w]):.6f}\t{w}\t{math.log10(backoff.get(w, 1.0)):.6f}")
    lines += ["", "\\2-grams:"]
    lines += [f"{math.log10(p):.6f}\t{a} {b}" for (a, b), p in sorted(p2.items())]
    lines += ["", "\\end\\", ""]
    path.write_text("\n".join(lines))


def test_kenlm_clean_english_beats_shuffled(english, tmp_path):
    pytest.importorskip("kenlm", reason="SKIPPED: the KenLM backend needs `pip install kenlm`")
    model = tmp_path / "tracemonkey-bigram.arpa"
    write_bigram_arpa(english[10:], model)  # trained on the rest of the paper, tested on unseen text
    lm = KenLMNgramLM(model)
    for text in english[:10]:
        assert lm.perplexity(text) < lm.perplexity(shuffled(text)), text[:80]
    # out-of-vocabulary words carry no probability and are skipped
    assert len(lm.log_probs("the trace zzqxw tree")) == 3


def test_kenlm_backend_missing_model_or_package_says_how(tmp_path):
    try:
        import kenlm  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install kenlm"):
            KenLMNgramLM(tmp_path / "model.arpa")
        return
    with pytest.raises(FileNotFoundError, match="model.arpa"):
        KenLMNgramLM(tmp_path / "model.arpa")


def test_hf_causal_lm_log_probs_equal_a_direct_computation(english):
    """The transformers backend on a tiny random GPT-2 with a word-level tokenizer built here (no weights
    ship for a Hugging Face LM): our per-token log-probabilities equal a direct torch computation."""
    pytest.importorskip("transformers", reason="SKIPPED: the hf backend needs `pip install transformers`")
    import torch
    from curate.filters.perplexity import TransformersCausalLM
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    words = sorted({w for t in english for w in t.split()})
    vocab = {"<unk>": 0, "<s>": 1, **{w: i + 2 for i, w in enumerate(words)}}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>", bos_token="<s>")
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(vocab), n_positions=256, n_embd=32, n_layer=2, n_head=2)
    model = GPT2LMHeadModel(config)
    lm = TransformersCausalLM(model, tokenizer, max_tokens=128, device="cpu")
    text = english[0]
    ids = [1, *[vocab.get(w, 0) for w in text.split()]][:128]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0]
    direct = [torch.log_softmax(logits[i], -1)[ids[i + 1]].item() for i in range(len(ids) - 1)]
    assert lm.log_probs(text) == pytest.approx(direct, abs=1e-5)
    assert lm.perplexity(text) == pytest.approx(math.exp(-sum(direct) / len(direct)), rel=1e-5)


def test_filter_scores_then_applies_absolute_threshold(english):
    docs = [Document(text=t, id=str(i), metadata={"scores": {}}) for i, t in enumerate(english[:6])]
    docs += [
        Document(text=shuffled(t), id=f"s{i}", metadata={"scores": {}}) for i, t in enumerate(english[:6])
    ]
    docs.append(Document(text="too short", id="short", metadata={"scores": {}}))
    values = sorted(PocketsphinxNgramLM().perplexity(d.text) for d in docs[:-1])
    cut = values[len(values) // 2]
    step = PerplexityFilter(max_perplexity=cut)
    kept = list(step.run(iter(docs)))
    assert "perplexity" not in scores(docs[-1]) and docs[-1] in kept
    assert all(scores(d)["perplexity"] <= cut for d in kept if d.id != "short")
    assert step.stats["dropped_perplexity_too_high"].total == sum(v > cut for v in values)


def test_percentile_threshold_counts():
    values = np.arange(100, dtype=float)
    assert percentile_threshold(values, 0.05) == 94.0  # 95..99 are above: 5 dropped
    assert percentile_threshold(values, 0.7, highest=False) == 70.0  # 0..69 below: 70 dropped
    assert percentile_threshold(values[:10], 0.05) is None  # floor(0.5) = 0: nothing to drop


def real_corpus(shared_data) -> list[str]:
    """Text blocks of every born-digital PDF: prose, tables, code, transcripts, forms."""
    texts = []
    for pdf in sorted((shared_data / "pdf/born_digital").glob("*.pdf")):
        texts.extend(pdf_paragraphs(pdf, min_words=8))
    return texts


def test_percentile_cut_over_whole_dataset_drops_expected_fraction(shared_data, tmp_path):
    texts = real_corpus(shared_data)
    assert len(texts) >= 100
    source = tmp_path / "input"
    for rank in range(3):  # three input files -> three tasks, each sees only part of the data
        with RecordWriter(str(source)) as writer:
            for i, text in enumerate(texts[rank::3]):
                writer.write(
                    Document(text=text, id=f"{rank}-{i}", metadata={"kind": "page", "scores": {}}), rank
                )
    out = tmp_path / "out"
    recipe = Recipe("ppl", [perplexity_score_stage(), perplexity_cut_stage()])
    run_recipe(recipe, str(source), out, ExecutorConfig("local", workers=2))

    def read(folder):
        rows = []
        for path in sorted((out / "stages/perplexity_cut" / folder).glob("*.parquet")):
            rows += [json.loads(m) for m in pq.read_table(path, columns=["metadata"]).column(0).to_pylist()]
        return rows

    kept, dropped = read("data"), read("excluded")
    scored = [r["scores"]["perplexity"] for r in kept + dropped if "perplexity" in r["scores"]]
    assert len(kept) + len(dropped) == len(texts)
    assert len(dropped) == math.floor(len(scored) * 0.05) > 0
    # the dropped ones are the highest of the whole dataset, not of each task's share
    assert min(r["scores"]["perplexity"] for r in dropped) > max(
        r["scores"].get("perplexity", 0) for r in kept
    )
    thresholds = json.loads((out / "stages/perplexity_cut/thresholds.json").read_text())
    assert thresholds["perplexity"]["max"] == pytest.approx(sorted(scored)[len(scored) - len(dropped) - 1])
    from curate.run.report import run_funnel

    funnels = run_funnel(out, recipe.stage_names)
    assert all(f.balanced for f in funnels)
    assert funnels[1].dropped == {"perplexity_too_high": len(dropped)}
