"""Web sources: WARC crawls and HTML pages -> interleaved documents and image-text pairs, with safe image
fetching (`warc`, `extract`, `pairs`, `fetch`, `images`, `document`)."""
