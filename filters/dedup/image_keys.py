"""Image keys: a hash of the decoded pixels (exact dedup) and a 64-bit perceptual hash (near dedup).

Both look at the picture as displayed: EXIF orientation is applied first, so a photo stored rotated
with an orientation tag and the same photo stored upright get the same keys. The exact key hashes
the pixels, not the file, so the same pixels in PNG, lossless WebP or TIFF match, while a JPEG
re-encoded at another quality (other pixels) is only a near duplicate, found by the perceptual hash.
"""

from __future__ import annotations

import io
import warnings

import imagehash
import numpy as np
import xxhash
from PIL import Image, ImageOps

from curate.errors import decoding_image

# Pages and photos can be large; a decompression bomb is refused by PIL's own limit.
Image.MAX_IMAGE_PIXELS = 200_000_000


def open_image(data: bytes) -> Image.Image:
    """Decode, apply the EXIF orientation, and normalise the mode (RGB, or RGBA where there is alpha).
    Bytes that do not decode raise ImageError."""
    with warnings.catch_warnings(), decoding_image("image"):
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = Image.open(io.BytesIO(data))
        image.load()
        image = ImageOps.exif_transpose(image)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    return image.convert("RGBA" if has_alpha else "RGB")


def pixel_hash(image: Image.Image) -> int:
    """Hash of size, mode and decoded pixels; a fully opaque alpha channel does not count."""
    if image.mode == "RGBA" and image.getextrema()[3][0] == 255:
        image = image.convert("RGB")
    digest = xxhash.xxh3_64(f"{image.width}x{image.height}:{image.mode}".encode())
    digest.update(image.tobytes())
    return digest.intdigest()


def perceptual_hash(image: Image.Image) -> int:
    """imagehash's 64-bit pHash (DCT of a 32x32 grey thumbnail) as an unsigned integer."""
    bits = imagehash.phash(image).hash.flatten()
    return int(np.packbits(bits.astype(np.uint8)).view(">u8")[0])


def hamming(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    """Bitwise distance between 64-bit hashes (vectorised)."""
    return np.bitwise_count(np.bitwise_xor(np.asarray(a, dtype=np.uint64), np.asarray(b, dtype=np.uint64)))
