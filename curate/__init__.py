"""curate: multimodal data curation for vision-language models."""

import os
import sys

# PyMuPDF 2.0 imports its optional layout analyser (pymupdf_layout: ONNX models, huggingface_hub) and
# pymupdf4llm on every `import pymupdf`: ~1 CPU-s and +100 MB in each process that opens a PDF, for
# `Page.get_layout()` and `pymupdf.to_markdown()`, which nothing here calls. Keep them out unless asked
# for (CURATE_PYMUPDF_LAYOUT=1) or already imported.
if os.environ.get("CURATE_PYMUPDF_LAYOUT") != "1" and "pymupdf" not in sys.modules:
    for _optional in ("pymupdf.layout", "pymupdf4llm"):
        sys.modules.setdefault(_optional, None)  # importing it raises ImportError: PyMuPDF goes without
    os.environ.setdefault("PYMUPDF_SUGGEST_LAYOUT_ANALYZER", "0")

from curate.secrets import guard_logs  # noqa: E402 (after the PyMuPDF guard, which must come first)

# every process that runs curate code (the CLI, pool and Ray workers, which import it to unpickle a
# step) logs without credentials and without a traceback of its own on a non-UTF-8 name
guard_logs()
