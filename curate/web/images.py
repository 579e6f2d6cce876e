"""Safe image decoding and size checks for images from the web.

`decode_image` checks the declared size before decoding (decompression bombs), decodes fully (truncated
or corrupt data raise), applies the EXIF orientation (re-encoding) or records it, and re-encodes
formats that shards do not carry (BMP, TIFF, ICO...) to PNG.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass

from curate.errors import ImageError

# a 12,000 x 12,000 image; OBELICS' 20,000 px side limit applies later, on real sizes
DEFAULT_MAX_PIXELS = 144_000_000
SHARD_FORMATS = {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
_MAGIC = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"\x00\x00\x01\x00", "ico"),
)


@dataclass
class DecodedImage:
    data: bytes  # encoded bytes to store (the original unless re-encoded)
    format: str  # jpeg | png | webp | gif
    width: int
    height: int
    exif_orientation: int | None = None  # the EXIF orientation tag found, if any
    reencoded: bool = False


def sniff_format(data: bytes) -> str | None:
    """The image format from its first bytes, or None when the bytes are not a known image."""
    for magic, fmt in _MAGIC:
        if data.startswith(magic):
            return fmt
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    head = data[:512].lstrip().lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "svg"
    if data[4:12] in (b"ftypavif", b"ftypheic", b"ftypmif1"):
        return "avif"
    return None


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, apply_exif: bool = True) -> DecodedImage:
    """Decode `data` safely; raise ImageError(kind, message) when it cannot be used."""
    from PIL import Image, ImageFile, ImageOps

    ImageFile.LOAD_TRUNCATED_IMAGES = False
    if not data:
        raise ImageError("empty", "empty image data")
    sniffed = sniff_format(data)
    if sniffed in ("svg", "avif"):
        raise ImageError("unsupported_format", f"{sniffed} images are not decoded")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise ImageError(
                    "decompression_bomb",
                    f"{width}x{height} = {width * height} pixels > max_pixels={max_pixels}",
                )
            image.load()  # decodes every pixel: truncated or corrupt data raise here
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError("decompression_bomb", str(exc)) from None
    except Image.UnidentifiedImageError:
        raise ImageError("not_an_image", "not a recognised image format") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError("corrupt", f"cannot decode: {exc}") from None
    fmt = image.format or "PNG"
    orientation = None
    try:
        orientation = image.getexif().get(0x0112)
    # Pillow's EXIF parser raises whatever malformed EXIF bytes trigger; that is no reason to drop the image
    except (OSError, ValueError, SyntaxError, EOFError, KeyError, IndexError, TypeError, struct.error):
        orientation = None
    result = DecodedImage(data, SHARD_FORMATS.get(fmt, "png"), width, height, orientation)
    rotate = apply_exif and orientation in (2, 3, 4, 5, 6, 7, 8)
    if rotate or fmt not in SHARD_FORMATS:
        if rotate:
            image = ImageOps.exif_transpose(image)
        out_fmt = fmt if fmt in SHARD_FORMATS and fmt != "GIF" else "PNG"
        if out_fmt == "JPEG" and image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        out = io.BytesIO()
        image.save(out, format=out_fmt, **({"quality": 95} if out_fmt == "JPEG" else {}))
        result.data, result.format, result.reencoded = out.getvalue(), out_fmt.lower(), True
        result.width, result.height = image.size
    return result


def size_problem(
    width: int, height: int, min_side: int = 150, max_side: int = 20_000, max_aspect_ratio: float = 2.0
) -> str | None:
    """Why an image of this size is unusable (OBELICS defaults), or None."""
    if min(width, height) < min_side:
        return "image_too_small"
    if max(width, height) > max_side:
        return "image_too_large"
    if max(width, height) / max(1, min(width, height)) > max_aspect_ratio:
        return "image_aspect_ratio"
    return None
