"""The error policy: bad data raises a `RecordError`; a mistake the user can fix raises a `UserError`;
anything else is a bug.

A step that meets an input or record it cannot use raises a `RecordError` subclass (or a library
exception listed in `data_errors()`); the step records it in the stage's error sink with its reason
(`kind` names the case in the funnel) and the run goes on. Any other exception (a `KeyError`, a
`TypeError`, a missing model file, a full disk) is not the record's fault: it fails the task with
its traceback, so a programming error never turns into a column of "errored" rows.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator


class UserError(Exception):
    """A mistake the user can fix (a bad option, a missing input, an unreachable server): the CLI prints
    its message in one line, without a traceback."""


class RecordError(Exception):
    """One input or record cannot be used. `kind` is a short reason name for the funnel."""

    default_kind = "bad_record"

    def __init__(self, kind: str | None, message: str):
        super().__init__(message)
        self.kind = kind or self.default_kind


class InputFileError(RecordError):
    """An input file that cannot be read as its format (URL list, WARC, HTML)."""

    default_kind = "unreadable_file"


class PdfError(RecordError):
    """A PDF or page that cannot be turned into records."""

    default_kind = "pdf"


class ImageError(RecordError):
    """An image that cannot be used (not an image, corrupt, decompression bomb, ...)."""

    default_kind = "image"


class FetchError(RecordError):
    """A download that failed; `retry` says whether trying again may help."""

    default_kind = "fetch"

    def __init__(self, kind: str | None, message: str, retry: bool = False):
        super().__init__(kind, message)
        self.retry = retry


class TextError(RecordError):
    """A record's text that a scorer cannot use (e.g. no words for a language model)."""

    default_kind = "text"


class LLMResponseError(RecordError):
    """An LLM server reply that is not a usable answer (no `choices`, not JSON, rejected request)."""

    default_kind = "llm_response"


@functools.cache
def data_errors() -> tuple[type[BaseException], ...]:
    """Library exceptions that mean the data is bad (not our code): caught like a `RecordError`.

    Pillow's "not an image" and decompression-bomb errors, PyMuPDF's MuPDF errors (broken PDF
    objects), and zlib/gzip errors of corrupt compressed payloads."""
    import zlib

    found: list[type[BaseException]] = [RecordError, zlib.error]
    try:
        from PIL import Image

        found += [Image.UnidentifiedImageError, Image.DecompressionBombError]
    except ImportError:  # Pillow is a dependency; without it there are no image errors to catch
        pass
    try:
        import pymupdf

        found.append(pymupdf.mupdf.FzErrorBase)
    except ImportError:  # no PyMuPDF: no MuPDF errors
        pass
    return tuple(found)


@contextlib.contextmanager
def decoding_image(what: str) -> Iterator[None]:
    """Decoding in-memory image bytes with Pillow (or OpenCV): what the bytes can trigger becomes an
    `ImageError` naming `what`. There is no file I/O in such a block, so an OSError is the data's."""
    from PIL import Image

    try:
        yield
    except ImageError:
        raise
    except (
        OSError,  # includes UnidentifiedImageError and truncated data
        ValueError,
        SyntaxError,
        EOFError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise ImageError("undecodable", f"{what}: cannot decode image ({type(exc).__name__}: {exc})") from exc


def error_kind(exc: BaseException) -> str:
    """The funnel's name for a caught data error: its `kind`, else the exception's class name."""
    return getattr(exc, "kind", None) or type(exc).__name__
