"""Spherical linear interpolation of two weight tensors, exactly as mergekit 0.1.5 computes it.

    slerp(t, v0, v1) = sin((1 - t) θ) / sin θ · v0 + sin(t θ) / sin θ · v1,
    θ = arccos(<v0/|v0|, v1/|v1|>)

with the whole tensor treated as one vector. Like mergekit (`mergekit/merge_methods/slerp.py`):
- arithmetic is float32 (float64 if the inputs are float64), the result has the inputs' dtype;
- the norms and the dot product of the normalised vectors are accumulated over chunks of 2^20
  elements, in the same order, so results agree bit for bit when the reductions run alike;
- norms at or below `eps` count as 1; the dot product is clamped to [-1, 1];
- when |cos θ| > `dot_threshold` (nearly colinear or nearly antipodal inputs) it falls back to
  linear interpolation (1 - t) v0 + t v1;
- the inputs are *not* rescaled: the coefficients multiply the raw tensors, so the result's norm is
  interpolated along with its direction (mergekit's "rescaling").

`slerp` is the pure function; `SlerpPlan` exposes the three passes (norms, dot, combine) so the merge
driver can stream a tensor chunk by chunk from memory-mapped files and write each chunk out at once.
"""
from __future__ import annotations

import threading
from typing import Callable

import torch

CHUNK_ELEMENTS = 1024 * 1024
"""mergekit's `_CHUNK_ELEMENTS`: bounds the float32 scratch per pass and fixes the reduction order."""
DOT_THRESHOLD = 0.9995
EPS = 1e-8

_scratch = threading.local()


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _buffers(dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Two [1, CHUNK_ELEMENTS] scratch tensors, one pair per thread, dtype and device, reused by every
    chunk of every tensor the thread merges: no allocation per chunk, and a thread's memory stays at
    2 chunks (8 MB in float32) whatever the tensor's size."""
    key = (dtype, device)
    bufs = getattr(_scratch, "bufs", None)
    if bufs is None:
        bufs = _scratch.bufs = {}
    if key not in bufs:
        bufs[key] = (torch.empty(1, CHUNK_ELEMENTS, dtype=dtype, device=device),
                     torch.empty(1, CHUNK_ELEMENTS, dtype=dtype, device=device))
    return bufs[key]


class SlerpPlan:
    """SLERP of two flat tensors of equal length, in three chunked passes.

    `a`, `b`: 1-D views (any floating dtype, same dtype, possibly memory-mapped); `t` in [0, 1].
    Every pass converts each chunk into the calling thread's reused float32 scratch (`_buffers`) and
    works in place there; the arithmetic and its order are mergekit's, so the results are the same.
    `release(start, count)`: called after each chunk of a pass over the inputs has been used.
    `on_non_finite()`: called when a norm comes out NaN / Inf (an input holds NaN / Inf, or finite
    values so large their squares overflow); the merge driver locates the element and raises there,
    so a separate finiteness pass over the inputs is not needed.
    """

    def __init__(self, t: float, a: torch.Tensor, b: torch.Tensor, *, storage_dtype: torch.dtype | None = None,
                 device: torch.device | str | None = None,
                 dot_threshold: float = DOT_THRESHOLD, eps: float = EPS,
                 release: Callable[[int, int], None] | None = None,
                 on_non_finite: Callable[[], None] | None = None):
        if a.shape != b.shape or a.dim() != 1:
            raise ValueError(f"slerp needs two flat tensors of equal length, got {tuple(a.shape)} and {tuple(b.shape)}")
        if not (a.is_floating_point() and b.is_floating_point()):
            raise TypeError("SLERP requires floating-point tensors")
        # mergekit converts both inputs to the configured dtype, or promotes them to a common one
        self.storage_dtype = storage_dtype or torch.promote_types(a.dtype, b.dtype)
        self.a, self.b = a, b
        self.n = a.numel()
        self.dtype = compute_dtype(self.storage_dtype)
        self.device = torch.device(device) if device is not None else a.device
        # mergekit: t = torch.tensor([t]) in the coefficient dtype, reshaped to [outputs, 1]
        self.t = torch.tensor([t], dtype=self.dtype, device=self.device).reshape(-1, 1)
        self.dot_threshold, self.eps = dot_threshold, eps
        self.release = release
        self.on_non_finite = on_non_finite
        self.coef_a: torch.Tensor | None = None
        self.coef_b: torch.Tensor | None = None
        self.cos: float = float("nan")
        self.linear: bool = False

    def _load(self, v: torch.Tensor, buf: torch.Tensor) -> torch.Tensor:
        x = buf[:, :v.numel()]
        x.copy_(v.to(self.device).to(self.storage_dtype).reshape(1, -1))  # mergekit's rounding to the storage dtype
        return x

    # -- passes ----------------------------------------------------------------------------
    def _chunks(self):
        """The float32 chunks [1, C] of a and b, in order, in the thread's scratch (valid until the next)."""
        bx, by = _buffers(self.dtype, self.device)
        for start in range(0, self.n, CHUNK_ELEMENTS):
            x = self._load(self.a[start:start + CHUNK_ELEMENTS], bx)
            y = self._load(self.b[start:start + CHUNK_ELEMENTS], by)
            yield x, y
            if self.release is not None:  # e.g. drop a memory-mapped chunk's pages once it is used
                self.release(start, CHUNK_ELEMENTS)

    def coefficients(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Passes 1 and 2: the norms, the dot product of the directions, and the two coefficients."""
        if self.coef_a is not None:
            return self.coef_a, self.coef_b
        t = self.t
        if self.n == 0:
            self.coef_a, self.coef_b = 1 - t, t
            return self.coef_a, self.coef_b
        norm_a_parts, norm_b_parts = [], []
        for x, y in self._chunks():
            norm_a_parts.append(torch.linalg.vector_norm(x, dim=1, keepdim=True))
            norm_b_parts.append(torch.linalg.vector_norm(y, dim=1, keepdim=True))
        norm_a = torch.linalg.vector_norm(torch.stack(norm_a_parts), dim=0)
        norm_b = torch.linalg.vector_norm(torch.stack(norm_b_parts), dim=0)
        if self.on_non_finite is not None and not bool(torch.isfinite(norm_a + norm_b).all()):
            self.on_non_finite()
        norm_a = torch.where(norm_a > self.eps, norm_a, 1)
        norm_b = torch.where(norm_b > self.eps, norm_b, 1)
        dot_parts = []
        for x, y in self._chunks():
            # mergekit: ((x / norm_a) * (y / norm_b)).sum(dim=1); in place, the same roundings
            dot_parts.append(x.div_(norm_a).mul_(y.div_(norm_b)).sum(dim=1, keepdim=True))
        dot = torch.stack(dot_parts).sum(dim=0).clamp(-1, 1)
        linear = dot.abs() > self.dot_threshold
        theta = torch.acos(torch.where(linear, 0, dot))
        sin_theta = torch.sin(theta)
        self.coef_a = torch.where(linear, 1 - t, torch.sin((1 - t) * theta) / sin_theta)
        self.coef_b = torch.where(linear, t, torch.sin(t * theta) / sin_theta)
        self.cos = float(dot.item())
        self.linear = bool(linear.item())
        return self.coef_a, self.coef_b

    def combine(self, write: Callable[[int, torch.Tensor], None]) -> None:
        """Pass 3: `write(start, chunk)` receives each float32 result chunk coef_a·x + coef_b·y (flat; the
        chunk is scratch, valid only during the call)."""
        coef_a, coef_b = self.coefficients()
        start = 0
        for x, y in self._chunks():
            # same roundings as mergekit's `coef_a * x + coef_b * y` (no fused multiply-add)
            r = x.mul_(coef_a).add_(y.mul_(coef_b))
            write(start, r.reshape(-1))
            start += r.numel()


def slerp(t: float, v0: torch.Tensor, v1: torch.Tensor, dot_threshold: float = DOT_THRESHOLD,
          eps: float = EPS) -> torch.Tensor:
    """SLERP from `v0` (t = 0) to `v1` (t = 1), the pure function: the result has v0's shape and the
    inputs' dtype (promoted to a common one if they differ, as mergekit does)."""
    if v0.shape != v1.shape:
        raise ValueError(f"slerp: shapes differ: {tuple(v0.shape)} vs {tuple(v1.shape)}")
    plan = SlerpPlan(t, v0.reshape(-1), v1.reshape(-1), dot_threshold=dot_threshold, eps=eps)
    out = torch.empty(v0.numel(), dtype=plan.storage_dtype, device=plan.device)

    def write(start: int, chunk: torch.Tensor) -> None:
        out[start:start + chunk.numel()] = chunk

    plan.combine(write)
    return out.reshape(v0.shape)
