"""Webhook log files: finding them, opening them (gzip or not), telling their format, and
cutting them into blocks of whole lines as Arrow string arrays (no Python object per line).
"""

from __future__ import annotations

import glob
import gzip
import io
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Final

import numpy as np
import pyarrow as pa

from .._errors import WebhookLogError

__all__ = [
    "BLOCK_BYTES",
    "DEFAULT_MAX_BYTES",
    "MAX_LINE_BYTES",
    "block_lines",
    "blocks",
    "expand",
    "mapped_blocks",
    "open_file",
    "sniff",
]

# Larger blocks mean fewer SQL runs (each costs ~30 ms to plan) but more memory in flight (two
# blocks, their SQL results and DuckDB's working set) on top of the growing events.
BLOCK_BYTES: Final = 48 << 20
#: The most bytes one compressed file may expand to (``read_webhook_log(max_bytes=...)``).
DEFAULT_MAX_BYTES: Final = 4 << 30
#: The longest line a compressed JSON Lines file may have. A receiver body is at most 1 MiB
#: (6 MiB as escaped JSON); a line past this is no webhook, and a decompression bomb (one
#: endless line of NUL bytes) stops here instead of at ``max_bytes``.
MAX_LINE_BYTES: Final = 64 << 20


class _Capped:
    """A decompressing stream that raises :class:`WebhookLogError` past ``limit`` bytes."""

    def __init__(self, inner: Any, limit: int, path: Path) -> None:
        self.inner, self.limit, self.path = inner, limit, path
        self.total = 0

    def _count(self, n: int) -> None:
        self.total += n
        if self.total > self.limit:
            raise WebhookLogError(
                f"{self.path}: decompresses to more than {self.limit:,} bytes (max_bytes); "
                "a log that large needs a larger max_bytes=, a small file that expands so "
                "far is a decompression bomb"
            )

    def read(self, n: int = -1) -> bytes:
        # never more than one byte past the limit, even for read() of the whole stream
        room = self.limit - self.total + 1
        data: bytes = self.inner.read(room if n is None or n < 0 else min(n, room))
        self._count(len(data))
        return data

    def readinto(self, view: memoryview) -> int:
        n = self.inner.readinto(view)
        self._count(n or 0)
        return int(n or 0)

    def close(self) -> None:
        self.inner.close()

    def __enter__(self) -> _Capped:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def expand(source: Any) -> list[Path]:
    """The files of ``source``: paths, directories (hidden files left out), globs, or a list."""
    items: Sequence[Any] = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    paths: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            paths.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file() and not any(part.startswith(".") for part in p.parts[-1:])
            )
        elif path.is_file():
            paths.append(path)
        elif any(ch in str(item) for ch in "*?["):
            matches = sorted(Path(m) for m in glob.glob(str(item), recursive=True))
            files = [m for m in matches if m.is_file()]
            if not files:
                raise WebhookLogError(f"{item}: the pattern matches no files; check the path")
            paths.extend(files)
        else:
            raise WebhookLogError(
                f"{item}: no such file or directory; pass a file, a directory, a glob or a list"
            )
    return paths


def open_file(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[IO[bytes], IO[bytes]]:
    """(decompressed stream, raw file) for ``path``; gzip is detected by its magic bytes and
    may expand to at most ``max_bytes`` (:class:`WebhookLogError` past it)."""
    raw = path.open("rb")
    if raw.read(2) == b"\x1f\x8b":
        raw.seek(0)
        inner = gzip.GzipFile(fileobj=raw, mode="rb")
        return _Capped(inner, max_bytes, path), raw  # type: ignore[return-value]
    raw.seek(0)
    return raw, raw


def sniff(head: bytes, path: Path) -> str:
    """The format of a file from its first bytes: parquet, array, jsonl or (by name) csv."""
    if head.startswith(b"PAR1"):
        return "parquet"
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"["):
        return "array"
    if text.startswith(b"{"):
        return "jsonl"
    suffixes = [s.lower() for s in path.suffixes]
    if ".csv" in suffixes or ".tsv" in suffixes:  # CSV by name only: other text is JSON Lines
        return "csv"
    return "jsonl"


def _read_into(stream: IO[bytes], view: memoryview) -> int:
    got = 0
    while got < len(view):
        n = stream.readinto(view[got:])  # type: ignore[attr-defined]
        if not n:
            break
        got += n
    return got


def blocks(
    stream: IO[bytes],
    head: bytes = b"",
    size: int = BLOCK_BYTES,
    *,
    max_line: int | None = None,
    name: str = "",
) -> Iterator[memoryview]:
    """Blocks of whole lines (each ends with a newline, except maybe the file's last).

    Each block is a view over its own buffer (no copies of the data beyond the read). A line
    longer than ``max_line`` bytes raises :class:`WebhookLogError` naming ``name``.
    """
    carry = bytes(head)
    while True:
        buf = bytearray(len(carry) + size)
        buf[: len(carry)] = carry
        view = memoryview(buf)
        got = _read_into(stream, view[len(carry) :])
        end = len(carry) + got
        if got == 0:
            if carry:
                yield view[: len(carry)]
            return
        cut = buf.rfind(b"\n", 0, end)
        if cut < 0:
            if max_line is not None and end > max_line:
                raise WebhookLogError(
                    f"{name}: a line runs past {max_line:,} bytes without a newline; no webhook "
                    "line is that long: the file is not a webhook log (or a decompression bomb)"
                )
            carry = bytes(view[:end])
            continue
        yield view[: cut + 1]
        carry = bytes(view[cut + 1 : end])


def mapped_blocks(raw: IO[bytes], size: int = BLOCK_BYTES) -> Iterator[memoryview] | None:
    """Blocks of whole lines straight from a copy-on-write memory map of an uncompressed file.

    No read copies and no fresh buffers; the pages of blocks already parsed are dropped from
    this process (the loader finishes block N-1 before block N+1 is asked for). ``None`` when
    the file cannot be mapped (then the caller reads it).
    """
    import mmap

    try:
        length = os.fstat(raw.fileno()).st_size
        if length == 0:
            return None
        mm = mmap.mmap(raw.fileno(), length, access=mmap.ACCESS_COPY)
    except (OSError, ValueError, io.UnsupportedOperation):
        return None

    def gen() -> Iterator[memoryview]:
        view = memoryview(mm)
        can_drop = hasattr(mm, "madvise") and hasattr(mmap, "MADV_DONTNEED")
        start = dropped = 0
        prev = 0  # start of the block handed out before the current one
        while start < length:
            end = min(start + size, length)
            if end < length:
                cut = mm.rfind(b"\n", start, end)
                if cut < 0:  # a line longer than a block
                    cut = mm.find(b"\n", end)
                end = length if cut < 0 else cut + 1
            if can_drop:
                upto = prev - prev % mmap.PAGESIZE
                if upto > dropped:
                    mm.madvise(mmap.MADV_DONTNEED, dropped, upto - dropped)
                    dropped = upto
            prev = start
            yield view[start:end]
            start = end

    return gen()


def block_lines(block: memoryview) -> tuple[pa.Array, np.ndarray, list[int], int]:
    """Lines of ``block``: string array (newline kept), 0-based indexes, invalid UTF-8, count."""
    arr = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(arr == 10) + 1
    if len(ends) == 0 or ends[-1] != len(block):
        ends = np.append(ends, len(block))
    offsets = np.concatenate(([0], ends)).astype(np.int32)
    n = len(offsets) - 1
    lengths = np.diff(offsets)
    starts = offsets[:-1]
    keep = np.ones(n, dtype=bool)
    # Blank lines: only lines that start with whitespace can be blank; check those few in Python.
    cand = np.flatnonzero(
        (lengths == 0) | np.isin(arr[np.minimum(starts, len(arr) - 1)], [32, 9, 13, 10])
    )
    for i in cand.tolist():
        if not bytes(block[offsets[i] : offsets[i + 1]]).strip():
            keep[i] = False
    strings = pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(block)]
    )
    bad_utf8: list[int] = []
    try:
        strings.validate(full=True)
    except pa.ArrowInvalid:
        for i in np.flatnonzero(keep).tolist():
            try:
                bytes(block[offsets[i] : offsets[i + 1]]).decode("utf-8")
            except UnicodeDecodeError:
                bad_utf8.append(i)
                keep[i] = False
    index = np.arange(n)
    if not keep.all():
        strings = strings.filter(pa.array(keep))
        index = index[keep]
    return strings, index, bad_utf8, n
