"""Files the CLI writes (``report --out``, ``audit export --out``, ``audit prove --out``,
``generate --out`` / ``--expected``): never over something by surprise.

The rules, in one place:

- an existing file is replaced only with ``--force``; without it the command is refused
  before any work is done, and again at the moment the file would appear (no race);
- never through a symbolic link (the link is refused, ``--force`` or not), never over a
  directory;
- never over one of the ledger's own files (its database, WAL, journal, live read model),
  ``--force`` or not, whatever name or hard link leads there;
- the output is written to a new file beside the target and moved into place when
  complete: a failed run leaves the old file as it was, and the target's inode (a hard
  link, the ledger's file) is never opened for writing.

Refusals are :class:`OutputError` (a ``ValueError``) naming the flag and the rule.
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


class OutputError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_output(path: str | Path, *, force: bool, protect: Iterable[Path] = (), field: str = "--out") -> Path:
    """``path`` if the rules above let a command write it; :class:`OutputError` otherwise."""
    target = Path(path).expanduser()
    shown = str(path)
    if not str(path).strip():
        raise OutputError(field, "is empty: name a file")
    try:
        st = target.lstat()
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise OutputError(field, f"{shown} cannot be examined: {e.strerror}") from None
    if st is not None and os.path.islink(target):
        raise OutputError(field, f"{shown} is a symbolic link; refusing to write through it (name the real file, "
                                 f"or remove the link)")
    if st is not None and target.is_dir():
        raise OutputError(field, f"{shown} is a directory; name a file")
    resolved = target.parent.resolve() / target.name
    for own in protect:
        own_resolved = own.parent.resolve() / own.name
        if resolved == own_resolved or (st is not None and _same_file(target, own)):
            raise OutputError(field, f"{shown} is the ledger's own file {own}; refusing to overwrite it, --force "
                                     f"or not")
    if not target.parent.is_dir():
        raise OutputError(field, f"the folder {target.parent} does not exist")
    if st is not None and not force:
        raise OutputError(field, f"{shown} exists; refusing to overwrite it (add --force to replace it)")
    return target


@contextmanager
def output_file(path: str | Path, *, force: bool, protect: Iterable[Path] = (), field: str = "--out",
                mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None) -> Iterator[IO[Any]]:
    """A file to write ``path``'s new content to, put in place when the block ends without
    an error (see the module's rules); the partial file is removed on an error."""
    protect = list(protect)
    target = check_output(path, force=force, protect=protect, field=field)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding,
                       newline=None if "b" in mode else newline) as fh:
            yield fh
        check_output(path, force=force, protect=protect, field=field)  # again: it may have appeared meanwhile
        if force:
            os.replace(temp, target)  # renames over the name: never writes into what it named
        else:
            try:
                os.link(temp, target)  # fails if the name exists: no overwrite, even in a race
            except FileExistsError:
                raise OutputError(field, f"{path} appeared while it was being written; refusing to overwrite it "
                                         f"(add --force to replace it)") from None
            except OSError as e:
                if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                    raise
                os.replace(temp, target)  # a file system without hard links: checked just above
            else:
                os.unlink(temp)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise


def output_folder(path: str | Path, names: Iterable[str], *, force: bool, protect: Iterable[Path] = (),
                  field: str = "--out") -> Path:
    """A folder to write the files ``names`` into (created if missing): not a symbolic
    link, not a file; each of ``names`` checked by :func:`check_output` before any is
    written, so a refusal writes nothing."""
    folder = Path(path).expanduser()
    if not str(path).strip():
        raise OutputError(field, "is empty: name a folder")
    if os.path.islink(folder):
        raise OutputError(field, f"{path} is a symbolic link; refusing to write through it (name the real folder)")
    if folder.exists() and not folder.is_dir():
        raise OutputError(field, f"{path} is a file, not a folder")
    protect = list(protect)
    if folder.is_dir():
        for name in names:
            check_output(folder / name, force=force, protect=protect, field=field)
    else:
        try:
            folder.mkdir(parents=True)
        except OSError as e:
            raise OutputError(field, f"cannot create the folder {path}: {e.strerror}") from None
    return folder
