"""Reading and validating a feed file in a second process.

An import spends about as long reading and validating rows as it spends writing
them; on a machine with two cores a reader process does the first while the
importing process writes. The reader is ``python -m trustreg.services.feed_worker``
with a pipe each way: its arguments go in on stdin, validated chunks come back on
stdout, one pickle each. A full pipe blocks the reader, so memory stays flat; if the
importing process dies, the reader's next write fails and it ends.

A plain subprocess rather than ``multiprocessing``: spawned children re-import the
caller's ``__main__``, which breaks any script without a main guard.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from trustreg.core.validation import ValidationContext
from trustreg.errors import InputFileError, TrustRegError
from trustreg.services.feed_reader import FeedFormat
from trustreg.services.feeds import ValidatedChunk, validated_file_chunks


@dataclass(frozen=True, slots=True)
class ReaderJob:
    path: Path
    fmt: FeedFormat
    feed_name: str
    ctx: ValidationContext
    chunk_rows: int
    max_line_bytes: int


@dataclass(frozen=True, slots=True)
class _Failure:
    message: str


def validated_chunks_in_worker(
    path: Path,
    fmt: FeedFormat,
    feed_name: str,
    ctx: ValidationContext,
    chunk_rows: int,
    max_line_bytes: int,
) -> Generator[ValidatedChunk, None, None]:
    """Like ``validated_file_chunks``, but read and validated by a reader process."""
    job = ReaderJob(path, fmt, feed_name, ctx, chunk_rows, max_line_bytes)
    reader = subprocess.Popen(
        [sys.executable, "-m", "trustreg.services.feed_worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert reader.stdin is not None  # both are pipes
    assert reader.stdout is not None
    try:
        pickle.dump(job, reader.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        reader.stdin.close()
        while (item := _receive(reader.stdout, reader)) is not None:
            if isinstance(item, _Failure):
                raise InputFileError(item.message)
            yield item
    finally:
        reader.stdout.close()
        if reader.poll() is None:
            reader.kill()
        reader.wait()


def _receive(
    stream: IO[bytes], reader: subprocess.Popen[bytes]
) -> ValidatedChunk | _Failure | None:
    try:
        item: ValidatedChunk | _Failure | None = pickle.load(stream)
    except EOFError:
        raise InputFileError(
            f"the reader process stopped unexpectedly (exit code {reader.wait()})"
        ) from None
    return item


def _serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    job: ReaderJob = pickle.load(stdin)
    try:
        for chunk in validated_file_chunks(
            job.path, job.fmt, job.feed_name, job.ctx, job.chunk_rows, job.max_line_bytes
        ):
            pickle.dump(chunk, stdout, protocol=pickle.HIGHEST_PROTOCOL)
            stdout.flush()
    except (TrustRegError, OSError) as exc:
        pickle.dump(_Failure(str(exc)), stdout)
        return
    pickle.dump(None, stdout)
    stdout.flush()


if __name__ == "__main__":
    try:
        _serve(sys.stdin.buffer, sys.stdout.buffer)
    except BrokenPipeError:  # the importing process is gone
        sys.exit(0)
