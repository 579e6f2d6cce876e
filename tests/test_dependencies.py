"""datatrove's dependency check, answered by importlib.metadata (curate/dependencies.py): the same answers
as datatrove's scan of every installed distribution, without the scan."""

from datatrove.utils import _import_utils

from curate.dependencies import DATATROVE_CHECK, distribution_available


def test_same_answers_as_datatrove_scan():
    names = ["pyarrow", "orjson", "pymupdf", "PyMuPDF", "fasttext-numpy2-wheel", "no-such-distribution-here"]
    for name in names:
        assert distribution_available(name) == DATATROVE_CHECK.__wrapped__(name), name
    assert distribution_available("pyarrow") is True
    assert distribution_available("no-such-distribution-here") is None


def test_in_place_for_every_step():
    # importing curate's steps puts it in place: a step created or unpickled then checks without the scan
    import curate.io  # noqa: F401
    import curate.steps  # noqa: F401

    assert _import_utils._is_distribution_available is distribution_available
