"""Atomic writes: every artifact is written to a temporary path in the same folder, then renamed."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import yaml


def _default_mode(full: int) -> int:
    """The mode `open()` / `mkdir()` would give under the current umask (0644 / 0755 under umask 022)."""
    mask = os.umask(0)
    os.umask(mask)
    return full & ~mask


def _name_path(e: OSError, path: Path) -> OSError:
    """An OSError without a file name (a full disk while writing, from write() or a library) gets the
    path being written, so the one-line error says where; one with a name is kept as it is."""
    if e.filename is not None:
        return e
    named = OSError(e.errno, e.strerror or str(e), str(path))
    return named


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary file path next to `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or ".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        try:
            yield tmp
        except OSError as e:
            raise _name_path(e, path) from None
        os.chmod(tmp, _default_mode(0o666))  # mkstemp creates 0600 files; the umask decides, as for open()
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def check_output_dir(path: str | os.PathLike) -> Path:
    """An output folder's path, refused early (before any work) when it is an existing file or its
    parent cannot be created or written; DefinemedError naming the path."""
    from definemed.errors import DefinemedError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise DefinemedError(f"{path}: exists and is not a folder (remove it or choose another output)")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise DefinemedError(f"{parent}: is not a folder, so {path} cannot be created")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DefinemedError(f"{parent}: not writable, so {path} cannot be created")
    return path


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, force: bool = False) -> Iterator[Path]:
    """Yield a temporary folder next to `path`; move it onto `path` only if the block succeeds."""
    path = check_output_dir(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    os.chmod(tmp, _default_mode(0o777))  # mkdtemp creates 0700 folders
    try:
        try:
            yield tmp
        except OSError as e:
            raise _name_path(e, path) from None
        if path.exists():
            if not force:
                raise FileExistsError(f"{path}: output folder exists (use --force to replace it)")
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key, mark):
        self.problem, self.problem_mark = f"duplicate key '{key}'", mark


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error (PyYAML keeps
    the last one silently, so an edited value could be overridden by a forgotten one below it)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *anchor` merges may be overridden by the keys written beside them
            key = self.construct_object(key_node, deep=deep)
            try:
                dup = key in seen
            except TypeError:  # an unhashable key: PyYAML reports it itself
                break
            if dup:
                raise _DuplicateKey(key, key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def drop_partial_line(path: str | os.PathLike) -> int:
    """Cut a JSON-lines file back to its last complete line (a killed writer's torn tail), so that the
    next append starts on a line of its own instead of gluing onto the fragment; bytes removed."""
    path = Path(path)
    if not path.is_file():
        return 0
    with path.open("rb+") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return 0
        pos = size
        while pos > 0:  # scan back for the last newline, in blocks
            start = max(0, pos - 65536)
            fh.seek(start)
            block = fh.read(pos - start)
            i = block.rfind(b"\n")
            if i != -1:
                keep = start + i + 1
                break
            pos = start
        else:
            keep = 0
        fh.truncate(keep)
        return size - keep


def read_yaml_mapping(path: str | os.PathLike, what: str = "file", error=None) -> dict:
    """Read a YAML file whose top level must be a mapping; errors name the file (and line).

    A file that is not UTF-8 and a key given twice in one mapping are errors too.
    """
    from definemed.errors import DefinemedError

    error = error or DefinemedError
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: {what} not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise error(f"{path}: {what} is not UTF-8 text (byte {e.start})") from None
    try:
        raw = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise error(f"{path}: malformed YAML{where}: {getattr(e, 'problem', e)}") from None
    if not isinstance(raw, dict):
        raise error(f"{path}: expected a mapping at the top level")
    return raw


def write_yaml(path: str | os.PathLike, obj: Any) -> Path:
    return write_text(path, yaml.safe_dump(obj, sort_keys=False, allow_unicode=True))
