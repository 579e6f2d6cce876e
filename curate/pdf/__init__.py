"""PDF pages: finding PDFs (files, tar shards, Parquet), reading each page's text layer or OCR in a
worker process, tables as rows, and the pages of a PDF joined into one document record."""
