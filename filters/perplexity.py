"""Perplexity of a record's text under a language model; high perplexity flags garbled or non-prose text.

Backends (each turns text into natural-log probabilities of its tokens):
- `PocketsphinxNgramLM`: the CMU US-English trigram model bundled with pocketsphinx (default n-gram LM),
- `KenLMNgramLM`: a KenLM model file the user supplies (OBELICS used one, keeping perplexity <= 1500),
- `LlamaCppCausalLM`: a causal LM in GGUF via llama.cpp with logits for every token (Idefics2 used a
  causal LM and dropped the 5% highest); default model: the packaged SmolLM2-135M,
- `TransformersCausalLM`: a Hugging Face causal LM, on GPU when present (`transformers` needed).
N-gram backends skip out-of-vocabulary words (they carry no probability in the model).

`PerplexityFilter` writes `scores["perplexity"]` and, given `max_perplexity`, drops above it. The
dataset-wide percentile cut is a separate stage on the stored scores (see `filters/threshold.py`).
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
from curate.filters.packaged import default_gguf_path, pocketsphinx_lm_path
from curate.filters.threshold import score_cut
from datatrove.data import Document
from datatrove.pipeline.writers.disk_base import DiskWriter

from curate.options import PATH, Option, OptionError
from curate.record import set_score
from curate.steps import ScoreFilter
from curate.wiring import DatasetCut, StepSpec, arg

WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def words_of(text: str) -> list[str]:
    """Lower-cased words, the n-gram models' vocabulary form (CMU and most KenLM models are lower case)."""
    return WORD.findall(text.lower())


class LanguageModel(ABC):
    """Turns text into the natural-log probabilities of the tokens it can score."""

    name: str = "lm"

    @abstractmethod
    def log_probs(self, text: str) -> list[float]: ...

    def perplexity(self, text: str) -> float | None:
        """exp(-mean log-probability) over the scored tokens; None if no token could be scored."""
        logp = self.log_probs(text)
        return math.exp(-sum(logp) / len(logp)) if logp else None


class PocketsphinxNgramLM(LanguageModel):
    """A trigram model read with pocketsphinx's `NGramModel` (default: its bundled en-us.lm.bin)."""

    name = "ngram"

    def __init__(self, path: str | Path | None = None):
        from pocketsphinx import LogMath, NGramModel, set_loglevel

        set_loglevel("FATAL")  # its INFO lines would flood every task's log
        self.path = str(path or pocketsphinx_lm_path())
        self.lm = NGramModel.readfile(self.path)
        # NGramModel.prob returns integer log-probabilities in base 1.0001 (pocketsphinx's LogMath)
        self.to_ln = LogMath().log_to_ln(1)
        self._known: dict[str, bool] = {}

    def _in_vocabulary(self, word: str) -> bool:
        known = self._known.get(word)
        if known is None:
            known = self._known[word] = self.lm.prob([word]) > -(1 << 28)  # OOV: log(0) = -2**29
        return known

    def log_probs(self, text: str) -> list[float]:
        history = ["<s>", "<s>"]
        out = []
        for word in words_of(text):
            if self._in_vocabulary(word):
                # pocketsphinx takes the n-gram newest word first: P(w | h1 h2) is prob([w, h1, h2])
                out.append(self.lm.prob([word, history[-1], history[-2]]) * self.to_ln)
            history.append(word)  # an OOV word stays in the history, so the model backs off past it
        return out


class KenLMNgramLM(LanguageModel):
    """A KenLM model (.arpa or .binary) the user supplies; needs `pip install kenlm`."""

    name = "kenlm"

    def __init__(self, path: str | Path):
        try:
            import kenlm
        except ImportError as exc:
            raise ImportError("the KenLM backend needs the kenlm package: pip install kenlm") from exc
        if not Path(path).is_file():
            raise FileNotFoundError(f"KenLM model {path} does not exist")
        self.model = kenlm.Model(str(path))

    def log_probs(self, text: str) -> list[float]:
        sentence = " ".join(words_of(text))
        return [
            log10p * math.log(10)
            for log10p, _, oov in self.model.full_scores(sentence, bos=True, eos=False)
            if not oov
        ]


class LlamaCppCausalLM(LanguageModel):
    """A causal LM in GGUF format through llama.cpp, with logits for every position.

    Texts are scored on their first `max_tokens` tokens (the model's context bounds it anyway).
    """

    name = "causal"

    def __init__(self, model_path: str | Path | None = None, max_tokens: int = 512, threads: int = 1):
        from llama_cpp import Llama

        self.model_path = str(model_path or default_gguf_path())
        self.max_tokens = max_tokens
        self.llm = Llama(
            model_path=self.model_path,
            logits_all=True,
            n_ctx=max_tokens,
            n_batch=max_tokens,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
        )

    def log_probs(self, text: str) -> list[float]:
        tokens = self.llm.tokenize(text.encode("utf-8"), add_bos=True)[: self.max_tokens]
        if len(tokens) < 2:
            return []
        self.llm.reset()
        self.llm.eval(tokens)
        logits = np.asarray(self.llm.scores[: len(tokens) - 1], dtype=np.float64)
        # log-softmax of position i's logits at the token that actually came next
        peak = logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(logits - peak).sum(axis=1)) + peak[:, 0]
        chosen = logits[np.arange(len(tokens) - 1), tokens[1:]]
        return (chosen - log_norm).tolist()


class TransformersCausalLM(LanguageModel):
    """A Hugging Face causal LM (GPU when present), as Idefics2 used (Falcon-1B); needs `transformers`.

    `model` is a hub name or local folder (loaded with `from_pretrained`), or a loaded model with its
    `tokenizer`. Texts are scored on their first `max_tokens` tokens.
    """

    name = "hf"

    def __init__(self, model, tokenizer=None, max_tokens: int = 1024, device: str | None = None):
        import torch

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if isinstance(model, str | Path):
            try:
                from transformers import AutoModelForCausalLM, AutoTokenizer
            except ImportError as exc:
                raise ImportError("the hf backend needs transformers: pip install transformers") from exc
            tokenizer = tokenizer or AutoTokenizer.from_pretrained(str(model))
            dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
            model = AutoModelForCausalLM.from_pretrained(str(model), dtype=dtype)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens

    def log_probs(self, text: str) -> list[float]:
        import torch

        ids = self.tokenizer(text, truncation=True, max_length=self.max_tokens)["input_ids"]
        bos = self.tokenizer.bos_token_id
        if bos is not None and (not ids or ids[0] != bos):
            ids = [bos, *ids][: self.max_tokens]  # the first word is then predicted too, as with llama.cpp
        if len(ids) < 2:
            return []
        tokens = torch.tensor([ids], device=self.device)
        with torch.no_grad():
            logits = self.model(tokens).logits[0, :-1].float()
        chosen = torch.log_softmax(logits, dim=-1).gather(1, tokens[0, 1:, None])[:, 0]
        return chosen.cpu().tolist()


def make_language_model(
    backend: str = "ngram", model_path: str | Path | None = None, **kwargs
) -> LanguageModel:
    """`ngram` (pocketsphinx, or the given n-gram file), `kenlm` (needs model_path), `causal` (GGUF through
    llama.cpp) or `hf` (a Hugging Face causal LM, needs model_path)."""
    if backend == "ngram":
        return PocketsphinxNgramLM(model_path)
    if backend == "kenlm":
        if not model_path:
            raise OptionError("the kenlm backend needs a model file: --set perplexity_model=PATH")
        return KenLMNgramLM(model_path)
    if backend == "causal":
        return LlamaCppCausalLM(model_path, **kwargs)
    if backend == "hf":
        if not model_path:
            raise OptionError("the hf backend needs a model: --set perplexity_model=HUB_NAME_OR_FOLDER")
        return TransformersCausalLM(model_path, **kwargs)
    raise ValueError(f"unknown perplexity backend {backend!r}: use ngram, kenlm, causal or hf")


class PerplexityFilter(ScoreFilter):
    """Writes `scores[score_name]`; drops records above `max_perplexity` if one is given.

    The model is loaded once per task, on the first record. Texts shorter than `min_tokens` scored
    tokens get no score (a perplexity of two words says nothing) and are kept.

    Args:
        backend: "ngram" (pocketsphinx trigram), "kenlm", "causal" (llama.cpp GGUF) or "hf" (transformers)
        model_path: the backend's model file; default: the packaged one (none for kenlm)
        max_perplexity: absolute cut (OBELICS, KenLM: 1500); None: score only (for a percentile cut)
    """

    name = "🧮 Perplexity"

    def __init__(
        self,
        backend: str = "ngram",
        model_path: str | Path | None = None,
        max_perplexity: float | None = None,
        min_tokens: int = 5,
        score_name: str = "perplexity",
        exclusion_writer: DiskWriter | None = None,
        error_writer: DiskWriter | None = None,
        **model_kwargs,
    ):
        super().__init__(exclusion_writer, error_writer)
        self.backend = backend
        self.model_path = model_path
        self.max_perplexity = max_perplexity
        self.min_tokens = min_tokens
        self.score_name = score_name
        self.model_kwargs = model_kwargs
        self._lm: LanguageModel | None = None

    @property
    def lm(self) -> LanguageModel:
        if self._lm is None:
            from curate.run.worker_cache import worker_model

            path = self.model_path if isinstance(self.model_path, str | Path | None) else id(self.model_path)
            key = ("lm", self.backend, path, tuple(sorted(self.model_kwargs.items())))
            self._lm = worker_model(
                key, lambda: make_language_model(self.backend, self.model_path, **self.model_kwargs)
            )
        return self._lm

    def score(self, doc: Document) -> None:
        logp = self.lm.log_probs(doc.text)
        if len(logp) >= self.min_tokens:
            set_score(doc, self.score_name, math.exp(-sum(logp) / len(logp)))

    def decide(self, doc: Document) -> bool | tuple[bool, str]:
        return score_cut(doc, self.score_name, self.max_perplexity)

    def thresholds(self) -> dict[str, dict]:
        cut = f", drop above {self.max_perplexity}" if self.max_perplexity is not None else ", score only"
        return {self.score_name: {"max": self.max_perplexity, "rule": f"{self.backend} LM{cut}"}}


FILTER = StepSpec(
    PerplexityFilter,
    switch="perplexity",
    description="perplexity score (n-gram or causal LM)",
    exclusions="perplexity",
    errors="perplexity",
    args=(
        arg(PerplexityFilter, "backend", "perplexity_backend", type=str, choices=("ngram", "kenlm", "causal", "hf"),
            help="language model scoring perplexity"),
        arg(PerplexityFilter, "model_path", "perplexity_model", type=PATH,
            help="model file (kenlm, causal) or hub name (hf); default: the packaged one"),
        arg(PerplexityFilter, "max_perplexity", "perplexity_max", type=float, minimum=0,
            help="absolute cut (none: score only)", source="OBELICS used 1500 with its KenLM"),
    ),
    cut=DatasetCut(
        Option("perplexity_drop_fraction", float, 0.05, minimum=0, maximum=0.99, source="Idefics2",
               help="drop this fraction of highest-perplexity records, dataset-wide (none: no cut)"),
        score="perplexity",
        highest=True,
        description="drop the highest-perplexity fraction of the dataset",
    ),
)  # fmt: skip
