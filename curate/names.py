"""File names as record ids: any name a file system allows becomes valid UTF-8 text.

On Linux a file name is bytes; Python lists a name that is not valid UTF-8 with lone surrogates
(`x_\\udce9\\udcff.pdf`), which Parquet, JSON writers and tar headers refuse. Such a name is escaped
in ids and sources (`x_\\xe9\\xff.pdf`, readable), and its exact bytes are kept percent-encoded in
the record's metadata (`raw_name`, lossless: `urllib.parse.unquote_to_bytes` gives them back).
A valid UTF-8 name is left as it is, so ids (and sample keys) of ordinary files never change.
"""

from __future__ import annotations

from urllib.parse import quote_from_bytes, unquote_to_bytes

# a line of a task plan (curate/run/plan.py) holding a name that is not valid UTF-8, percent-encoded
PLAN_RAW = "%raw:"


def name_bytes(name: str) -> bytes:
    """The bytes of a listed file name (the inverse of how Python decoded it)."""
    try:
        return name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate outside the escape range: keep it as its UTF-8 bytes
        return name.encode("utf-8", "surrogatepass")


def is_text(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def escape_name(name: str) -> str:
    """`name` as valid UTF-8 text: unchanged when it is, else its non-UTF-8 bytes as `\\xNN`."""
    if is_text(name):
        return name
    return name_bytes(name).decode("utf-8", "backslashreplace")


def raw_name_metadata(name: str) -> dict[str, str]:
    """`{"raw_name": percent-encoded bytes}` for a name that had to be escaped, else `{}`."""
    if is_text(name):
        return {}
    return {"raw_name": quote_from_bytes(name_bytes(name), safe="/")}


def _fits_a_line(name: str) -> bool:
    """True when `name` reads back from a line of text as itself: valid UTF-8, no line break of any
    kind (a newline in a name split it across two plan lines), no space at either end (readers strip
    lines) and not starting like an encoded line."""
    return (
        is_text(name)
        and name.splitlines() == [name]
        and "\r" not in name
        and name.strip() == name
        and not name.startswith(PLAN_RAW)
    )


def plan_line(name: str) -> str:
    """`name` as a line of a task plan (a UTF-8 text file): itself, or its bytes percent-encoded when it
    would not read back as itself from a line (not UTF-8, a newline in it, spaces at an end)."""
    return name if _fits_a_line(name) else PLAN_RAW + quote_from_bytes(name_bytes(name), safe="/")


def plan_name(line: str) -> str:
    """The file name of a plan line (the inverse of `plan_line`)."""
    if line.startswith(PLAN_RAW):
        return unquote_to_bytes(line[len(PLAN_RAW) :]).decode("utf-8", "surrogateescape")
    return line
