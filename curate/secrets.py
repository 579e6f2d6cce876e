"""Keeping credentials out of what is shown or written: URLs with `user:password@`, and API keys.

The one place where credentials are taken out of URLs. A URL's `user:password@` never reaches a
message, a log line, a record id, a sample key or a file:
- `strip_credentials` (ids, keys, metadata: the URL without them) and `redact_url` (messages: `***@`
  shows there were some) for one URL; `split_credentials` gives them to the code that must send them;
- `redact_text` for any text that may quote URLs (error reasons, executor.json, error sink lines);
- `guard_logs` for every loguru line of the process (datatrove's task logs, stderr), its exception
  text included, and with loguru's `diagnose` (which prints local variables) off.
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "***"
# scheme://userinfo@ ; userinfo cannot contain '/', '@' or whitespace
_CREDENTIALS_IN_URL = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@")


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """(`url` without `user:password@`, (user, password) or None), decoded from percent-encoding."""
    text = str(url)
    try:
        parts = urlsplit(text)
    except ValueError:
        return _CREDENTIALS_IN_URL.sub(r"\g<1>", text), None
    if "@" not in parts.netloc:
        return text, None
    userinfo, host = parts.netloc.rsplit("@", 1)
    user, _, password = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=host)), (unquote(user), unquote(password))


def strip_credentials(url: Any) -> str:
    """`url` without its `user:password@` (for ids, sample keys and metadata); the rest unchanged."""
    return _CREDENTIALS_IN_URL.sub(r"\g<1>", split_credentials(str(url))[0])


def redact_url(url: Any) -> str:
    """`url` with any `user:password@` replaced by `***@` (and the rest unchanged), for messages."""
    text = str(url)
    clean, credentials = split_credentials(text)
    if credentials is None:
        return redact_text(text)
    parts = urlsplit(clean)
    return urlunsplit(parts._replace(netloc=f"{MASK}@{parts.netloc}"))


def redact_text(text: str) -> str:
    """`text` with the credentials of every URL in it masked (error messages quote URLs)."""
    return _CREDENTIALS_IN_URL.sub(rf"\g<1>{MASK}@", text)


def _printable(text: str) -> str:
    """`text` as valid UTF-8 (a lone surrogate from a non-UTF-8 file name as `\\xNN`): a log sink
    that writes UTF-8 raised on it and loguru printed its own traceback instead of the line."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        from curate.names import escape_name

        return escape_name(text)


def clean_text(text: str) -> str:
    """Text for a log line or a file: credentials masked, printable as UTF-8."""
    return redact_text(_printable(text))


def _clean_exception(value: BaseException, depth: int = 0) -> BaseException:
    """An exception whose text is cleaned (same class name, traceback and cause), for a log line."""
    try:
        text = str(value)
    except Exception:  # a broken __str__: the class name says enough
        text = ""
    clean = clean_text(text)
    cause = value.__cause__ or value.__context__
    cleaned_cause = _clean_exception(cause, depth + 1) if cause is not None and depth < 5 else None
    if clean == text and cleaned_cause is cause:
        return value
    shown = type(type(value).__name__, (Exception,), {"__module__": type(value).__module__})(clean)
    shown.__cause__ = cleaned_cause
    return shown.with_traceback(value.__traceback__)


def _clean_record(record: dict) -> None:
    record["message"] = clean_text(record["message"])
    exception = record.get("exception")
    if exception is not None and exception.value is not None:
        value = _clean_exception(exception.value)
        if value is not exception.value:
            record["exception"] = exception._replace(type=type(value), value=value)


def guard_logs() -> None:
    """Every loguru line of this process cleaned (credentials masked, valid UTF-8), whatever sink
    datatrove adds later; loguru's `diagnose` off for sinks added from now on (it prints local
    variables, and so secrets). Idempotent; called when `curate` is imported and in every worker."""
    os.environ.setdefault("LOGURU_DIAGNOSE", "NO")  # read by loguru when it is imported (workers too)
    from loguru import logger

    if getattr(guard_logs, "installed", False):
        return
    defaults = getattr(type(logger).add, "__kwdefaults__", None)
    if defaults and "diagnose" in defaults:  # loguru imported before the variable was set
        defaults["diagnose"] = False
    logger.configure(patcher=_clean_record)
    guard_logs.installed = True  # type: ignore[attr-defined]


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


def recorded_url(url: str | None) -> str | None:
    """`url` as the record keeps it: without `user:password@` (`strip_credentials`) and, for
    a URL, without its query string (where API keys travel)."""
    if not url:
        return url
    clean = strip_credentials(url)
    try:
        parts = urlsplit(clean)
    except ValueError:
        return clean
    return urlunsplit(parts._replace(query="", fragment="")) if parts.scheme else clean
