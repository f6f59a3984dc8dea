"""Files: atomic writes, JSON Lines, resumable append-logs and content hashes, written once for the whole library.

    atomic_path / atomic_write_*   write to a temporary name in the same folder, rename when complete: a crash
                                   never leaves a half-written file (or model folder) behind
    iter_jsonl / read_jsonl        JSON Lines in, with errors that name the file and the line (a binary file, a
                                   folder or a missing file each get their own message)
    AppendLog                      a JSON Lines file that grows one record at a time, each write flushed and
                                   fsynced; reopening it cuts off a last line that a crash left incomplete, so a
                                   resumed job skips what is done and redoes only the interrupted record
    content_hash                   a short stable hash of any JSON value (identifies data, jobs, settings)
    model_fingerprint              a short hash of a model folder's config and weights (which judge made a row)
    file_sha256                    the full hash of one file (a GGUF model a package ships)
    local_path                     a path from a profile, found the same from the top folder and from notebooks/

Pure core: standard library only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, Union

from .errors import DataError, RmR1Error, RowError

PathLike = Union[str, Path]


def repo_root() -> Path:
    """The workbook's top folder (the parent of the rmr1lib package)."""
    return Path(__file__).resolve().parent.parent


def local_path(text: PathLike) -> Optional[Path]:
    """An existing local file or folder for `text`: as given (from the current folder), else relative to the
    workbook's top folder; None when neither exists (it may then be a hub name).

    The runner runs at the top folder and a notebook in notebooks/, so a relative path in a profile means the
    same in both only through this lookup.
    """
    if not str(text).strip():
        return None
    path = Path(text).expanduser()
    if path.exists():
        return path
    if path.is_absolute():
        return None
    candidate = repo_root() / path
    return candidate if candidate.exists() else None


# ----------------------------------------------------------------------------------------------------------
# atomic writes


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path next to `path`; on success rename it over `path`, on error remove it.

    Works for files and directories alike (a directory target is replaced as a whole).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    staged = tmp / target.name
    try:
        yield staged
        if not staged.exists():
            raise RmR1Error(f"atomic write of {target}: nothing was written to the staging path {staged}")
        if target.is_dir() and not target.is_symlink():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            os.replace(staged, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staged, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def atomic_write_text(path: PathLike, text: str) -> Path:
    """Write text to `path` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
    return Path(path)


def atomic_write_json(path: PathLike, obj: Any) -> Path:
    """Write an object as indented JSON, atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def atomic_write_jsonl(path: PathLike, rows: Iterable[Any]) -> Path:
    """Write rows as JSON Lines, atomically."""
    return atomic_write_text(path, "".join(_line(r) for r in rows))


def _line(row: Any) -> str:
    return json.dumps(row, ensure_ascii=False) + "\n"


# ----------------------------------------------------------------------------------------------------------
# reading JSON Lines


def _check_file(path: Path, what: str) -> None:
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a {what}")
    if not path.is_file():
        raise DataError(f"{path}: no such {what}")


def iter_jsonl(path: PathLike, *, on_bad: Optional[Callable[[int, str], Any]] = None,
               what: str = "JSON Lines file") -> Iterator[tuple[int, Any]]:
    """Yield (line number, parsed value) for each non-blank line of a JSON Lines file.

    A line that is not JSON raises a DataError naming the file and the line, unless `on_bad(line, reason)` is
    given: its return value is then yielded in the line's place. Bytes that are not UTF-8 (a binary file) always
    raise, naming the file and the line.
    """
    path = Path(path)
    _check_file(path, what)
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(f"{path}, line {number}: not UTF-8 text (byte {exc.start + 1} of the line); "
                                f"expected a {what}, is this a binary file?") from None
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                reason = f"not valid JSON ({exc.msg}, column {exc.colno})"
                if on_bad is None:
                    raise RowError(f"{path}, line {number}: {reason}") from None
                yield number, on_bad(number, reason)


def read_jsonl(path: PathLike) -> list:
    """Read JSON Lines; a bad line raises an error naming the file and line number."""
    return [value for _, value in iter_jsonl(path)]


# ----------------------------------------------------------------------------------------------------------
# resumable append-only logs


class AppendLog:
    """A JSON Lines file that only grows: every `append` is flushed and fsynced before it returns.

    A crash can only cut the last line short. `repair` (called by `rows`) removes such an incomplete last line,
    so a resumed job sees exactly the records that were written whole and redoes the one that was not.
    """

    def __init__(self, path: PathLike, what: str = "JSON Lines file"):
        self.path = Path(path)
        self.what = what
        self.repaired_bytes = 0

    def repair(self) -> int:
        """Cut off an incomplete last line (no newline at the end); returns how many bytes were removed."""
        if not self.path.exists():
            return 0
        _check_file(self.path, self.what)
        size = self.path.stat().st_size
        if size == 0:
            return 0
        with open(self.path, "rb") as fh:
            fh.seek(size - 1)
            if fh.read(1) == b"\n":
                return 0
            fh.seek(0)
            keep = fh.read().rfind(b"\n") + 1
        with open(self.path, "r+b") as fh:
            fh.truncate(keep)
        self.repaired_bytes += size - keep
        return size - keep

    def rows(self) -> Iterator[tuple[int, Any]]:
        """(line number, record) of every complete record, after `repair`; no file means no records."""
        self.repair()
        if not self.path.exists():
            return iter(())
        return iter_jsonl(self.path, what=self.what)

    def append(self, records: Iterable[Any]) -> int:
        """Append records as one durable write (flush + fsync); returns how many were written."""
        lines = [_line(r) for r in records]
        if not lines:
            return 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write("".join(lines))
            fh.flush()
            os.fsync(fh.fileno())
        return len(lines)


# ----------------------------------------------------------------------------------------------------------
# content hashes


def content_hash(obj: Any, length: Optional[int] = 16) -> str:
    """A stable SHA-256 hex digest of a JSON value (keys sorted), cut to `length` characters (None: all 64)."""
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return digest if length is None else digest[:length]


def model_fingerprint(model: str) -> str:
    """A short content fingerprint of a local model folder (config and weight files); a hub name as given.

    Large weight files are sampled (name, size, first and last MiB), which tells apart any two trained models in
    practice and costs milliseconds for a 15 GB checkpoint.
    """
    path = Path(model)
    if not path.is_dir():
        return f"name:{model}"
    digest = hashlib.sha256()
    config = path / "config.json"
    if config.exists():
        digest.update(config.read_bytes())
    chunk = 1 << 20
    # the trainer's pickled arguments (training_args.bin) hold paths, not weights: two copies of one model agree
    for weights in sorted(p for p in path.iterdir() if p.suffix in (".safetensors", ".bin", ".pt")
                          and p.name != "training_args.bin"):
        size = weights.stat().st_size
        digest.update(f"{weights.name}|{size}".encode())
        with open(weights, "rb") as fh:
            digest.update(fh.read(chunk))
            if size > 2 * chunk:
                fh.seek(size - chunk)
                digest.update(fh.read(chunk))
    return "sha256:" + digest.hexdigest()[:16]


def file_sha256(path: PathLike) -> str:
    """The full SHA-256 of a file's bytes, as hex (what a downloaded or shipped file is identified by)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()
