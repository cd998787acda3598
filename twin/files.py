"""Result files written whole or not at all, and output paths checked before a run.

A result file is first written to a temporary file in its own folder, flushed and synced,
then renamed over the target (``os.replace`` is atomic on one file system). A full disk or a
kill therefore leaves either the previous file or the new one, never a truncated one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO

from twin.checks import option_label
from twin.errors import UsageError


@contextlib.contextmanager
def atomic_open(path: str | Path, newline: str | None = None) -> Iterator[IO[str]]:
    """A text file to write that replaces ``path`` only once it is complete on disk."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _sync_folder(target.parent)


def write_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; return the path."""
    with atomic_open(path) as fh:
        fh.write(text)
    return Path(path)


def _sync_folder(folder: Path) -> None:
    # The rename itself is durable only once the folder's entry is synced (POSIX).
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def check_writable(option: str, path: Path | None, folder: bool = False) -> None:
    """Refuse an output path the option cannot write, before any simulation runs.

    ``option`` names how the user gave the path: ``--json`` (a command-line option) or
    ``out`` (an argument of the Python API).

    The nearest existing folder must accept a new file; this is tried for real (a probe file
    is created and removed), since permission bits do not tell for every user or mount.
    """
    if path is None:
        return
    try:
        _check(option, path, folder)
    except OSError as exc:  # a name too long, a loop of links, ...
        reason = exc.strerror or str(exc)
        raise UsageError(f"{option_label(option)}: cannot write {_short(path)}: {reason}") from None


def _check(option: str, path: Path, folder: bool) -> None:
    if folder and path.exists() and not path.is_dir():
        raise UsageError(f"{option_label(option)}: {path} exists and is not a folder")
    if not folder and path.is_dir():
        raise UsageError(f"{option_label(option)}: {path} is a folder; give a file name")
    parent = path if folder else path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"{option_label(option)}: cannot create {path}: {parent} is not a folder")
    _check_names(path, parent)
    _probe(option, path, parent)


def _check_names(path: Path, existing: Path) -> None:
    """Raise ENAMETOOLONG for a name still to be created that the file system cannot hold."""
    limit = os.pathconf(existing, "PC_NAME_MAX")
    for part in path.parts[len(existing.parts) :]:
        if len(os.fsencode(part)) > limit:
            raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), part)


def _short(path: Path) -> str:
    text = str(path)
    return text if len(text) <= 80 else f"{text[:60]}...({len(text)} characters)"


def _probe(option: str, path: Path, folder: Path) -> None:
    try:
        with tempfile.TemporaryFile(prefix=".twin-probe-", dir=folder):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        where = option_label(option)
        raise UsageError(f"{where}: cannot write {path}: {reason} ({folder})") from None


Writer = Callable[[], object]


def write_all(writers: Mapping[str, Writer]) -> list[str]:
    """Call every writer, keep going when one fails, and say which failed and why."""
    failed = []
    for name, writer in writers.items():
        try:
            writer()
        except OSError as exc:
            failed.append(f"{name}: {exc.strerror or exc}")
    return failed
