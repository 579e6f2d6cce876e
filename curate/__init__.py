"""curate: multimodal data curation for vision-language models."""

import functools
import sysconfig

# datatrove adds three loguru sinks per task, and each `logger.add` resolves the interpreter's install
# paths through sysconfig (~10 ms each): measured, a third of a one-page task. They never change while
# a process runs, so they are computed once.
_uncached_get_path = sysconfig.get_path


@functools.cache
def _cached_get_path(name: str, scheme: str | None, expand: bool) -> str:
    return (
        _uncached_get_path(name, scheme, expand=expand) if scheme else _uncached_get_path(name, expand=expand)
    )


def _get_path(name, scheme=None, vars=None, expand=True):
    if vars is not None:
        return _uncached_get_path(name, scheme or sysconfig.get_default_scheme(), vars, expand)
    return _cached_get_path(name, scheme, expand)


sysconfig.get_path = _get_path

# a worker of a `curate run` without --verbose hides datatrove's INFO lines, as its parent does
from curate.console import install_from_environment  # noqa: E402

install_from_environment()
