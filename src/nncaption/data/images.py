"""Decode, convert and resize images once, in parallel, into a uint8 .npy array on disk."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

log = logging.getLogger(__name__)

BLOCK = 256  # images decoded per round of the pool; bounds the decoded pixels held in memory
COPY_ROWS = 4096  # rows per step when the array is compacted after skipped images
Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class ImageWriteResult:
    kept: list[int] = field(default_factory=list)  # positions in the input that were readable
    unreadable: list[str] = field(default_factory=list)  # "path: reason" of each skipped image


def decode_image(path: str, size: int) -> np.ndarray | str:
    """Return uint8 [3, size, size] RGB pixels, or the reason the file cannot be decoded.

    Grayscale, CMYK, palette and RGBA images become RGB (transparency is dropped). A JPEG is
    decoded at a reduced scale first (`Image.draft`, a DCT-domain downscale by 1/2, 1/4 or 1/8
    that stays at least `size` on each side), which costs far less than a full decode.
    """
    try:
        with Image.open(path) as image:
            image.draft("RGB", (size, size))
            if image.mode in ("P", "PA"):  # a palette may carry transparency; go through RGBA
                image = image.convert("RGBA")
            rgb = image.convert("RGB").resize((size, size), Image.BILINEAR)
            pixels = np.asarray(rgb, dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return pixels.transpose(2, 0, 1)


def _decode_block(paths: Sequence[str], size: int) -> list[np.ndarray | str]:
    return [decode_image(p, size) for p in paths]


def make_executor(workers: int, kind: str) -> Executor:
    """Create a pool of `workers` decoders (0 means one per CPU); `kind` is "thread" or "process"."""
    count = workers if workers > 0 else (os.cpu_count() or 1)
    if kind == "process":
        return ProcessPoolExecutor(max_workers=count)
    return ThreadPoolExecutor(max_workers=count, thread_name_prefix="decode")


def write_images(paths: Sequence[Path], out: Path, size: int, workers: int = 0, kind: str = "thread",
                 stage: str = "images", progress: Progress | None = None) -> ImageWriteResult:
    """Write every readable image of `paths` to `out` as uint8 [N_readable, 3, size, size].

    Unreadable images (corrupt, truncated, not an image) are skipped and listed in the result.
    """
    result = ImageWriteResult()
    array = np.lib.format.open_memmap(out, mode="w+", dtype=np.uint8, shape=(len(paths), 3, size, size))
    count = workers if workers > 0 else (os.cpu_count() or 1)
    with make_executor(workers, kind) as pool:
        for start in range(0, len(paths), BLOCK):
            block = [str(p) for p in paths[start : start + BLOCK]]

            # One task per worker and block: a task per image costs more than a small decode.
            chunks = [block[i :: count] for i in range(count)]
            decoded = list(pool.map(_decode_block, chunks, [size] * count))
            for offset, path in enumerate(block):
                pixels = decoded[offset % count][offset // count]
                if isinstance(pixels, str):
                    log.warning("skipping unreadable image %s (%s)", path, pixels)
                    result.unreadable.append(f"{path}: {pixels}")
                    continue
                array[len(result.kept)] = pixels
                result.kept.append(start + offset)
            if progress is not None:
                progress(stage, min(start + BLOCK, len(paths)), len(paths))
    array.flush()
    del array
    if len(result.kept) < len(paths):
        _compact(out, len(result.kept))
    return result


def _compact(path: Path, rows: int) -> None:
    """Rewrite an .npy array with only its first `rows` rows, copying in steps to bound memory."""
    source = np.load(path, mmap_mode="r")
    temporary = path.with_name(path.stem + ".compact.npy")
    target = np.lib.format.open_memmap(temporary, mode="w+", dtype=source.dtype, shape=(rows, *source.shape[1:]))
    for start in range(0, rows, COPY_ROWS):
        stop = min(start + COPY_ROWS, rows)
        target[start:stop] = source[start:stop]
    target.flush()
    del target, source
    os.replace(temporary, path)
