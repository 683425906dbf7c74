"""Hugging Face model folders as seen by the merge: config.json, lazily memory-mapped safetensors
shards, and a streaming sharded safetensors writer.

Reading: every shard is checked with `safetensors.safe_open` (a corrupt or truncated file is an error
naming the file), then memory-mapped; `tensor(name)` is a zero-copy view on the mapping, and
`release(name)` drops the mapping's pages of a finished tensor (madvise DONTNEED), so the resident
set stays near one tensor even when a shard is gigabytes. Only .safetensors files are read: pickled
.bin checkpoints are refused.

Writing: the layout (names, dtypes, shapes, shard boundaries) is known before any tensor is computed,
so each shard's header is written first and every tensor's bytes go straight to their final offset
with `os.pwrite`, chunk by chunk and from several threads; nothing is buffered per shard.
"""
from __future__ import annotations

import json
import mmap
import os
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import torch

from definemed.errors import DefinemedError

ST_DTYPES = {
    "BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32, "F64": torch.float64,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool,
}
ST_NAMES = {v: k for k, v in ST_DTYPES.items()}
INDEX_NAME = "model.safetensors.index.json"
PAGE = mmap.PAGESIZE


def read_config(folder: Path) -> dict:
    f = Path(folder) / "config.json"
    if not f.is_file():
        raise DefinemedError(f"{folder}: no config.json (not a Hugging Face model folder)")
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DefinemedError(f"{f}: malformed JSON: {e.msg} (line {e.lineno})") from None


def text_config(cfg: dict) -> dict:
    """The decoder's config (multimodal configs nest it under text_config)."""
    return cfg.get("text_config", cfg) if "num_hidden_layers" not in cfg else cfg


def num_hidden_layers(folder: Path) -> int:
    cfg = text_config(read_config(folder))
    n = cfg.get("num_hidden_layers")
    if not isinstance(n, int):
        raise DefinemedError(f"{Path(folder) / 'config.json'}: key 'num_hidden_layers' missing or not an integer")
    return n


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: torch.dtype
    shape: tuple[int, ...]
    file: Path
    start: int
    """Absolute byte offset of the data in the file."""
    nbytes: int

    @property
    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n


def _read_header(file: Path) -> tuple[dict, int]:
    from safetensors import SafetensorError, safe_open

    try:  # the library's own validation: header JSON, dtypes, offsets within the file
        with safe_open(str(file), framework="pt") as f:
            f.keys()
    except (SafetensorError, OSError, ValueError) as e:
        raise DefinemedError(f"{file}: corrupt safetensors file ({str(e).splitlines()[0]})") from None
    with open(file, "rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(n))
    return header, 8 + n


class SafetensorsModel:
    """The tensors of one model folder, memory-mapped lazily (one mapping per shard)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.config = read_config(self.folder)
        index = self.folder / INDEX_NAME
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise DefinemedError(f"{index}: malformed index (needs a 'weight_map')") from None
            files = sorted(set(weight_map.values()))
        elif (self.folder / "model.safetensors").is_file():
            files = ["model.safetensors"]
        else:
            pickles = sorted(p.name for p in self.folder.glob("*.bin"))
            hint = f" (found {pickles[0]}: pickled checkpoints are never loaded; convert to safetensors)" if pickles else ""
            raise DefinemedError(f"{self.folder}: no model.safetensors or {INDEX_NAME}{hint}")
        self.tensors: dict[str, TensorInfo] = {}
        for name in files:
            file = self.folder / name
            if not file.is_file():
                raise DefinemedError(f"{index}: shard {name} is missing")
            header, data_start = _read_header(file)
            for key, meta in header.items():
                if key == "__metadata__":
                    continue
                if meta["dtype"] not in ST_DTYPES:
                    raise DefinemedError(f"{file}: tensor {key}: unsupported dtype {meta['dtype']}")
                b, e = meta["data_offsets"]
                self.tensors[key] = TensorInfo(key, ST_DTYPES[meta["dtype"]], tuple(meta["shape"]), file,
                                               data_start + b, e - b)
        self._maps: dict[Path, mmap.mmap] = {}
        self._lock = threading.Lock()

    def __contains__(self, name: str) -> bool:
        return name in self.tensors

    def _map(self, file: Path) -> mmap.mmap:
        with self._lock:
            m = self._maps.get(file)
            if m is None:
                with open(file, "rb") as fh:
                    # private copy-on-write mapping: writable for torch.frombuffer, never written
                    m = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)
                self._maps[file] = m
            return m

    def tensor(self, name: str) -> torch.Tensor:
        """A zero-copy flat view of a tensor's data in the memory-mapped file."""
        info = self.tensors[name]
        if info.numel == 0:
            return torch.empty(0, dtype=info.dtype)
        return torch.frombuffer(self._map(info.file), dtype=info.dtype, count=info.numel, offset=info.start)

    def release(self, name: str, start: int = 0, count: int | None = None) -> None:
        """Drop the mapped pages of a tensor (or of elements [start, start + count)) from this process's
        resident set; the page cache keeps them, so reading them again costs a minor fault only."""
        info = self.tensors[name]
        m = self._maps.get(info.file)
        if m is None or info.nbytes == 0:
            return
        item = info.dtype.itemsize
        b0 = info.start + start * item
        b1 = info.start + (info.nbytes if count is None else min(info.nbytes, (start + count) * item))
        b0 -= b0 % PAGE
        b1 = min(len(m), b1)
        if b1 <= b0:
            return
        try:
            m.madvise(mmap.MADV_DONTNEED, b0, b1 - b0)
        except (OSError, ValueError, AttributeError):
            pass

    def close(self) -> None:
        for m in self._maps.values():
            try:
                m.close()
            except BufferError:  # a caller still holds a view; the mapping goes with it
                pass
        self._maps.clear()


# -- writing -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OutTensor:
    name: str
    dtype: torch.dtype
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        n = self.dtype.itemsize
        for s in self.shape:
            n *= s
        return n


def _shard_names(n: int) -> list[str]:
    if n == 1:
        return ["model.safetensors"]
    return [f"model-{i + 1:05d}-of-{n:05d}.safetensors" for i in range(n)]


class ShardedWriter:
    """Preallocated safetensors shards; `write(name, byte_offset, tensor)` may be called from any thread.

    Tensors go to shards in the given order, a new shard starting when the next tensor would pass
    `max_shard_bytes` (HF naming: model.safetensors, or model-0000i-of-0000n.safetensors plus
    model.safetensors.index.json).
    """

    def __init__(self, folder: Path, tensors: Iterable[OutTensor], max_shard_bytes: int,
                 metadata: dict | None = None):
        self.folder = Path(folder)
        groups: list[list[OutTensor]] = [[]]
        size = 0
        for t in tensors:
            if groups[-1] and size + t.nbytes > max_shard_bytes:
                groups.append([])
                size = 0
            groups[-1].append(t)
            size += t.nbytes
        names = _shard_names(len(groups))
        self.location: dict[str, tuple[int, int, int]] = {}  # name -> (fd, data offset, nbytes)
        self.weight_map: dict[str, str] = {}
        self._fds: list[int] = []
        self.total_size = 0
        for file_name, group in zip(names, groups):
            header: dict = {"__metadata__": {"format": "pt", **(metadata or {})}}
            offset = 0
            for t in group:
                header[t.name] = {"dtype": ST_NAMES[t.dtype], "shape": list(t.shape),
                                  "data_offsets": [offset, offset + t.nbytes]}
                offset += t.nbytes
            blob = json.dumps(header, separators=(",", ":")).encode()
            blob += b" " * (-len(blob) % 8)  # data aligned to 8 bytes, as the safetensors library does
            path = self.folder / file_name
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
            self._fds.append(fd)
            os.pwrite(fd, struct.pack("<Q", len(blob)) + blob, 0)
            data_start = 8 + len(blob)
            os.ftruncate(fd, data_start + offset)
            for t in group:
                b = header[t.name]["data_offsets"][0]
                self.location[t.name] = (fd, data_start + b, t.nbytes)
                self.weight_map[t.name] = file_name
            self.total_size += offset
        self.n_shards = len(groups)
        self.files = names

    def write(self, name: str, byte_offset: int, tensor: torch.Tensor) -> None:
        """Write a contiguous CPU tensor's bytes at `byte_offset` within tensor `name`."""
        fd, start, nbytes = self.location[name]
        data = tensor.contiguous().reshape(-1).view(torch.uint8).numpy() if tensor.numel() else b""
        view = memoryview(data).cast("B") if len(data) else memoryview(b"")
        if byte_offset + len(view) > nbytes:
            raise ValueError(f"{name}: write past the end of the tensor")
        pos = start + byte_offset
        while len(view):
            n = os.pwrite(fd, view, pos)
            view, pos = view[n:], pos + n

    def close(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds = []
        if self.n_shards > 1:
            index = {"metadata": {"total_size": self.total_size}, "weight_map": dict(sorted(self.weight_map.items()))}
            (self.folder / INDEX_NAME).write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
