"""Hostile inputs built on the fly (nothing large is committed): each function writes one case."""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path


def slow_pdf(path: Path, depth: int = 7, fan_out: int = 10) -> Path:
    """A one-page PDF whose render draws fan_out**depth paths: form XObject i draws form i+1 `fan_out`
    times (the "billion laughs" of PDF). A few hundred bytes; at depth 7 MuPDF renders for minutes."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    stream = b"0 0 m 40 0 l 40 40 l 0 40 l h f 0 0 m 30 5 l 5 30 l h f"  # the innermost form: two paths
    resources = ""
    for level in range(depth):
        if level:  # draw the previous form fan_out times
            stream = b" ".join(f"q 0.9 0 0 0.9 {i % 4} {i // 4} cm /F Do Q".encode() for i in range(fan_out))
            resources = f"/Resources << /XObject << /F {len(objects)} 0 R >> >>"
        add(
            f"<< /Type /XObject /Subtype /Form /BBox [0 0 600 800] {resources} /Length {len(stream)} >>\n"
            f"stream\n".encode()
            + stream
            + b"\nendstream"
        )
    top = len(objects)
    content = b"q 1 0 0 1 10 10 cm /F Do Q"
    content_obj = add(f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream")
    pages_obj = len(objects) + 2
    page_obj = add(
        f"<< /Type /Page /Parent {pages_obj} 0 R /MediaBox [0 0 612 792] "
        f"/Resources << /XObject << /F {top} 0 R >> >> /Contents {content_obj} 0 R >>".encode()
    )
    add(f"<< /Type /Pages /Kids [{page_obj} 0 R] /Count 1 >>".encode())
    catalog = add(f"<< /Type /Catalog /Pages {pages_obj} 0 R >>".encode())
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root {catalog} 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    path.write_bytes(out.getvalue())
    return path
