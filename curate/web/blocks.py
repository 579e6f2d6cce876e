"""Which text blocks and images of a cleaned page are its main content: a block classifier in the manner of
jusText (length, link density and prose signs per block, then context from the neighbours) with a content
region chosen on the DOM as in Readability (the element holding the most prose net of link text), teaser
lists (alike cards of a linked headline over a blurb) and repeated blocks dropped.

Signals that hold in any script come first: length counted so a Chinese or Thai character weighs as a short
word, link text by characters, the markup (a <p> is a paragraph, list items and table cells are judged as
their list or table, headings by what follows them) and the position in the DOM. Stop words (jusText's
lists) are one sign of prose among others: sentence punctuation is another, and a page mostly in a script
written without spaces is judged without them.

Thresholds start from jusText's published defaults (length 70/200 characters, stop-word density 0.30/0.32,
link density 0.2) and are tuned on the tuning sets only (trafilatura's evaluation set, CleanPortalEval);
every other labelled set in benchmarks/bench_extract.py is held out."""

from __future__ import annotations

import pkgutil
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cache, lru_cache

# jusText's stop lists for the languages most common on the web; a page's language is the one whose
# stop words are most frequent in its text (the <html lang> attribute is often wrong or missing)
STOPLIST_LANGUAGES = (
    "English",
    "German",
    "French",
    "Spanish",
    "Portuguese",
    "Italian",
    "Dutch",
    "Russian",
    "Polish",
    "Czech",
    "Swedish",
    "Danish",
    "Norwegian_Bokmal",
    "Finnish",
    "Turkish",
    "Indonesian",
    "Romanian",
    "Hungarian",
    "Greek",
    "Ukrainian",
    "Vietnamese",
    "Catalan",
    "Slovak",
    "Croatian",
)
# whole blocks that are never content wherever they stand (ad slot labels, reading prompts)
NOT_CONTENT = {
    "advertisement",
    "advert",
    "ad",
    "anzeige",
    "publicité",
    "publicidad",
    "pubblicità",
    "werbung",
    "sponsored",
    "story continues below advertisement",
    "continue reading below",
    "continue reading",
    "read more",
    "share",
    "share this",
    "share this article",
    "tweet",
    "comments",
    "loading...",
    "caption",
    "close",
    "published",
    "updated",
    "posted",
    "back to gallery",
    "order reprints",
    "print",
    "print article",
    "text size",
    "read later",
    "newsletter",
    "by",
}
# an article's head, before its first paragraph: bylines and dates are furniture there
_BYLINE = re.compile(r"^(by|von|par|por|di|door|av|af)(\s|$)", re.I)
_DATE = re.compile(
    r"\b\d{1,2}:\d{2}\b|\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{1,2}\b"
    r"|\b\d{1,2}\.?\s+(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b|\b\d{4}-\d{2}-\d{2}\b",
    re.I,
)
# a newsletter or subscription prompt, not part of the text it interrupts
_CALL_TO_ACTION = re.compile(
    r"\b(newsletters?|subscribe|sign up for|abonnieren sie|inscrivez-vous|suscríbete)\b", re.I
)
# a heading that opens the "more to read" part after an article: what follows it is not the article
_MORE_TO_READ = re.compile(
    r"^\W*(related( articles| stories| posts| content| coverage)?|more (stories|from [\w .]+|on this topic)|"
    r"you (may|might) also like|recommended( for you)?|read next|also read|"
    r"ähnliche (themen|beiträge|artikel)|weitere (themen|artikel|beiträge)|mehr zum thema|auch interessant|"
    r"topmeldungen|lesen sie auch|das könnte sie auch interessieren|articles similaires|à lire aussi|"
    r"sur le même sujet|noticias relacionadas|te puede interesar|articoli correlati)\W*$",
    re.I,
)
# the link under a teaser's blurb
_READ_MORE = re.compile(
    r"^\W*(read more|continue reading|weiterlesen|mehr lesen|lire la suite|leer más|leggi di più|lees meer)\W*$",
    re.I,
)
# a photo credit on its own line ("Foto: dpa", "Bild via X", "Image: Getty")
_CREDIT = re.compile(
    r"^(foto|fotos|photo|photos|bild|bilder|image|images|credit|credits|quelle)\s*(:|via\b|©)", re.I
)
_URL = re.compile(r"^(https?://|www\.)\S+$")
_UNSPACED = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
)
UNSPACED_WEIGHT = 3
# sentence punctuation: Latin, CJK full-width, Arabic, Devanagari; Thai has none (a space ends its phrases)
_PUNCTUATION = re.compile(
    r"[.,;:!?\u3001\u3002\uff0c\uff01\uff1f\uff1b\u060c\u061f\u0964]|(?<=[\u0e00-\u0e7f])\s(?=[\u0e00-\u0e7f])"
)
LANGUAGE_SAMPLE_WORDS = 3000
HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}

# GOOD / NEAR_GOOD: prose (long enough, stop words); LOW_STOP: long text with few stop words (tables,
# schedules, lists of results); SHORT: too short to judge alone; LINKY: mostly link text (menus, teasers)
GOOD, NEAR_GOOD, LOW_STOP, SHORT, LINKY = "good", "near-good", "low-stop", "short", "linky"
POSITIVE = (GOOD, NEAR_GOOD, LOW_STOP)


@dataclass
class Block:
    """One text block or image of the page in document order, with what the classifier needs."""

    item: object  # TextBlock or ImageRef
    owner: object  # the innermost block-level element holding it
    link_chars: int = 0
    is_text: bool = True
    kind: str = SHORT
    words: list[str] = field(default_factory=list)


@dataclass
class Thresholds:
    length_low: int = 50  # characters: shorter blocks are judged by their neighbours
    length_high: int = 200  # characters: a longer block with enough stop words is good on its own
    stopwords_low: float = 0.30
    stopwords_high: float = 0.32
    max_link_density: float = 0.4
    max_prose_link_density: float = 0.65  # for prose: a <p>, or a block over length_high with stop words
    short_link_line: int = 70  # characters: a shorter line of links inside the text ("Read more: ...")
    short_link_density: float = 0.5  # a short block with more link text is a link (menu entry, teaser)
    boilerplate_weight: float = 1.0  # how much a link-text character costs a candidate content region
    min_cards: int = 3  # sibling elements alike in tag and class, each a linked headline with a blurb
    card_link_share: float = 0.25
    card_depth: int = 3  # how far above a block its card element may be
    sibling_share: float = 0.2  # a sibling of the content region with this share of its score joins it
    low_stop_weight: float = 0.1  # how much a character of long text without stop words adds to it
    chars_per_mark: int = 100  # prose has a sentence mark at least every this many characters
    min_cells: int = 4  # a data table kept with the text around it has at least this many cells
    cell_link_share: float = 0.5  # ... and fewer of its cells links
    list_item_length: int = 100  # mean characters of the items of a list of links kept inside the text


@lru_cache(maxsize=1)
def _stopword_index() -> dict[str, tuple[int, ...]]:
    """word -> the indexes (in STOPLIST_LANGUAGES) of the languages whose stop list holds it."""
    index: dict[str, list[int]] = {}
    for i, language in enumerate(STOPLIST_LANGUAGES):
        data = pkgutil.get_data("justext", f"stoplists/{language}.txt") or b""
        for word in data.decode("utf-8").split():
            index.setdefault(word.lower(), []).append(i)
    return {word: tuple(langs) for word, langs in index.items()}


@lru_cache(maxsize=1)
def _stopword_set() -> frozenset[str]:
    return frozenset(_stopword_index())


def page_stopwords(words: list[str]) -> frozenset[str] | None:
    """The stop words of the page's language, or None when no known stop list fits its text."""
    index = _stopword_index()
    hits = [0] * len(STOPLIST_LANGUAGES)
    counts = Counter(words[:LANGUAGE_SAMPLE_WORDS])  # a sample is enough to tell the language
    for word in _stopword_set().intersection(counts):  # looked up in C (a keys-view & walks the index)
        n = counts[word]
        for lang in index[word]:
            hits[lang] += n
    best = max(range(len(hits)), key=hits.__getitem__)
    if hits[best] < max(3, 0.1 * min(len(words), LANGUAGE_SAMPLE_WORDS)):
        return None
    return _stoplist(best)


@cache
def _stoplist(language: int) -> frozenset[str]:
    return frozenset(w for w, langs in _stopword_index().items() if language in langs)


def text_length(text: str) -> int:
    """Characters, a character of a script written without spaces (Chinese, Japanese, Thai...) counting as
    UNSPACED_WEIGHT: it carries about as much as a short word does, so a paragraph is as long in any script."""
    if text.isascii():
        return len(text)
    unspaced = len(_UNSPACED.findall(text))
    return len(text) + (UNSPACED_WEIGHT - 1) * unspaced if unspaced else len(text)


def _sentence_marks(text: str, length: int, t: Thresholds) -> bool:
    """Whether the text is punctuated like sentences (commas and full stops in any script), as prose is and
    menus, tag lists and tables are not."""
    return len(_PUNCTUATION.findall(text)) * t.chars_per_mark >= length


_NUMBER_MARK = re.compile(r"(?<=\d)[.,:/-](?=\d)")  # the separators of 09:20, 1.9.2015, 45.000
# a date or a time in digits, as written in any language: 09:20, 2012-06-04, 19.02.2020, 2020/02/19
_NUMERIC_DATE = re.compile(
    r"\b\d{1,2}:\d{2}\b|\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b|\b\d{1,2}[./]\d{1,2}[./]\d{2,4}\b"
)


def _dateline(text: str, t: Thresholds) -> bool:
    """A line stating when (and where from) before an article's text: a date or a time, and none of the
    commas and full stops of a sentence once the separators inside numbers are left out (in any script:
    `新华网河北频道 (2012-06-04 09:20:26) 稿件来源：河北日报`, `Pubblicato il 19 Febbraio 2020 12:02`).
    The caller leaves list items out: an agenda's items start with dates."""
    if not _NUMERIC_DATE.search(text):
        return False
    bare = _NUMBER_MARK.sub("", text)
    return not _sentence_marks(bare, text_length(bare), t)


def _mostly_unspaced(texts: list[Block]) -> bool:
    """Whether most of the page's text is in scripts written without spaces, where stop words say nothing."""
    chars = sum(len(b.item.text) for b in texts)
    return sum(len(_UNSPACED.findall(b.item.text)) for b in texts if not b.item.text.isascii()) > 0.3 * chars


def _classify(block: Block, stopwords: frozenset[str] | None, t: Thresholds) -> str:
    text = block.item.text
    length = text_length(text)
    link_density = block.link_chars / max(1, len(text))
    if length < t.length_low or (block.item.tag in HEADINGS and length < t.length_high):  # judged in context
        return LINKY if link_density > t.short_link_density else SHORT
    if stopwords is None:  # no stop list for this language: length and links decide
        if link_density > (t.max_prose_link_density if block.item.tag == "p" else t.max_link_density):
            return LINKY
        return GOOD if length > t.length_high else NEAR_GOOD
    density = sum(map(stopwords.__contains__, block.words)) / max(1, len(block.words))
    # a long paragraph of prose keeps its inline links; a list of links has few stop words
    # (and a <p> is a paragraph: Wikipedia's link-heavy prose in languages without a stop list)
    prose = block.item.tag == "p" or (length > t.length_high and density >= t.stopwords_low)
    if link_density > (t.max_prose_link_density if prose else t.max_link_density):
        return LINKY
    if density >= t.stopwords_high:
        return GOOD if length > t.length_high else NEAR_GOOD
    if density >= t.stopwords_low or (block.item.tag == "p" and _sentence_marks(text, length, t)):
        # stop words are one sign of prose; sentences in a paragraph are another
        return NEAR_GOOD
    return LOW_STOP


def _content_region(blocks: list[Block], root, t: Thresholds) -> list:
    """The element whose text is most content net of boilerplate: prose counts its length, other long
    text a little, and link text counts against (`boilerplate_weight` times its length)."""
    weights = {GOOD: 1.0, NEAR_GOOD: 0.5, LOW_STOP: t.low_stop_weight, LINKY: -t.boilerplate_weight}
    score: dict = {}
    for block in blocks:
        if not block.is_text or block.kind not in weights:
            continue
        if block.kind == LINKY and block.item.tag in ("td", "th") and len(block.item.text) < t.length_low:
            continue  # a linked name in a data table is not a menu
        value = weights[block.kind] * len(block.item.text)
        el = block.owner
        while el is not None:
            score[el] = score.get(el, 0.0) + value
            if el is root:
                break
            el = el.getparent()
    if not score:
        return [root]
    best = max(score, key=score.__getitem__)
    if score[best] <= 0:
        return [root]
    # like Readability: siblings with a fair share of the best score belong to the content too
    # (a lead paragraph or a second body part next to the main one)
    parent = best.getparent()
    if parent is None or best is root:
        return [best]
    floor = t.sibling_share * score[best]
    siblings = list(parent)
    chosen = [i for i, el in enumerate(siblings) if el is best or score.get(el, 0.0) > floor]
    last = chosen[-1]
    # sections after the last scoring one (a list, a table under its heading), up to the first link text
    for j in range(last + 1, len(siblings)):
        if score.get(siblings[j], 0.0) < 0:
            break
        if score.get(siblings[j], 0.0) > 0:
            last = j
    first = chosen[0]
    # and sections before the first scoring one, back to the first link text (a lead, an intro list)
    for j in range(first - 1, -1, -1):
        if score.get(siblings[j], 0.0) < 0:
            break
        if score.get(siblings[j], 0.0) > 0:
            first = j
    region = siblings[first : last + 1]  # with the headings and figures between them
    return _with_head(blocks, region, score)


def _with_head(blocks: list[Block], region: list, score: dict, levels: int = 3) -> list:
    """The region plus the article's head when that sits in sibling boxes before it: from the box holding
    the page's first <h1> to the body (headline, standfirst, lead image), boxes of net link text left out."""
    h1 = next((b.owner for b in blocks if b.is_text and b.item.tag == "h1"), None)
    if h1 is None:
        return region
    ancestor = region[0].getparent()
    for _ in range(levels):
        if ancestor is None:
            return region
        children = list(ancestor)
        top = next(
            (c for c in children if c is region[0] or any(a is c for a in region[0].iterancestors())), None
        )
        head = next((c for c in children if c is h1 or any(a is c for a in h1.iterancestors())), None)
        if head is not None and top is not None:
            start, end = children.index(head), children.index(top)
            if start >= end or score.get(head, 0.0) < 0:
                return region
            # the headline's box and what lies between it and the body (standfirst, lead image), link lists aside
            return [c for c in children[start:end] if score.get(c, 0.0) >= 0] + region
        ancestor = ancestor.getparent()
    return region


def _anchors(kinds: list[str], step: int) -> list[str | None]:
    """For each block, the kind of the nearest non-short block met before it when walking in direction
    `step` (1: the one before it in the page, -1: the one after it; None at the edge)."""
    out: list[str | None] = [None] * len(kinds)
    last = None
    order = range(len(kinds)) if step > 0 else range(len(kinds) - 1, -1, -1)
    for i in order:
        out[i] = last
        if kinds[i] != SHORT:
            last = kinds[i]
    return out


def _teaser_cards(blocks: list[Block], t: Thresholds) -> set:
    """Elements that are cards of a teaser list: at least `min_cards` siblings of the same tag and class, each
    holding two or more blocks of which link text is a good share (a linked headline over a blurb)."""
    chars: dict = {}
    link_chars: dict = {}
    count: dict = {}
    for b in blocks:
        if not b.is_text:
            continue
        length = len(b.item.text)
        el, level = b.owner, 0
        while el is not None and level <= t.card_depth:
            chars[el] = chars.get(el, 0) + length
            count[el] = count.get(el, 0) + 1
            if b.kind == LINKY:
                link_chars[el] = link_chars.get(el, 0) + length
            el, level = el.getparent(), level + 1
    groups: dict = {}
    for el, linked in link_chars.items():
        parent = el.getparent()
        # a table's rows are records (a linked name next to its figures), not teasers
        if (
            el.tag not in ROWS
            and parent is not None
            and count[el] >= 2
            and linked >= t.card_link_share * chars[el]
        ):
            groups.setdefault((parent, el.tag, el.get("class")), []).append(el)
    return {el for cards in groups.values() if len(cards) >= t.min_cards for el in cards}


CELLS = ("td", "th")
ROWS = ("tr", "td", "th", "tbody", "thead")


def _enclosed_lists(texts: list[Block], kinds: list[str], before: list, after: list, t: Thresholds) -> bool:
    """Lists and tables with the article's text on both sides are part of it: a list of long linked items
    (references, software, sources) and a data table whose linked cells (a product's name) are fewer than
    the others. Their link-text blocks become LOW_STOP, in place. Whether any changed."""
    changed, i = False, 0
    while i < len(texts):
        cell = texts[i].item.tag in CELLS
        if texts[i].item.tag != "li" and not cell:
            i += 1
            continue
        j = i
        while j + 1 < len(texts) and (
            texts[j + 1].item.tag in CELLS if cell else texts[j + 1].item.tag == "li"
        ):
            j += 1
        items = texts[i : j + 1]
        linky = [k for k in range(i, j + 1) if kinds[k] == LINKY]
        if cell:
            belongs = len(items) >= t.min_cells and len(linky) < t.cell_link_share * len(items)
        else:
            belongs = sum(text_length(b.item.text) for b in items) >= t.list_item_length * len(items)
        if linky and belongs and before[i] in POSITIVE and after[j] in POSITIVE:
            for k in linky:
                kinds[k] = LOW_STOP
            changed = True
        i = j + 1
    return changed


def _closing_line(texts: list[Block], kinds: list[str], i: int, following: str | None) -> bool:
    """A short paragraph after the article's last one, in the same box and with no text after it in the
    region (a sign-off, "Thanks for the interview!"): the article's own last line."""
    text = texts[i].item.text
    # a line ending in a colon announces what follows it ("Read also:"): something left out
    if following is not None or texts[i].item.tag != "p" or text.endswith((":", "\uff1a")):
        return False
    j = next((j for j in range(i - 1, -1, -1) if kinds[j] in POSITIVE), None)
    if j is None or texts[j].owner is None or texts[i].owner is None:
        return False
    return texts[i].owner.getparent() is texts[j].owner.getparent()


def _in_any(el, elements: set, depth: int) -> bool:
    level = 0
    while el is not None and level <= depth:
        if el in elements:
            return True
        el, level = el.getparent(), level + 1
    return False


def select_main_content(blocks: list[Block], root, t: Thresholds | None = None) -> list:
    """The items (text blocks and images, in order) that make up the page's main content."""
    t = t or Thresholds()
    texts = [b for b in blocks if b.is_text]
    if not texts:
        return [b.item for b in blocks]
    for block in texts:
        block.words = block.item.text.lower().split()
    stopwords = page_stopwords([w for b in texts for w in b.words])
    if stopwords is not None and _mostly_unspaced(texts):  # a few English menu words on a Chinese page
        stopwords = None
    for block in texts:
        block.kind = _classify(block, stopwords, t)
        if block.kind == LINKY and block.item.tag == "figcaption":  # an attribution's links: neutral
            block.kind = SHORT
    for block, following in zip(texts, texts[1:], strict=False):
        if _READ_MORE.match(following.item.text):  # a teaser's blurb, over its "read more" link
            block.kind = LINKY
    cards = _teaser_cards(blocks, t)
    if cards:  # a list of teasers (related stories, "more from"): link text however long their blurbs
        for b in blocks:
            if _in_any(b.owner, cards, t.card_depth):
                b.kind = LINKY
    inside = {el for region in _content_region(blocks, root, t) for el in region.iter()}
    every = blocks
    blocks = [b for b in blocks if b.owner in inside]
    texts = [b for b in blocks if b.is_text]
    kinds = [b.kind for b in texts]
    before, after = _anchors(kinds, 1), _anchors(kinds, -1)
    if _enclosed_lists(texts, kinds, before, after, t):
        before, after = _anchors(kinds, 1), _anchors(kinds, -1)
    # for short blocks, a short line of links ("Read more: ...") inside the text does not break it
    see_through = [
        SHORT if k == LINKY and len(b.item.text) < t.short_link_line else k
        for k, b in zip(kinds, texts, strict=True)
    ]
    short_before, short_after = _anchors(see_through, 1), _anchors(see_through, -1)
    caption_follows_image, previous = [], None
    for b in blocks:
        if b.is_text:
            caption_follows_image.append(
                previous is not None and (not previous.is_text or previous.item.tag == "figcaption")
            )
        previous = b
    first_prose = next((i for i, k in enumerate(kinds) if k == GOOD), len(kinds))
    keep_text: list[bool] = []
    # everything after a "related stories" heading that follows the article's prose is not the article
    end = next(
        (
            i
            for i in range(first_prose + 1, len(texts))
            if kinds[i] == SHORT and _MORE_TO_READ.match(texts[i].item.text)
        ),
        len(texts),
    )
    lone_blurbs = [
        k == NEAR_GOOD
        and before[i] not in POSITIVE
        and after[i] not in POSITIVE
        and LINKY in (before[i], after[i])
        for i, k in enumerate(kinds)
    ]
    # teasers come in lists; one or two paragraphs between menus are a short page's body
    blurb_count = sum(lone_blurbs)
    for i, kind in enumerate(kinds):
        text = texts[i].item.text
        if i >= end and kind != GOOD:  # teaser lines and blurbs; a long paragraph may still be the text's
            keep_text.append(False)
            continue
        if text.lower() in NOT_CONTENT or _URL.match(text) or (len(text) < t.length_high and "©" in text):
            keep_text.append(False)
        elif texts[i].item.tag == "figcaption":  # an image's caption (links to its source and all) follows it
            keep_text.append(caption_follows_image[i])
        elif kind == LINKY:
            keep_text.append(False)
        elif kind == SHORT and i < first_prose and (_BYLINE.match(text) or _DATE.search(text)):
            keep_text.append(False)
        elif kind != GOOD and i < first_prose and texts[i].item.tag != "li" and _dateline(text, t):
            keep_text.append(False)
        elif len(text) < t.length_high and _CALL_TO_ACTION.search(text):
            keep_text.append(False)
        elif kind == LOW_STOP:  # tables and lists inside the content, unless next to link lists
            keep_text.append(before[i] != LINKY and after[i] != LINKY)
        elif kind == SHORT:  # between content blocks; headings just before content
            if texts[i].item.tag in HEADINGS:  # a heading introduces what follows: a list of links, or text
                keep_text.append(after[i] in POSITIVE)
            else:
                keep_text.append(
                    not _CREDIT.match(text)
                    and short_before[i] in POSITIVE
                    and (short_after[i] in POSITIVE or _closing_line(texts, kinds, i, short_after[i]))
                )
        elif kind == NEAR_GOOD:  # a teaser's blurb sits between its links, one of several alike
            keep_text.append(not (lone_blurbs[i] and blurb_count >= t.min_cards))
        else:
            keep_text.append(True)
    # a heading introduces what follows it: when that is left out (link lists, teasers), so is the heading
    # (a list or table left out beside link text may still be the article's: its heading stays)
    for i in range(len(texts) - 1, -1, -1):
        if keep_text[i] and texts[i].item.tag in HEADINGS and kinds[i] == SHORT:
            following = next((j for j in range(i + 1, len(texts)) if kinds[j] != SHORT), None)
            if following is not None and not keep_text[following] and kinds[following] != LOW_STOP:
                keep_text[i] = False
    final, text_i = [], 0
    for b in blocks:
        if b.is_text:
            final.append(keep_text[text_i])
            text_i += 1
        else:  # an image in a teaser card, or after the "related stories" heading, goes with them
            final.append(b.kind != LINKY and text_i <= end)
    # images belong to the content when text around them is kept; trailing ones after the last kept text
    # (share icons, avatars, teasers) do not
    kept_text = [i for i, (b, k) in enumerate(zip(blocks, final, strict=True)) if b.is_text and k]
    last = kept_text[-1] if kept_text else -1
    items, seen = [], set()
    for i, (b, keep) in enumerate(zip(blocks, final, strict=True)):
        if not keep or (not b.is_text and i > last):
            continue
        if b.is_text:
            if len(b.item.text) > 20 and b.item.text in seen:  # gallery captions repeated, teasers twice
                continue
            seen.add(b.item.text)
        items.append(b.item)
    if not any(hasattr(item, "text") for item in items):
        # nothing reads as content (a page of short lines): keep what is not link text rather than nothing
        items = [b.item for b in every if not b.is_text or b.kind != LINKY]
    return _head(every, items) + items


def _head(blocks: list[Block], items: list) -> list:
    """The article's title and lead images when they sit above the content region (in a header, next to a
    date or a tag list): the nearest heading before the first kept item with no prose in between (else the
    page's <h1> there), and the images between it and the body."""
    if not items:
        return []
    first = next(i for i, b in enumerate(blocks) if b.item is items[0])
    headline = None
    for i in range(first - 1, -1, -1):
        b = blocks[i]
        if not b.is_text:
            continue
        if b.kind in POSITIVE:
            break
        text = b.item.text
        if b.item.tag in HEADINGS and b.kind == SHORT and not (_DATE.search(text) or _BYLINE.match(text)):
            if headline is None and first - i <= 8:
                headline = i
            if b.item.tag == "h1":
                headline = i
                break
    if headline is None:
        return []
    lead = [b.item for b in blocks[headline + 1 : first] if not b.is_text and b.kind != LINKY]
    return [blocks[headline].item, *lead]
