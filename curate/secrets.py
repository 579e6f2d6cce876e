"""Keeping credentials out of what is shown or written: URLs with `user:password@`, and API keys."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
# scheme://userinfo@ ; userinfo cannot contain '/', '@' or whitespace
_CREDENTIALS_IN_URL = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@")


def redact_url(url: Any) -> str:
    """`url` with any `user:password@` replaced by `***@` (and the rest unchanged), for messages and files."""
    text = str(url)
    try:
        parts = urlsplit(text)
    except ValueError:
        return redact_text(text)
    if parts.username is None and parts.password is None:
        return redact_text(text)
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{MASK}@{host}"))


def redact_text(text: str) -> str:
    """`text` with the credentials of every URL in it masked (error messages quote URLs)."""
    return _CREDENTIALS_IN_URL.sub(rf"\g<1>{MASK}@", text)


class Secret:
    """A value that is never shown: str() and repr() give '***', so log lines, run.json and datatrove's
    executor.json (which dumps every pipeline step's attributes) do not carry it. It pickles with its
    value, so it reaches worker processes."""

    __slots__ = ("_value",)

    def __init__(self, value: Any):
        self._value = value

    def get(self) -> Any:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __getstate__(self) -> tuple:
        return (self._value,)  # a tuple: never a false state, which pickle would not restore

    def __setstate__(self, state: tuple) -> None:
        self._value = state[0]
