"""Which reader an input needs, decided next to the readers (`curate.web.document.is_url_list`)."""

from __future__ import annotations

import shutil

from curate.web.document import is_url_list


def test_url_lists_pages_and_listings_are_told_apart(shared_data, tmp_path):
    assert not is_url_list(str(shared_data / "warc"))  # WARC crawls: pages
    assert not is_url_list(str(shared_data / "html"))
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "part-0.csv").write_text("url,caption\nhttp://127.0.0.1/a.jpg,a red bicycle by a wall\n")
    assert is_url_list(str(lists)) and is_url_list(str(lists / "part-0.csv"))
    warc = next(p for p in (shared_data / "warc").iterdir() if p.name.endswith((".warc", ".warc.gz")))
    shutil.copy(warc, lists)  # pages among the lists: read as pages
    assert not is_url_list(str(lists))
    assert not is_url_list(str(tmp_path / "crawl" / "warc.paths.gz"))  # a Common Crawl listing names WARCs
