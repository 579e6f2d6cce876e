"""OBELICS filters for web documents, with the OBELICS paper's values as defaults.

- `ObelicsImageFilter`: removes images that failed to fetch or whose size is outside 150-20,000 px per
  side or whose aspect ratio exceeds 2 (a pair record whose image goes is dropped);
- `ObelicsParagraphFilter`: removes paragraphs outside 4-1,000 words (headings, menus left over);
- `ObelicsImageCountFilter`: keeps documents with 1-30 images;
- `ObelicsTextFilter`: keeps documents of 10-2,000 words, stop-word ratio >= 0.35, special-character
  ratio <= 0.275 (whitespace, digits, punctuation and symbols count as special, as in OBELICS).
Repetition (duplicate lines/paragraphs, top and duplicated n-grams) is datatrove's `GopherRepetitionFilter`
with its defaults; `repetition_filter()` gives it a regex word tokenizer, so it needs no spaCy model.
"""

from __future__ import annotations

import re
import string

from datatrove.data import Document
from datatrove.pipeline.filters import GopherRepetitionFilter
from datatrove.utils.word_tokenizers import WordTokenizer

from curate.record import INTERLEAVED, PAIR, scores, sequence_of, set_score, set_sequence
from curate.steps import RecordStep, ScoreFilter
from curate.web.images import size_problem
from curate.wiring import StepSpec, arg

_WORD = re.compile(r"\w+", re.UNICODE)
SPECIAL_CHARACTERS = frozenset(
    string.punctuation
    + string.digits
    + string.whitespace
    + "–—‘’“”«»…•·°€£¥©®™§¶†‡′″×÷±≈≠≤≥←→↑↓■□▪▫●○◆◇★☆♥♦♣♠✓✔✗✘|¦¨´¸¯˜ˆ\u00a0\u200b\u3000"
)
# English stop words (function words): their share of a document's words tells prose from lists and spam
STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most my
    myself no nor not now of off on once only or other our ours ourselves out over own same she should so
    some such than that the their theirs them themselves then there these they this those through to too
    under until up very was we were what when where which while who whom why will with would you your
    yours yourself yourselves also may might must shall us let one two many much every another s t d ll m
    re ve don doesn didn isn aren wasn weren won wouldn shouldn couldn can't cannot hasn haven hadn ain
    get gets got make makes made like even well back way still however since though although yet within
    without upon among across along around via per whether either neither several less least rather quite
    often always never already almost ever also else enough first last next new say says said use used
    using see seen go goes went know known take time way just therefore thus hence instead across toward
    towards onto whose whom whatever whenever wherever something anything nothing everything someone anyone
    everyone nobody people thing things""".split()
)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class RegexWordTokenizer(WordTokenizer):
    """Words are runs of word characters; sentences end at terminal punctuation or a line break."""

    _sentence = re.compile(r"[^.!?\n]+[.!?]*")

    def word_tokenize(self, text: str) -> list[str]:
        return _WORD.findall(text)

    def sent_tokenize(self, text: str) -> list[str]:
        return [s.strip() for s in self._sentence.findall(text) if s.strip()]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in self._sentence.finditer(text)]


def repetition_filter(exclusion_writer=None) -> GopherRepetitionFilter:
    """datatrove's Gopher repetition filter (its thresholds) with a dependency-free word tokenizer."""
    return GopherRepetitionFilter(exclusion_writer=exclusion_writer, language=RegexWordTokenizer())


class ObelicsImageFilter(ScoreFilter):
    """Removes unusable images from records: failed fetches and sizes outside the OBELICS bounds.

    Removed images are listed in `metadata["removed_images"]` with their reason. An interleaved document
    goes on (the image-count filter decides about it); a pair whose image is removed is dropped.
    """

    name = "🖼 OBELICS images"

    def __init__(
        self,
        min_side: int = 150,
        max_side: int = 20_000,
        max_aspect_ratio: float = 2.0,
        exclusion_writer=None,
        error_writer=None,
    ):
        super().__init__(exclusion_writer=exclusion_writer, error_writer=error_writer)
        self.min_side, self.max_side, self.max_aspect_ratio = min_side, max_side, max_aspect_ratio

    def image_problem(self, media) -> str | None:
        if media.metadata.get("fetch_error") or not media.media_bytes:
            return "image_not_fetched"
        width, height = media.metadata.get("width"), media.metadata.get("height")
        if not width or not height:
            return "image_size_unknown"
        return size_problem(width, height, self.min_side, self.max_side, self.max_aspect_ratio)

    def score(self, doc: Document) -> None:
        """List the unusable images with their reason (`metadata["removed_images"]`) and count them
        (score `images_removed`); the record itself is unchanged."""
        removed = doc.metadata.setdefault("removed_images", [])
        for media in doc.media:
            problem = self.image_problem(media)
            if problem:
                removed.append({"url": media.url, "reason": problem})
                self.stat_update(f"images_removed_{problem}")
        set_score(doc, "images_removed", len(removed))

    def remove_images(self, doc: Document) -> None:
        """Take the unusable images out of the record (an interleaved document keeps its text in order)."""
        if doc.metadata.get("kind") == INTERLEAVED:
            set_sequence(
                doc, [i for i in sequence_of(doc) if isinstance(i, str) or not self.image_problem(i)]
            )
        else:
            doc.media = [m for m in doc.media if not self.image_problem(m)]

    def score_batch(self, batch: list[Document]) -> None:
        # the images go before `decide`, so a pair that lost its image is dropped (and stored without it)
        for doc in batch:
            self.score(doc)
            self.remove_images(doc)

    def decide(self, doc: Document) -> bool | tuple[bool, str]:
        if doc.metadata.get("kind") == PAIR and not doc.media:
            return False, doc.metadata["removed_images"][-1]["reason"]
        return True


class ObelicsImageCountFilter(ScoreFilter):
    """Keeps documents with `min_images`..`max_images` images (OBELICS: 1-30)."""

    name = "🔢 OBELICS image count"

    def __init__(self, min_images: int = 1, max_images: int = 30, exclusion_writer=None, error_writer=None):
        super().__init__(exclusion_writer=exclusion_writer, error_writer=error_writer)
        self.min_images, self.max_images = min_images, max_images

    def score(self, doc: Document) -> None:
        set_score(doc, "images", len(doc.media))

    def decide(self, doc: Document) -> bool | tuple[bool, str]:
        count = scores(doc)["images"]
        if count < self.min_images:
            return False, "too_few_images"
        if count > self.max_images:
            return False, "too_many_images"
        return True


class ObelicsParagraphFilter(RecordStep):
    """Removes paragraphs with fewer than `min_words` or more than `max_words` words (OBELICS: 4-1,000);
    images stay in place. The number removed goes to `metadata["paragraphs_out_of_length"]` (not
    `removed_paragraphs`: the dedup stage lists there the repeated paragraphs it removes, and a record
    passes through both)."""

    name = "✂ OBELICS paragraphs"

    def __init__(self, min_words: int = 4, max_words: int = 1000, error_writer=None):
        super().__init__(error_writer=error_writer)
        self.min_words, self.max_words = min_words, max_words

    def process(self, doc: Document) -> Document:
        kept, removed = [], 0
        for item in sequence_of(doc):
            if isinstance(item, str) and not self.min_words <= len(words(item)) <= self.max_words:
                removed += 1
                continue
            kept.append(item)
        if removed:
            set_sequence(doc, kept)
            self.stat_update("paragraphs_removed", value=removed)
        doc.metadata["paragraphs_out_of_length"] = removed
        return doc


class ObelicsTextFilter(ScoreFilter):
    """Document-level text quality with OBELICS thresholds: word count, stop-word and special-character
    ratios. Scores `words`, `stop_word_ratio`, `special_char_ratio` are written before deciding."""

    name = "📝 OBELICS text"

    def __init__(
        self,
        min_words: int = 10,
        max_words: int = 2000,
        min_stop_word_ratio: float = 0.35,
        max_special_char_ratio: float = 0.275,
        stop_words: frozenset[str] = STOP_WORDS,
        exclusion_writer=None,
        error_writer=None,
    ):
        super().__init__(exclusion_writer=exclusion_writer, error_writer=error_writer)
        self.min_words, self.max_words = min_words, max_words
        self.min_stop_word_ratio, self.max_special_char_ratio = min_stop_word_ratio, max_special_char_ratio
        self.stop_words = stop_words

    def score(self, doc: Document) -> None:
        tokens = words(doc.text)
        set_score(doc, "words", len(tokens))
        set_score(doc, "stop_word_ratio", sum(t in self.stop_words for t in tokens) / max(1, len(tokens)))
        text = doc.text
        set_score(doc, "special_char_ratio", sum(c in SPECIAL_CHARACTERS for c in text) / max(1, len(text)))

    def decide(self, doc: Document) -> bool | tuple[bool, str]:
        s = scores(doc)
        if s["words"] < self.min_words:
            return False, "too_few_words"
        if s["words"] > self.max_words:
            return False, "too_many_words"
        if s["stop_word_ratio"] < self.min_stop_word_ratio:
            return False, "stop_word_ratio"
        if s["special_char_ratio"] > self.max_special_char_ratio:
            return False, "special_char_ratio"
        return True


# ---- the OBELICS steps as recipes use them, each with its options (defaults: the constructors') ------

PARAGRAPHS = StepSpec(
    ObelicsParagraphFilter,
    args=(
        arg(ObelicsParagraphFilter, "min_words", "paragraph_min_words", type=int, minimum=0,
            help="shorter paragraphs removed", source="OBELICS"),
        arg(ObelicsParagraphFilter, "max_words", "paragraph_max_words", type=int, minimum=1,
            help="longer paragraphs removed", source="OBELICS"),
    ),
    errors="paragraphs",
    switch="paragraph_filter",
    description="OBELICS paragraph length filter",
)  # fmt: skip
TEXT = StepSpec(
    ObelicsTextFilter,
    args=(
        arg(ObelicsTextFilter, "min_words", type=int, minimum=0, help="shorter documents dropped", source="OBELICS"),
        arg(ObelicsTextFilter, "max_words", type=int, minimum=1, help="longer documents dropped", source="OBELICS"),
        arg(ObelicsTextFilter, "min_stop_word_ratio", type=float, minimum=0, maximum=1,
            help="documents with fewer stop words dropped", source="OBELICS"),
        arg(ObelicsTextFilter, "max_special_char_ratio", type=float, minimum=0, maximum=1,
            help="documents with more special characters dropped", source="OBELICS"),
    ),
    exclusions="text_filter",
    errors="text_filter",
    switch="text_filter",
    description="OBELICS document filter: words, stop words, special characters",
)  # fmt: skip
REPETITION = StepSpec(
    repetition_filter, exclusions="repetition", switch="repetition_filter", description="Gopher repetition filter"
)
IMAGES = StepSpec(
    ObelicsImageFilter,
    args=(
        arg(ObelicsImageFilter, "min_side", type=int, minimum=0, help="images smaller on a side dropped, px",
            source="OBELICS"),
        arg(ObelicsImageFilter, "max_side", type=int, minimum=1, help="images larger on a side dropped, px",
            source="OBELICS"),
        arg(ObelicsImageFilter, "max_aspect_ratio", type=float, minimum=1, help="longer/shorter side at most",
            source="OBELICS"),
    ),
    exclusions="image_filter",
    errors="image_filter",
    switch="image_filter",
    description="OBELICS image size and aspect ratio filter",
)  # fmt: skip
IMAGE_COUNT = StepSpec(
    ObelicsImageCountFilter,
    args=(
        arg(ObelicsImageCountFilter, "min_images", type=int, minimum=0, help="documents with fewer images dropped",
            source="OBELICS"),
        arg(ObelicsImageCountFilter, "max_images", type=int, minimum=1, help="documents with more images dropped",
            source="OBELICS"),
    ),
    exclusions="image_count",
    switch="image_count_filter",
    description="OBELICS images-per-document filter",
)  # fmt: skip
