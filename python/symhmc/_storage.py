"""Where results go: files written atomically next to their destination, and room for results in
memory and on disk, checked before anything is allocated."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
from typing import Optional

__all__ = ["output_path", "temp_file", "atomic_file", "remove_quietly", "available_memory", "free_disk", "gb"]


def output_path(path, name: str) -> str:
    """The regular file that writing ``path`` replaces. Symlinks are followed (the link stays and
    its target gets the new contents); directories and special files (devices such as /dev/null,
    FIFOs, sockets) are refused, since replacing them with a regular file is never what was meant."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{name}: expected a file path, got {path!r}")
    text = os.fsdecode(os.fspath(path))
    if not text:
        raise ValueError(f"{name}: expected a file name, got an empty path")
    real = os.path.realpath(text)
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "a special file (a device, FIFO or socket)"
        raise ValueError(f"{name}: {text} is {kind}, not a regular file; refusing to replace it")
    parent = os.path.dirname(real)
    if not os.path.isdir(parent):
        raise ValueError(f"{name}: directory {parent} does not exist")
    return real


def temp_file(final: str) -> str:
    """A new empty file in ``final``'s directory (so that os.replace onto ``final`` is an atomic
    rename), with the permissions a new file gets (the umask applies)."""
    directory, base = os.path.split(final)
    while True:
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:  # pragma: no cover - a 32-bit random name already taken
            continue


def remove_quietly(path: Optional[str]) -> None:
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


@contextlib.contextmanager
def atomic_file(final: str):
    """Yields a temporary path to write; on success it replaces ``final`` in one rename, so that
    readers see the old file or the new one, never a half-written one. On failure it is removed."""
    tmp = temp_file(final)
    try:
        yield tmp
    except BaseException:
        remove_quietly(tmp)
        raise
    os.replace(tmp, final)


def available_memory() -> Optional[int]:
    """Bytes of memory available to a new allocation without swapping (Linux MemAvailable), or the
    free physical memory where that is not known; None when neither is."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None


def free_disk(path: str) -> Optional[int]:
    """Free bytes on the file system holding the directory ``path``, None when unknown."""
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def gb(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:.3g} GB"
