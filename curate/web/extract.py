"""HTML -> simplified DOM -> ordered text blocks and images, without boilerplate (as OBELICS did).

Steps: decode with the right charset; parse with lxml; remove what is never content (scripts, forms,
navigation, headers and footers, sidebars, ads, comment sections, cookie banners: by tag, ARIA role
and class/id names); keep the page's main content element when it declares one; walk the tree in order,
emitting a text block at each block-level boundary and an image at each `<img>` (src resolved to an
absolute URL, alt text, declared size, figure caption), each noted with the element holding it and its
link text; then let the block classifier (curate.web.blocks) keep the blocks that are the main content."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from urllib.parse import urljoin

from lxml import etree

from curate.secrets import strip_credentials
from curate.web.blocks import Block, Thresholds, select_main_content

# removed with their content: never part of a document's text
DROP_TAGS = {
    "script",
    "style",
    "noscript",
    "template",
    "nav",
    "footer",
    "aside",
    "form",
    "iframe",
    "svg",
    "button",
    "select",
    "textarea",
    "input",
    "object",
    "embed",
    "canvas",
    "map",
    "dialog",
    "menu",
    "head",
    "link",
    "meta",
    "video",
    "audio",
    "math",
}
# (<rt>, <rp>: the reading aids of ruby text, furigana over Japanese kanji, not words of the text)
NEVER_TEXT = ("script", "style", "noscript", "template", "svg", "math", "head", "rt", "rp")
# dropped whatever their size; other DROP_TAGS (e.g. an ASP.NET <form> around the whole page) are kept
# when they hold more than half of the page's words
ALWAYS_DROP = DROP_TAGS - {"form", "aside", "footer", "nav", "header"}
DROP_ROLES = {
    "navigation",
    "banner",
    "contentinfo",
    "complementary",
    "search",
    "dialog",
    "alert",
    "menu",
    "menubar",
    "toolbar",
}
# class/id words that mark boilerplate; an element whose names also hold a content word is kept
BOILERPLATE_WORDS = {
    "nav",
    "navbar",
    "navigation",
    "menu",
    "menus",
    "footer",
    "sidebar",
    "breadcrumb",
    "breadcrumbs",
    "comment",
    "comments",
    "respond",
    "cookie",
    "cookies",
    "consent",
    "banner",
    "ad",
    "ads",
    "advert",
    "adverts",
    "advertisement",
    "advertising",
    "sponsor",
    "sponsored",
    "share",
    "sharing",
    "social",
    "socials",
    "related",
    "newsletter",
    "subscribe",
    "subscription",
    "popup",
    "modal",
    "promo",
    "pagination",
    "pager",
    "masthead",
    "disqus",
    "skip",
    "toolbar",
    "signup",
    "login",
    "teaser",
    "outbrain",
    "taboola",
    "sharedaddy",
    "topbar",
    "offcanvas",
    "jump",
    "editsection",
    "noprint",
    "copyright",
    "copyrights",
    "foot",
    "aside",
    "cta",  # a call to action (a seminar or shop ad inside an article)
    "saboxplugin",  # the Simple Author Box plugin
}
# article furniture around the body (bylines, dates, photo credits, tag lists): boilerplate when the name
# ends with it (`post-date`, `entry-meta`), not when it only starts with it (Blogger's `date-outer` wraps posts)
FURNITURE_WORDS = {
    "byline",
    "bylines",
    "dateline",
    "timestamp",
    "credit",
    "credits",
    "author",
    "authors",
    "meta",
    "date",
    "published",
    "updated",
    "bio",
    "contact",
    "disclaimer",
}
# names of comment sections: prose, but not the page's content
COMMENT_WORDS = {"comment", "comments", "respond", "disqus", "reply", "replies", "discussion"}
# a name run together from "comment" and another word (`commententry`, `commentlist`, `commentsArea`)
# names a comment section too; `commentary` and `commentator` are articles and their authors
_COMMENT_COMPOUND = re.compile(r"^comment(?!ar|at|ing|s$)[a-z]+$")
# words that say "not this page's content" wherever they stand in a name, even beside a content word:
# `related-post`, `author-bio`, `newsletter-text` are boilerplate, not posts or text (comment names keep
# their own rules: a forum names its posts `MtnComment`)
STRONG_WORDS = {
    "related",
    "cookie",
    "cookies",
    "consent",
    "newsletter",
    "author",
    "authors",
    "autor",
}
# ... and names run together from one of them and another word (`relatedPosts` once lowercased,
# `authorbox`, `cookienotice`, `newsletterbox`); `authority` and `authorized` are other words
_STRONG_COMPOUND = re.compile(r"^(related|cookie|consent|newsletter|author(?!it|iz|is))[a-z]+$")
# a name saying what an element is not (`non-paywall`, `no-sidebar` on a page's wrapper)
NEGATIONS = {"no", "non", "not", "without"}
PROSE_CHARS = 800  # characters of <p> text that make an element named like boilerplate worth judging
INLINE_TAGS = {
    "span",
    "time",
    "em",
    "strong",
    "b",
    "i",
    "u",
    "small",
    "abbr",
    "sup",
    "sub",
    "font",
    "mark",
    "cite",
    "q",
}
CONTENT_WORDS = {"article", "content", "main", "body", "post", "entry", "story", "text", "page"}
BLOCK_TAGS = {
    "p",
    "div",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "blockquote",
    "pre",
    "section",
    "article",
    "main",
    "header",
    "table",
    "thead",
    "tbody",
    "tr",
    "td",
    "th",
    "caption",
    "figure",
    "figcaption",
    "address",
    "hr",
    "center",
    "details",
    "summary",
    "body",
    "html",
}
LAZY_SRC_ATTRS = ("data-src", "data-lazy-src", "data-original", "data-lazy", "data-url", "data-srcset")
_NAME_SPLIT = re.compile(r"[^a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")  # `relatedArticles`, `BorlabsCookie`: two words
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_\-:]+)""", re.I)
_SIZE = re.compile(r"^\s*(\d+)")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)


@dataclass
class TextBlock:
    text: str
    tag: str = "p"


@dataclass
class ImageRef:
    url: str
    alt: str | None = None
    caption: str | None = None  # from the <figure>'s <figcaption>
    width: int | None = None  # declared in the HTML
    height: int | None = None
    title: str | None = None


@dataclass
class Page:
    """What a page holds: its ordered items and what is known about it."""

    url: str
    items: list[TextBlock | ImageRef] = field(default_factory=list)
    title: str | None = None
    language: str | None = None
    charset: str | None = None
    robots: list[str] = field(default_factory=list)  # <meta name="robots"> directives, e.g. noai
    skipped_images: int = 0  # inline data: images, tracking pixels, unsupported URL schemes

    @property
    def images(self) -> list[ImageRef]:
        return [i for i in self.items if isinstance(i, ImageRef)]

    @property
    def text_blocks(self) -> list[str]:
        return [i.text for i in self.items if isinstance(i, TextBlock)]


# ---- charset ----------------------------------------------------------------------------------


# labels that browsers read as a superset encoding (the WHATWG Encoding Standard): a page declaring gb2312
# routinely holds GBK characters, one declaring shift_jis Windows-31J ones
_BROWSER_CHARSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "big5": "big5hkscs",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
    "tis-620": "cp874",
    "iso8859_11": "cp874",
    "iso8859_9": "cp1254",
}


def _usable(charset: str | None) -> str | None:
    import codecs

    if not charset:
        return None
    try:
        name = codecs.lookup(charset.strip().lower()).name
    except LookupError:
        return None
    return _BROWSER_CHARSETS.get(name, name)


def detect_charset(data: bytes, declared: str | None = None) -> str:
    """The page's encoding: a BOM, else the HTTP charset, else <meta charset>, else UTF-8 if it decodes,
    else a detector's guess (cchardet). Declared charsets that do not decode the bytes are not trusted."""
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    candidates = [_usable(declared)]
    meta = _META_CHARSET.search(data[:4096])
    if meta:
        candidates.append(_usable(meta.group(1).decode("ascii", "ignore")))
    candidates.append("utf-8")
    for charset in candidates:
        if not charset:
            continue
        if charset in ("latin-1", "iso8859-1", "cp1252", "ascii"):
            charset = "cp1252"  # what browsers do for these labels
        try:
            data.decode(charset)
            return charset
        except (UnicodeDecodeError, LookupError):
            continue
    import cchardet

    guess = _usable(cchardet.detect(data[:65536]).get("encoding"))
    return guess or "utf-8"


# ---- parsing and cleaning ---------------------------------------------------------------------


def _byte_parseable(charset: str | None) -> bool:
    """Charsets libxml2 reads straight from bytes as Python does (ASCII-compatible, single-byte or UTF-8)."""
    return charset is not None and (charset in ("utf-8", "ascii") or charset.startswith(("cp125", "iso8859")))


def parse_html(data: bytes | str, charset: str | None = None):
    """An lxml tree of the page (bytes are decoded with `charset`; undecodable bytes replaced)."""
    if isinstance(data, bytes) and _byte_parseable(charset) and b"\x00" not in data:
        try:  # lxml parses bytes faster than str; `charset` decodes them (detect_charset checked that)
            data.decode(charset)
            parser = etree.HTMLParser(
                remove_comments=True, remove_pis=True, collect_ids=False, encoding=charset
            )
            root = etree.fromstring(data, parser) if data.strip() else None
            if root is not None:
                return root
        except (UnicodeDecodeError, LookupError, etree.ParserError):
            pass
    if isinstance(data, bytes):
        text = data.decode(charset or "utf-8", errors="replace")
    else:
        text = data
    text = text.replace("\x00", "")
    # lxml refuses str input with an XML encoding declaration
    if text.lstrip().startswith("<?xml"):
        text = text.split("?>", 1)[-1]
    # plain lxml.etree elements: lxml.html's element classes cost a lookup per node
    parser = etree.HTMLParser(remove_comments=True, remove_pis=True, collect_ids=False)
    root = etree.fromstring(text, parser) if text.strip() else None
    return root if root is not None else etree.fromstring("<html><body></body></html>", parser)


@lru_cache(maxsize=1 << 16)
def _boilerplate_name(name: str) -> bool:
    """A class or id names boilerplate when its head (last word) does, e.g. `post-footer`, `share-box`
    is not but `post-share` is; or when any word does and none says content (`sidebar-left`)."""
    words = [w for w in _NAME_SPLIT.split(name.lower()) if w]
    if not words or words[0] in NEGATIONS:
        return False
    if words[-1] in BOILERPLATE_WORDS or words[-1] in FURNITURE_WORDS or _COMMENT_COMPOUND.match(words[0]):
        return True
    if _strong_name(name):
        return True
    return any(w in BOILERPLATE_WORDS for w in words) and not any(w in CONTENT_WORDS for w in words)


def _strong_name(name: str) -> bool:
    """Whether a strong word stands anywhere in the name, camelCase humps splitting words too (a strong word
    says enough to be read there; `teaserImg` on a gallery inside an article is not split)."""
    words = _NAME_SPLIT.split(_CAMEL.sub("-", name).lower())
    return any(w in STRONG_WORDS or _STRONG_COMPOUND.match(w) for w in words)


@lru_cache(maxsize=1 << 16)
def _content_name(name: str) -> bool:
    """A class or id that names the content (`article-body`, `td-content-wrap`), not boilerplate."""
    words = [w for w in _NAME_SPLIT.split(name.lower()) if w]
    return (
        any(w in CONTENT_WORDS for w in words)
        and not any(w in BOILERPLATE_WORDS for w in words)
        and not _strong_name(name)
    )


def _caption_name(el) -> bool:
    """An element whose class or id ends with `caption` (`image-caption`, `wp-caption-text` does not)."""
    attrib = el.attrib
    return bool(attrib) and _caption_names(attrib.get("class", ""), attrib.get("id", ""))


@lru_cache(maxsize=1 << 16)
def _caption_names(classes: str, ids: str) -> bool:
    return any(n.endswith("caption") for n in f"{classes} {ids}".lower().split())


def _is_boilerplate(el) -> bool:
    tag = el.tag
    if tag in DROP_TAGS:
        return True
    if tag == "header":  # a page header is boilerplate; an article's own header holds its title
        return not any(a.tag in ("article", "main") for a in el.iterancestors())
    attrib = el.attrib
    if not attrib:
        return False
    if attrib.get("role", "").lower() in DROP_ROLES:
        return True
    if "hidden" in attrib or attrib.get("aria-hidden") == "true":
        return True
    style = attrib.get("style")
    if style and _HIDDEN_STYLE.search(style):
        return True
    if tag in ("body", "html", "main", "article"):
        return False
    if tag in INLINE_TAGS and el.tail and len(el.tail.split()) > 2:
        return False  # a date or a name marked up inside a sentence is part of the sentence
    return _boilerplate_names(attrib.get("class", ""), _id_name(attrib))


def _id_name(attrib) -> str:
    """An element's id as a name: an id holding an address (`<text id="http://...">`) names nothing."""
    value = attrib.get("id", "")
    return "" if "/" in value else value


@lru_cache(maxsize=1 << 16)
def _boilerplate_names(classes: str, ids: str) -> bool:
    names = f"{classes} {ids}".split()
    # `l-sidebar-fixed l-article-body-segment`: one name says content, so the element is content
    return any(_boilerplate_name(n) for n in names) and not any(_content_name(n) for n in names)


def _holds_content(el) -> bool:
    """Whether `el` holds paragraphs of prose whatever its names say (PROSE_CHARS characters of <p> text,
    almost none of it links): then the block classifier judges it, in context.
    A comment section holds prose too, so its names still decide."""
    attrib = el.attrib
    if _comment_names(attrib.get("class", ""), _id_name(attrib)):
        return False
    chars = links = 0
    for p in el.iterfind(".//p"):
        text = etree.tostring(p, method="text", encoding="unicode", with_tail=False)
        chars += len(text.strip())
        links += sum(len("".join(a.itertext()).strip()) for a in p.iterfind(".//a"))
    return chars >= PROSE_CHARS and links <= 0.1 * chars


@lru_cache(maxsize=1 << 16)
def _comment_names(classes: str, ids: str) -> bool:
    words = _NAME_SPLIT.split(f"{classes} {ids}".lower())
    return any(w in COMMENT_WORDS or _COMMENT_COMPOUND.match(w) for w in words)


def _remove(el) -> None:
    """Remove an element but keep its tail text, which belongs to the parent."""
    parent = el.getparent()
    if parent is None:
        return
    if el.tail and el.tail.strip():
        previous = el.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def _words(el) -> int:
    """Words of text under `el` (lxml's text serialiser: much faster than joining itertext())."""
    return len(etree.tostring(el, method="text", encoding="unicode", with_tail=False).split())


def _main_content(body):
    """The page's main content element when it declares exactly one (<main>, role=main, <article>)."""
    for xpath in ('.//main|.//*[@role="main"]', ".//article"):
        found = body.xpath(xpath)
        if len(found) == 1 and _words(found[0]) >= 20:
            return found[0]
    return body


def clean_tree(doc, max_share: float = 0.5):
    """Remove what is never content (by tag, ARIA role, class/id names) in place; return the element to
    extract from. Link lists, teasers and other boilerplate without telling names are left to the block
    classifier (curate.web.blocks), which sees them in context.

    An element named like boilerplate that holds more than `max_share` of the page's words is a
    wrapper of the content (e.g. Blogger's `widget Blog`), not boilerplate, and is kept.
    """
    body = doc.find("body")
    if body is None:
        body = doc
    # never text, and their words would make the content look like a small share of the page
    etree.strip_elements(body, *NEVER_TEXT, with_tail=False)
    total = None  # measured once, and only when a named element needs the share test
    stack = [body]
    while stack:
        for el in list(stack.pop()):
            if not isinstance(el.tag, str):
                _remove(el)
            elif _is_boilerplate(el):
                if el.tag not in ALWAYS_DROP:
                    total = _words(body) if total is None else total
                    # a comment section is not the content's wrapper, however long the thread
                    comments = _comment_names(el.get("class", ""), _id_name(el.attrib))
                    if (_words(el) > max_share * total and not comments) or (
                        el.tag not in DROP_TAGS and _holds_content(el)
                    ):
                        stack.append(el)
                        continue
                _remove(el)
            else:
                stack.append(el)
    return _main_content(body)


# ---- the ordered walk -------------------------------------------------------------------------


def _declared_size(value: str | None) -> int | None:
    if not value:
        return None
    m = _SIZE.match(value)
    return int(m.group(1)) if m else None


def _image_url(el) -> str | None:
    src = (el.get("src") or "").strip()
    if not src or src.startswith("data:"):
        for attr in LAZY_SRC_ATTRS:
            lazy = (el.get(attr) or "").strip()
            if lazy and not lazy.startswith("data:"):
                return lazy.split(",")[0].split()[0] if attr.endswith("srcset") else lazy
        srcset = (el.get("srcset") or "").strip()
        if srcset and not srcset.startswith("data:"):
            return srcset.split(",")[0].split()[0]
    return src or None


def _clean_text(parts: list[str]) -> str:
    text = "".join(parts)
    if not text or text.isspace():
        return ""
    if "\u200b" in text:  # a zero-width space separates words as a space does (str.split keeps it)
        text = text.replace("\u200b", " ")
    if "\n" not in text:  # most blocks: one line (split/join is several times faster than a regex)
        return " ".join(text.split())
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


class _Walker:
    """Walks the cleaned tree in document order, cutting text into blocks at block-level boundaries and
    noting for each block the element that holds it and how much of its text is link text."""

    def __init__(self, page: Page, base_url: str, min_declared_side: int):
        self.page, self.base_url, self.min_declared_side = page, base_url, min_declared_side
        self.buffer: list[str] = []
        self.link_chars = 0
        self.link_depth = 0
        self.caption_depth = 0
        self.block_tag = "p"
        self.owners: list = []
        self.blocks: list[Block] = []

    def flush(self) -> None:
        if self.buffer:
            text = _clean_text(self.buffer)
            self.buffer = []
            if text:
                owner = self.owners[-1] if self.owners else None
                # text inside a <figure> or a caption box is a caption, whatever its tags
                tag = "figcaption" if self.caption_depth else self.block_tag
                self.blocks.append(Block(TextBlock(text, tag), owner, self.link_chars))
            self.link_chars = 0

    def text(self, text: str) -> None:
        self.buffer.append(text)
        if self.link_depth:
            self.link_chars += len(text.strip())

    def image(self, el, caption: str | None) -> None:
        src = _image_url(el)
        width, height = _declared_size(el.get("width")), _declared_size(el.get("height"))
        tiny = (width is not None and width < self.min_declared_side) or (
            height is not None and height < self.min_declared_side
        )
        if not src:
            url = ""
        elif src.startswith(("http://", "https://")):  # its own join (urljoin re-parses and re-assembles it)
            url = src
        else:
            url = urljoin(self.base_url, src)
        if "@" in url:  # an image URL's `user:password@` is neither sent nor written (curate/secrets.py)
            url = strip_credentials(url)
        if not url.startswith(("http://", "https://")) or tiny:
            self.page.skipped_images += 1
            return
        self.flush()
        alt = " ".join((el.get("alt") or "").split()) or None
        title = " ".join((el.get("title") or "").split()) or None
        owner = self.owners[-1] if self.owners else None
        self.blocks.append(Block(ImageRef(url, alt, caption, width, height, title), owner, is_text=False))

    def walk(self, el, caption: str | None = None) -> None:
        tag = el.tag
        if tag == "img":
            self.image(el, caption)
        elif tag == "br":
            self.buffer.append("\n")
        else:
            block = tag in BLOCK_TAGS
            if block:
                self.flush()
                self.block_tag = tag
                self.owners.append(el)
            link = tag == "a"
            self.link_depth += link
            captioned = tag == "figure" or (block and _caption_name(el))
            self.caption_depth += captioned
            if tag == "figure":
                captions = el.findall(".//figcaption")
                if captions:
                    caption = " ".join("".join(captions[0].itertext()).split()) or caption
            if el.text:
                self.text(el.text)
            for child in el:
                self.walk(child, caption)
            self.link_depth -= link
            if block:
                self.block_tag = tag
                self.flush()
                self.owners.pop()
            self.caption_depth -= captioned
        if el.tail:
            self.text(el.tail)


def extract_page(
    data: bytes | str,
    url: str,
    *,
    charset: str | None = None,
    max_link_density: float | None = None,
    min_declared_side: int = 10,
    main_content: bool = True,
    thresholds: Thresholds | None = None,
) -> Page:
    """The ordered text blocks and images of an HTML page (bytes or text), without boilerplate.

    `url` is the page's address: relative image sources are resolved against it (or its <base href>).
    `charset` is the HTTP-declared one, if any. Images declared smaller than `min_declared_side`
    pixels (tracking pixels, spacers) and inline data: images are skipped and counted.
    `max_link_density` is the most link text a long block may hold and still be content (default:
    `Thresholds.max_link_density`). `main_content` keeps only the blocks the classifier judges to be the page's main content (see
    curate.web.blocks); without it every block left after boilerplate removal is kept.
    """
    if isinstance(data, bytes):
        charset = detect_charset(data, charset)
    doc = parse_html(data, charset)
    page = Page(url=url, charset=charset)
    title = doc.find(".//title")
    if title is not None and title.text:
        page.title = " ".join(title.text.split())
    page.language = (doc.get("lang") or doc.get("xml:lang") or "").strip() or None
    for meta in doc.iterfind(".//meta"):
        if (meta.get("name") or "").lower() in ("robots", "ccbot", "gptbot"):
            page.robots += [d.strip().lower() for d in (meta.get("content") or "").split(",") if d.strip()]
    base = doc.find(".//base")
    base_url = urljoin(url, base.get("href").strip()) if base is not None and base.get("href") else url
    root = clean_tree(doc)
    if max_link_density is not None:
        thresholds = replace(thresholds or Thresholds(), max_link_density=max_link_density)
    walker = _Walker(page, base_url, min_declared_side)
    try:
        walker.walk(root)
    except RecursionError:
        raise ValueError("HTML nested too deeply to extract") from None
    walker.flush()
    if main_content:
        page.items = select_main_content(walker.blocks, root, thresholds)
    else:
        page.items = [b.item for b in walker.blocks]
    return page


def page_url_from_html(data: bytes) -> str | None:
    """A saved page's own address, from <link rel=canonical> or og:url (for HTML files without a URL)."""
    try:
        doc = parse_html(data[:200_000], detect_charset(data[:200_000]))
    except (etree.ParserError, ValueError):
        return None
    for xpath in ('//link[@rel="canonical"]/@href', '//meta[@property="og:url"]/@content'):
        found = doc.xpath(xpath)
        if found and found[0].strip().startswith("http"):
            return found[0].strip()
    return None
