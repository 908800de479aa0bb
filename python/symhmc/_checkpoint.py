"""Crash-safe checkpoints: the sampler state and the draws so far, written atomically, and resume().

A checkpoint file is a header and a payload (integers little-endian):

    b"SYMHMC-CHECKPOINT\\n"   18 bytes, the magic
    version                  uint32 (FORMAT_VERSION)
    length                   uint64, the payload's length in bytes
    sha256                   32 bytes, of the payload
    payload                  n (uint32), the pickle's length and the n buffers' lengths (uint64
                             each), the pickle (protocol 5), then its n out-of-band buffers (the
                             arrays' bytes, written as they are rather than copied into the pickle)

A file that is truncated, altered or of another version is refused with a ValueError naming it,
before anything is unpickled: a checkpoint never yields wrong draws. The payload is a pickle, so, as
with any pickle, load only checkpoints you wrote.

The file at the path given to ``sample`` describes the run (target, options, seed, chain groups)
and, for a run of one group, also holds that group's progress. A run of several groups writes each
group's progress next to it (``path.group<g>``): groups are independent, so each resumes from its own
latest checkpoint, and a worker writes its group's file without talking to the others (on a cluster,
``path`` must then be on a file system the workers share).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import hashlib
import numbers
import os
import pickle
import secrets
import struct
import time
from typing import Optional

from ._storage import atomic_file, output_path

__all__ = ["resume"]

MAGIC = b"SYMHMC-CHECKPOINT\n"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<IQ32s")
DEFAULT_EVERY_SECONDS = 60.0
# What a caller stores with the run it checkpoints (the command line: its arguments, to finish a
# resumed run the way it would have finished the original one).
_annotation = contextvars.ContextVar("symhmc_checkpoint_annotation", default=None)


@contextlib.contextmanager
def annotate(**values):
    token = _annotation.set(values)
    try:
        yield
    finally:
        _annotation.reset(token)


def annotation():
    return _annotation.get()


def checkpoint_every(every, path) -> tuple:
    """(transitions, seconds) between checkpoints, one of them None: an int counts transitions, a
    float or a datetime.timedelta is seconds; None means every 60 seconds."""
    if path is None:
        if every is not None:
            raise ValueError("checkpoint_every: needs checkpoint='file' to write to")
        return None, None
    if every is None:
        return None, DEFAULT_EVERY_SECONDS
    if isinstance(every, datetime.timedelta):
        every = every.total_seconds()
    if isinstance(every, bool) or not isinstance(every, numbers.Real):
        raise TypeError(f"checkpoint_every: expected an int (transitions), a float (seconds) or a timedelta, "
                        f"got {type(every).__name__} {every!r}")
    if isinstance(every, numbers.Integral):
        if every < 1:
            raise ValueError(f"checkpoint_every: expected at least 1 transition, got {every}")
        return int(every), None
    if not 0 < every < float("inf"):
        raise ValueError(f"checkpoint_every: expected a positive finite number of seconds, got {every!r}")
    return None, float(every)


def group_path(path: str, group: int) -> str:
    return f"{path}.group{group}"


def write(path: str, payload: dict) -> None:
    """Writes payload to path atomically (a new file, flushed to disk, renamed onto path)."""
    buffers = []
    body = pickle.dumps(payload, protocol=5, buffer_callback=buffers.append)
    parts = [memoryview(body)] + [buffer.raw() for buffer in buffers]
    index = struct.pack(f"<I{len(parts)}Q", len(buffers), *(part.nbytes for part in parts))
    digest = hashlib.sha256(index)
    for part in parts:
        digest.update(part)
    length = len(index) + sum(part.nbytes for part in parts)
    with atomic_file(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(MAGIC + _HEADER.pack(FORMAT_VERSION, length, digest.digest()) + index)
            for part in parts:
                fh.write(part)
            fh.flush()
            os.fsync(fh.fileno())
    _sync_directory(os.path.dirname(path))


def read(path: str, name: str = "checkpoint") -> dict:
    """The payload of a checkpoint file; a ValueError naming the file when it is not a complete,
    unaltered checkpoint of this format version."""
    try:
        with open(path, "rb") as fh:
            data = bytearray(fh.read())  # writeable: the arrays unpickled from it are
    except FileNotFoundError:
        raise ValueError(f"{name}: {path} does not exist") from None
    except IsADirectoryError:
        raise ValueError(f"{name}: {path} is a directory, not a checkpoint file") from None
    if not data.startswith(MAGIC):
        raise ValueError(f"{name}: {path} is not a symhmc checkpoint (no checkpoint header)")
    start = len(MAGIC) + _HEADER.size
    if len(data) < start:
        raise ValueError(f"{name}: {path} is truncated (its header is incomplete)")
    version, length, digest = _HEADER.unpack(data[len(MAGIC): start])
    if version != FORMAT_VERSION:
        raise ValueError(f"{name}: {path} has checkpoint format version {version}; this symhmc reads "
                         f"version {FORMAT_VERSION}")
    payload = memoryview(data)[start:]
    if len(payload) != length:
        raise ValueError(f"{name}: {path} is truncated or damaged: expected {length} bytes of data, found "
                         f"{len(payload)}")
    if hashlib.sha256(payload).digest() != digest:
        raise ValueError(f"{name}: {path} is corrupted (its checksum does not match its contents)")
    # The checksum vouches for what follows: the index is the one write() made.
    (n,) = struct.unpack_from("<I", payload)
    sizes = struct.unpack_from(f"<{n + 1}Q", payload, 4)
    offset = 4 + 8 * (n + 1)
    parts = []
    for size in sizes:
        parts.append(payload[offset: offset + size])
        offset += size
    return pickle.loads(parts[0], buffers=parts[1:])


def _sync_directory(directory: str) -> None:
    """Flushes the rename itself to disk (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory or ".", os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


class Checkpointer:
    """Writes one group's progress every so many transitions or seconds. Picklable: it travels to
    the worker that runs the group. ``run`` is the run's description, stored with the progress when
    the run has a single group (one file), else written once by the caller and matched by run_id."""

    def __init__(self, path: str, transitions: Optional[int], seconds: Optional[float], run_id: str,
                 group: int, run: Optional[dict]):
        self.path, self.transitions, self.seconds = path, transitions, seconds
        self.run_id, self.group, self.run = run_id, group, run
        self._last = None

    def due_after(self) -> Optional[float]:
        """The monotonic time at which the next time-based checkpoint is due, None if count-based."""
        if self.seconds is None:
            return None
        self._last = time.monotonic() if self._last is None else self._last
        return self._last + self.seconds

    def save(self, progress: dict) -> None:
        if self.run is not None:
            write(self.path, dict(kind="run", run=self.run, progress=progress))
        else:
            write(group_path(self.path, self.group),
                  dict(kind="group", run_id=self.run_id, group=self.group, progress=progress))
        self._last = time.monotonic()


def new_run_id() -> str:
    return secrets.token_hex(16)


def resume(path, executor=None, progress: bool = True):
    """Continues the run checkpointed in ``path`` (``sample(..., checkpoint=path)``) to its planned
    end, and returns its result: the draws equal those of an uninterrupted run, bitwise. Groups
    resume from their own latest checkpoint (or start over if they had written none) and keep
    checkpointing to the same files. A finished run returns at once. ``executor`` runs the groups
    (as in ``sample``); the groups are those of the checkpointed run.

    A truncated or corrupted file, or one of another format version, raises a ValueError naming
    it; so does a group's file that belongs to another run."""
    from ._groups import check_executor, execute_run
    from ._validation import check_bool

    path = output_path(path, "path")
    check_bool(progress, "progress")
    check_executor(executor)
    record = read(path, "path")
    if record.get("kind") != "run":
        raise ValueError(f"path: {path} is the checkpoint of one chain group; resume the run's own file "
                         f"(without the .group suffix)")
    run = record["run"]
    groups = run["groups"]
    if len(groups) == 1:
        saved = [record["progress"]]
    else:
        saved = []
        for g in range(len(groups)):
            file = group_path(path, g)
            if not os.path.exists(file):
                saved.append(None)  # the group wrote no checkpoint: it starts over, the same way
                continue
            part = read(file, "path")
            if part.get("kind") != "group" or part.get("run_id") != run["run_id"] or part.get("group") != g:
                raise ValueError(f"path: {file} belongs to another run than {path}; remove it to restart "
                                 f"group {g}")
            saved.append(part["progress"])
    return execute_run(run, saved, executor, progress, path)
