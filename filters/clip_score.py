"""CLIP score: cosine similarity of an image and its text under an open_clip model, batched.

Pairs and pages: the image against the record's text (caption, page text). Interleaved documents:
each image against its surrounding text (the end of the block before it and the start of the block
after it). Writes `metadata["clip_score"]` on each image and `scores["clip"]` (their mean) on the
record, then drops records below `min_score` (DataComp: ViT-B/32 >= 0.25; for "ViT-L/14 top 30%", score
here with no threshold and cut with `curate.filters.threshold` over the whole dataset).

No CLIP weights ship in any package: they load from a local file or from the Hugging Face hub cache
where the user has them, and otherwise `ClipWeightsMissing` says how to provide them. Random weights
(`random_init_seed`) exist for tests and benchmarks only.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.writers.disk_base import DiskWriter

from curate.errors import decoding_image
from curate.options import PATH, Option
from curate.recipe import StageContext
from curate.record import INTERLEAVED, scores, set_score
from curate.steps import ScoreFilter
from curate.wiring import DatasetCut, StepSpec, arg

HF_WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
SURROUNDING_CHARS = 300  # CLIP reads 77 tokens; a few hundred characters around the image is plenty


class ClipWeightsMissing(FileNotFoundError):
    """The CLIP model's pretrained weights are not on this machine."""


def _hf_repo(cfg: dict) -> str | None:
    hub = cfg.get("hf_hub") or ""
    return hub.rstrip("/") or None


def find_clip_weights(
    model: str,
    pretrained: str,
    weights_path: str | Path | None = None,
    hub_cache: str | Path | None = None,
    clip_cache: str | Path | None = None,
) -> Path:
    """The local file holding `model`'s `pretrained` weights, without any download.

    Looks at `weights_path` if given, else the Hugging Face hub cache (`hub_cache`, default HF_HUB_CACHE)
    and open_clip's own download folder (`clip_cache`, default ~/.cache/clip). Raises ClipWeightsMissing saying how to provide them.
    """
    import open_clip
    from huggingface_hub import try_to_load_from_cache

    if weights_path:
        path = Path(weights_path).expanduser()
        if path.is_file():
            return path
        raise ClipWeightsMissing(
            f"CLIP weights file {path} does not exist; pass the path of an open_clip checkpoint "
            "(e.g. open_clip_pytorch_model.bin or open_clip_model.safetensors) with --set clip_weights=PATH"
        )
    cfg = open_clip.get_pretrained_cfg(model, pretrained)
    if not cfg:
        tags = ", ".join(open_clip.list_pretrained_tags_by_model(model)) or "none"
        raise ClipWeightsMissing(
            f"open_clip has no pretrained {pretrained!r} for {model}; known tags: {tags}"
        )
    looked = []
    repo = _hf_repo(cfg)
    if repo:
        for filename in HF_WEIGHT_FILES:
            found = try_to_load_from_cache(repo, filename, cache_dir=hub_cache)
            if isinstance(found, str) and os.path.isfile(found):
                return Path(found)
        looked.append(f"the Hugging Face hub cache for {repo}")
    if cfg.get("url"):
        local = Path(clip_cache or Path.home() / ".cache" / "clip") / os.path.basename(cfg["url"])
        if local.is_file():
            return local
        looked.append(str(local))
    fetch = f"huggingface-cli download {repo}" if repo else f"download {cfg.get('url')}"
    raise ClipWeightsMissing(
        f"no weights for CLIP {model} ({pretrained}) on this machine (looked in {' and '.join(looked)}); "
        f"CLIP scoring cannot run without them. Either run `{fetch}` where there is internet and copy the "
        "hub cache here (or set HF_HUB_CACHE to it), or pass a checkpoint file with "
        "--set clip_weights=PATH (ClipScoreFilter(weights_path=...)). To skip CLIP filtering: --set clip=false"
    )


def load_clip(
    model: str = "ViT-B-32",
    pretrained: str = "openai",
    weights_path: str | Path | None = None,
    device: str | None = None,
    random_init_seed: int | None = None,
    hub_cache: str | Path | None = None,
):
    """(model, preprocess, tokenizer, device), the model in eval mode on `device` (CUDA when present)."""
    import open_clip
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    kwargs = {}
    if random_init_seed is not None:
        torch.manual_seed(random_init_seed)
        checkpoint = None
    else:
        checkpoint = str(find_clip_weights(model, pretrained, weights_path, hub_cache))
        cfg = open_clip.get_pretrained_cfg(model, pretrained) or {}
        # a checkpoint file carries no preprocessing config: take it from the named pretrained tag
        kwargs = {
            "force_quick_gelu": bool(cfg.get("quick_gelu", False)),
            "image_mean": cfg.get("mean"),
            "image_std": cfg.get("std"),
            "image_interpolation": cfg.get("interpolation"),
            "image_resize_mode": cfg.get("resize_mode"),
        }
    clip, _, preprocess = open_clip.create_model_and_transforms(
        model, pretrained=checkpoint, device=device, **kwargs
    )
    clip.eval()
    return clip, preprocess, open_clip.get_tokenizer(model), device


def surrounding_text(texts: list[str | None], position: int, chars: int = SURROUNDING_CHARS) -> str:
    """The end of the nearest text block before `position` and the start of the nearest one after it."""
    before = next((t for t in reversed(texts[:position]) if t), "")
    after = next((t for t in texts[position + 1 :] if t), "")
    return f"{before[-chars // 2 :]} {after[: chars // 2]}".strip()


def image_text_pairs(doc: Document) -> list[tuple[object, str]]:
    """(image media, text to compare it with) for every image of a record that has bytes and some text."""
    pairs = []
    texts = doc.metadata.get("texts")
    for media in doc.media:
        if not media.media_bytes:
            continue
        if doc.metadata.get("kind") == INTERLEAVED and texts is not None:
            text = surrounding_text(texts, media.metadata.get("position", 0))
        else:
            text = doc.text
        if text.strip():
            pairs.append((media, text))
    return pairs


class ClipScoreFilter(ScoreFilter):
    """Drops records whose mean image-text CLIP score is below `min_score`.

    Args:
        min_score: DataComp's threshold for OpenAI ViT-B/32 (LAION-2B used 0.28); None: score only
        model, pretrained: an open_clip model name and pretrained tag (weights must be local)
        weights_path: an open_clip checkpoint file (overrides the hub cache lookup); `pretrained` must
            still name its training (e.g. "openai"), which sets its preprocessing and activation
        batch_size: records per forward pass (their images and texts go in one batch)
        device: default CUDA when present, else CPU
        random_init_seed: random weights from this seed instead of pretrained ones (tests, benchmarks)
        hub_cache: the Hugging Face hub cache to look in (default: HF_HUB_CACHE)
    """

    name = "🖼️ CLIP score"

    def __init__(
        self,
        min_score: float | None = 0.25,
        model: str = "ViT-B-32",
        pretrained: str = "openai",
        weights_path: str | Path | None = None,
        batch_size: int = 32,
        device: str | None = None,
        random_init_seed: int | None = None,
        hub_cache: str | Path | None = None,
        exclusion_writer: DiskWriter | None = None,
        error_writer: DiskWriter | None = None,
    ):
        super().__init__(exclusion_writer, error_writer, batch_size=batch_size)
        self.min_score = min_score
        self.model_name, self.pretrained, self.weights_path = model, pretrained, weights_path
        self.device = device
        self.random_init_seed = random_init_seed
        self.hub_cache = hub_cache
        self._clip = None

    def check_weights(self) -> None:
        """Fail early (in the driver, before any task starts) when the weights are missing."""
        if self.random_init_seed is None:
            find_clip_weights(self.model_name, self.pretrained, self.weights_path, self.hub_cache)

    def preflight(self) -> None:
        self.check_weights()  # ClipWeightsMissing says how to provide the weights

    def thresholds(self) -> dict[str, dict]:
        cut = f", drop below {self.min_score}" if self.min_score is not None else ", score only"
        return {"clip": {"min": self.min_score, "rule": f"{self.model_name} ({self.pretrained}){cut}"}}

    @property
    def clip(self):
        if self._clip is None:
            from curate.run.worker_cache import worker_model

            args = (self.model_name, self.pretrained, self.weights_path, self.device, self.random_init_seed)
            self._clip = worker_model(
                ("clip", *args, self.hub_cache), lambda: load_clip(*args, self.hub_cache)
            )
        return self._clip

    def similarities(self, images: list[bytes], texts: list[str]) -> list[float]:
        """Cosine similarity of each image with its text, in one batch."""
        import torch
        from PIL import Image

        model, preprocess, tokenizer, device = self.clip
        pixels = []
        for data in images:
            with decoding_image("image"), Image.open(io.BytesIO(data)) as image:
                pixels.append(preprocess(image.convert("RGB")))
        with torch.no_grad():
            image_features = model.encode_image(torch.stack(pixels).to(device))
            text_features = model.encode_text(tokenizer(texts).to(device))
            image_features = image_features / image_features.norm(dim=-1, keepdim=True)
            text_features = text_features / text_features.norm(dim=-1, keepdim=True)
            return (image_features * text_features).sum(dim=-1).float().cpu().tolist()

    def score_batch(self, batch: list[Document]) -> None:
        owners, images, texts = [], [], []
        for doc in batch:
            for media, text in image_text_pairs(doc):
                owners.append((doc, media))
                images.append(media.media_bytes)
                texts.append(text)
        if not images:
            return
        per_doc: dict[int, list[float]] = {}
        for (doc, media), value in zip(owners, self.similarities(images, texts), strict=True):
            media.metadata["clip_score"] = value
            per_doc.setdefault(id(doc), []).append(value)
        for doc in batch:
            if id(doc) in per_doc:
                values = per_doc[id(doc)]
                set_score(doc, "clip", sum(values) / len(values))

    def decide(self, doc: Document) -> bool | tuple[bool, str]:
        value = scores(doc).get("clip")
        if self.min_score is not None and value is not None and value < self.min_score:
            return False, "clip_score_low"
        return True


KEEP_FRACTION = Option(
    "clip_keep_fraction",
    float,
    None,
    minimum=0.01,
    maximum=1,
    help="keep the top fraction by CLIP score, dataset-wide, instead of clip_min_score",
    source="DataComp ViT-L/14: 0.3",
)


def _score_only_with_keep_fraction(kwargs: dict, ctx: StageContext) -> dict:
    # with a top-k% rule this filter only scores; the cut stage after it applies the dataset-wide cut
    return {**kwargs, "min_score": None} if ctx.option(KEEP_FRACTION.name) is not None else kwargs


FILTER = StepSpec(
    ClipScoreFilter,
    switch="clip",
    description="CLIP image-text score (open_clip)",
    exclusions="clip",
    errors="clip",
    args=(
        arg(ClipScoreFilter, "model", "clip_model", type=str, help="open_clip model name"),
        arg(ClipScoreFilter, "pretrained", "clip_pretrained", type=str, help="open_clip weights tag"),
        arg(ClipScoreFilter, "weights_path", "clip_weights", type=PATH, help="local checkpoint file"),
        arg(ClipScoreFilter, "hub_cache", "clip_hub_cache", type=PATH,
            help="Hugging Face hub cache holding the weights"),
        arg(ClipScoreFilter, "batch_size", "clip_batch_size", type=int, minimum=1, help="images per batch"),
        arg(ClipScoreFilter, "device", "clip_device", type=str, help="cuda or cpu (default: cuda if present)"),
        arg(ClipScoreFilter, "random_init_seed", "clip_random_seed", type=int,
            help="random weights with this seed: tests and benchmarks only"),
        arg(ClipScoreFilter, "min_score", "clip_min_score", type=float,
            help="drop pairs with a lower image-text cosine (none: score only)", source="DataComp ViT-B/32"),
    ),
    options=(KEEP_FRACTION,),
    prepare=_score_only_with_keep_fraction,
    cut=DatasetCut(KEEP_FRACTION, score="clip", highest=False, keep=True,
                   description="keep the top CLIP-score fraction"),
)  # fmt: skip
