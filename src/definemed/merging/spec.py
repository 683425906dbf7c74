"""mergekit-style SLERP configuration: parse, validate (pydantic), normalise, and resolve t per tensor.

Supported YAML (the subset of mergekit 0.1.5's `MergeConfiguration` that SLERP uses):

    merge_method: slerp
    base_model: /abs/path/instruct          # t = 0 gives this model
    slices:                                 # or `models: [{model: A}, {model: B}]`
      - sources:
          - {model: /abs/path/instruct, layer_range: [0, 32]}
          - {model: /abs/path/cpt, layer_range: [0, 32]}
        base_model: ...                     # optional, per slice
        parameters: {t: ...}                # optional, overrides the global parameters
    parameters:
      t:                                    # a number, a list of anchors, or filter entries
        - {filter: self_attn, value: [0, 0.5, 0.3, 0.7, 1]}
        - {filter: mlp, value: [1, 0.5, 0.7, 0.3, 0]}
        - value: 0.5
    dtype: bfloat16                         # optional: compute/storage dtype of the inputs
    out_dtype: bfloat16                     # optional: dtype of the written tensors

Semantics follow mergekit: a list of anchors is interpolated linearly over the layer position
idx / (n - 1) within a slice (t = 1 for a one-layer slice); tensors outside the layers (embeddings,
final norm, lm_head) use position 0; a filter matches when it is a substring of the output tensor
name, `*` or no filter matches everything, the first matching entry wins, and slice parameters take
precedence over the global ones. t values are read as mergekit reads them (`5e-1` as a string is
0.5; t outside [0, 1] extrapolates). Known mergekit options that this merge does not implement are
rejected with an error naming the key (see docs/merging.md), never ignored.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union


from definemed.io import read_yaml_mapping
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, field_validator

from definemed.errors import DefinemedError

DTYPES = ("bfloat16", "float16", "float32", "float64")

# mergekit keys that exist but are not implemented here, with the reason shown in the error.
UNSUPPORTED = {
    "modules": "multi-module models are not supported; use slices or models",
    "tokenizer_source": "tokenizers are copied from the base model; mergekit's vocabulary path (even 'base') "
                        "remaps and merges embedding rows differently, which this merge does not implement",
    "tokenizer": "tokenizers are copied from the base model; vocabulary merging is not supported",
    "chat_template": "the chat template is copied from the base model",
    "residual_weight": "slice residual weights are not supported",
}
SOURCE_PARAMETERS = ("per-model parameters are not supported: t is a shared SLERP parameter (mergekit ignores "
                     "it here); put t under the slice's or the global `parameters`")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Conditional:
    """One entry of a t setting: a value (a number or a tuple of anchors) and an optional filter."""

    value: Union[float, tuple[float, ...]]
    filter: Optional[str] = None

    def matches(self, tensor_name: str) -> bool:
        return self.filter is None or self.filter == "*" or self.filter in tensor_name

    def to_yaml(self) -> Any:
        v = list(self.value) if isinstance(self.value, tuple) else self.value
        return {"value": v} if self.filter is None else {"filter": self.filter, "value": v}


_FLOAT = TypeAdapter(float)


def _number(x: Any, where: str) -> float:
    """A t value read as mergekit reads it (pydantic's float: numbers, booleans and numeric strings
    such as `5e-1`, which YAML 1.1 loads as a string). t outside [0, 1] extrapolates, as in mergekit;
    only a non-finite t cannot give weights."""
    if isinstance(x, (list, dict)) or x is None:
        raise ValueError(f"{where}: expected a number, got {x!r}")
    try:
        v = _FLOAT.validate_python(x)
    except ValidationError:
        raise ValueError(f"{where}: expected a number, got {x!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{where}: t = {x!r} is not a finite number")
    return v


def _value(x: Any, where: str) -> Union[float, tuple[float, ...]]:
    if isinstance(x, list):
        if not x:
            raise ValueError(f"{where}: an empty list of anchors")
        return tuple(_number(v, f"{where}[{i}]") for i, v in enumerate(x))
    return _number(x, where)


def parse_t(raw: Any) -> tuple[Conditional, ...]:
    """A mergekit t setting -> ordered filter entries (a plain value becomes one unfiltered entry)."""
    if isinstance(raw, dict):
        raw = [raw]
    if isinstance(raw, list) and raw and all(isinstance(e, dict) for e in raw):
        out = []
        for i, e in enumerate(raw):
            extra = set(e) - {"filter", "value"}
            if extra:
                raise ValueError(f"t[{i}]: unknown key '{sorted(extra)[0]}' (entries take filter and value)")
            if "value" not in e:
                raise ValueError(f"t[{i}]: missing key 'value'")
            flt = e.get("filter")
            if flt is not None and not isinstance(flt, str):
                raise ValueError(f"t[{i}].filter: expected a string, got {flt!r}")
            out.append(Conditional(_value(e["value"], f"t[{i}].value"), flt))
        return tuple(out)
    if isinstance(raw, list) and any(isinstance(e, dict) for e in raw):
        raise ValueError("t: mixes filter entries and plain numbers")
    return (Conditional(_value(raw, "t")),)


class Parameters(_Strict):
    t: tuple[Conditional, ...]

    @field_validator("t", mode="before")
    @classmethod
    def _t(cls, v):
        return parse_t(v)


class SourceDef(_Strict):
    model: str
    layer_range: tuple[int, int]

    @field_validator("layer_range")
    @classmethod
    def _range(cls, v):
        if v[0] < 0 or v[1] <= v[0]:
            raise ValueError(f"layer_range {list(v)} must be [start, end) with 0 <= start < end")
        return v


class SliceDef(_Strict):
    sources: list[SourceDef]
    base_model: Optional[str] = None
    parameters: Optional[Parameters] = None


class ModelDef(_Strict):
    model: str


class RawSpec(_Strict):
    merge_method: str
    base_model: Optional[str] = None
    slices: Optional[list[SliceDef]] = None
    models: Optional[list[ModelDef]] = None
    parameters: Optional[Parameters] = None
    dtype: Optional[str] = None
    out_dtype: Optional[str] = None

    @field_validator("merge_method")
    @classmethod
    def _method(cls, v):
        if v != "slerp":
            raise ValueError(f"merge method '{v}' is not supported (supported: slerp)")
        return v

    @field_validator("dtype", "out_dtype")
    @classmethod
    def _dtype(cls, v):
        if v is None:
            return v
        name = v.removeprefix("torch.")
        if name not in DTYPES:
            raise ValueError(f"dtype '{v}' is not one of {', '.join(DTYPES)}")
        return name


# -- the normalised form -----------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    model: Path
    start: int
    end: int


@dataclass(frozen=True)
class Slice:
    """One output slice after normalisation: the base source, the other source, its t settings."""

    base: Source
    other: Source
    parameters: Optional[tuple[Conditional, ...]]
    own_base: bool = False
    """The slice named its own base_model (written back to the normalised config)."""

    @property
    def n_layers(self) -> int:
        return self.base.end - self.base.start


@dataclass(frozen=True)
class MergeSpec:
    base_model: Path
    other_model: Path
    slices: tuple[Slice, ...]
    parameters: Optional[tuple[Conditional, ...]]
    dtype: Optional[str] = None
    out_dtype: Optional[str] = None
    source: str = "<dict>"
    """The file (or '<dict>') the spec came from, for error messages."""
    raw: dict = field(default_factory=dict, compare=False)

    @property
    def models(self) -> tuple[Path, Path]:
        return (self.base_model, self.other_model)

    @property
    def n_layers_out(self) -> int:
        return sum(s.n_layers for s in self.slices)

    def to_mergekit(self) -> dict:
        """The normalised config as mergekit YAML data (absolute paths, explicit slices)."""
        def params(p):
            return None if p is None else {"t": [c.to_yaml() for c in p]}

        out: dict[str, Any] = {"merge_method": "slerp", "base_model": str(self.base_model), "slices": []}
        for s in self.slices:
            d: dict[str, Any] = {"sources": [
                {"model": str(s.base.model), "layer_range": [s.base.start, s.base.end]},
                {"model": str(s.other.model), "layer_range": [s.other.start, s.other.end]},
            ]}
            if s.own_base or s.base.model != self.base_model:
                d["base_model"] = str(s.base.model)
            if s.parameters is not None:
                d["parameters"] = params(s.parameters)
            out["slices"].append(d)
        if self.parameters is not None:
            out["parameters"] = params(self.parameters)
        if self.dtype:
            out["dtype"] = self.dtype
        if self.out_dtype:
            out["out_dtype"] = self.out_dtype
        return out


def _find_unsupported(raw: Any, where: str = "") -> Optional[tuple[str, str]]:
    if isinstance(raw, dict):
        for k, v in raw.items():
            key = f"{where}.{k}" if where else str(k)
            if k in UNSUPPORTED:
                return key, UNSUPPORTED[k]
            if k == "parameters" and (where.split(".")[-2:-1] in (["sources"], ["models"])):
                return key, SOURCE_PARAMETERS
            if k == "parameters" and isinstance(v, dict):
                for p in v:
                    if p != "t":
                        return f"{key}.{p}", "SLERP takes only the parameter t"
            found = _find_unsupported(v, key)
            if found:
                return found
    elif isinstance(raw, list):
        for i, v in enumerate(raw):
            found = _find_unsupported(v, f"{where}.{i}")
            if found:
                return found
    return None


def _format(source: str, err: dict) -> str:
    key = ".".join(str(x) for x in err["loc"]) or "<root>"
    if err["type"] == "extra_forbidden":
        return f"{source}: unknown key '{key}'"
    if err["type"] == "missing":
        return f"{source}: missing key '{key}'"
    msg = err["msg"].removeprefix("Value error, ")
    return f"{source}: key '{key}': {msg}"


def _model_path(ref: str, source: str, key: str) -> Path:
    if "+" in ref:
        raise DefinemedError(f"{source}: key '{key}': LoRA references ('model+lora') are not supported")
    p = Path(os.path.expanduser(ref))
    p = p if p.is_absolute() else Path.cwd() / p  # as mergekit: relative to the working directory
    if not p.is_dir():
        raise DefinemedError(f"{source}: key '{key}': '{ref}' is not a local model folder "
                             "(hub IDs are not downloaded at merge time)")
    return p.resolve()


def read_yaml(path: str | os.PathLike) -> dict:
    return read_yaml_mapping(path, "merge config")


def load_spec(config: str | os.PathLike | dict, num_layers=None) -> MergeSpec:
    """Validate a mergekit-style SLERP config (a YAML path or its data) and normalise it.

    `num_layers(path) -> int` gives a model's layer count (needed for the `models:` form); by default
    it is read from the model folder's config.json.
    """
    if isinstance(config, dict):
        raw, source = config, "<merge config>"
    else:
        raw, source = read_yaml(config), str(config)
    bad = _find_unsupported(raw)
    if bad:
        raise DefinemedError(f"{source}: key '{bad[0]}': {bad[1]}")
    try:
        spec = RawSpec.model_validate(raw)
    except ValidationError as e:
        raise DefinemedError(_format(source, e.errors()[0])) from None
    if num_layers is None:
        from definemed.merging.hf_folder import num_hidden_layers as num_layers

    if bool(spec.slices) == bool(spec.models):
        raise DefinemedError(f"{source}: exactly one of 'slices' or 'models' must be given")
    base = _model_path(spec.base_model, source, "base_model") if spec.base_model else None
    slices: list[Slice] = []
    if spec.models:
        paths = [_model_path(m.model, source, f"models.{i}.model") for i, m in enumerate(spec.models)]
        if base is not None and base not in paths:
            paths.append(base)  # mergekit adds a base model missing from `models`
        if base is None:
            raise DefinemedError(f"{source}: missing key 'base_model' (SLERP interpolates from the base model)")
        if len(paths) != 2 or len(set(paths)) != 2:
            raise DefinemedError(f"{source}: key 'models': SLERP merges exactly two models, "
                                 f"got {len(set(paths))} distinct")
        other = next(p for p in paths if p != base)
        nb, no = num_layers(base), num_layers(other)
        if nb != no:
            raise DefinemedError(f"{other}: {no} layers, but the base model {base} has {nb}; "
                                 "use slices with layer_range")
        slices.append(Slice(Source(base, 0, nb), Source(other, 0, no), None))
    else:
        for i, s in enumerate(spec.slices):
            key = f"slices.{i}"
            sb = _model_path(s.base_model, source, f"{key}.base_model") if s.base_model else base
            if sb is None:
                raise DefinemedError(f"{source}: missing key 'base_model' (SLERP interpolates from the base model)")
            if len(s.sources) != 2:
                raise DefinemedError(f"{source}: key '{key}.sources': SLERP takes exactly two sources, "
                                     f"got {len(s.sources)}")
            srcs = [Source(_model_path(src.model, source, f"{key}.sources.{j}.model"), *src.layer_range)
                    for j, src in enumerate(s.sources)]
            for j, src in enumerate(srcs):
                n = num_layers(src.model)
                if src.end > n:
                    raise DefinemedError(f"{source}: key '{key}.sources.{j}.layer_range': "
                                         f"[{src.start}, {src.end}] exceeds the {n} layers of {src.model}")
            if srcs[0].end - srcs[0].start != srcs[1].end - srcs[1].start:
                raise DefinemedError(f"{source}: key '{key}.sources': all sources of a slice need the same "
                                     "number of layers")
            bases = [src for src in srcs if src.model == sb]
            if len(bases) != 1:
                raise DefinemedError(f"{source}: key '{key}.sources': exactly one source must be the base "
                                     f"model {sb}, found {len(bases)}")
            other = next(src for src in srcs if src.model != sb)
            slices.append(Slice(bases[0], other, s.parameters.t if s.parameters else None,
                                own_base=s.base_model is not None))
        # as in mergekit, a slice may name its own base_model: the same two models with the roles
        # swapped (t = 0 is then the other model in that slice); a third model is not SLERP
        pairs = {frozenset((s.base.model, s.other.model)) for s in slices}
        if len(pairs) != 1:
            raise DefinemedError(f"{source}: key 'slices': all slices must merge the same two models "
                                 "(a slice's base_model may swap their roles)")
        # the global base model (else the first slice's) gives the config, tokenizer and model card
        if base is not None and base not in next(iter(pairs)):
            raise DefinemedError(f"{source}: key 'base_model': {base} is neither of the two merged models "
                                 "(the config and tokenizer are copied from the base model)")
        base = base or slices[0].base.model
    other = next(m for m in (slices[0].base.model, slices[0].other.model) if m != base)
    return MergeSpec(base_model=base, other_model=other, slices=tuple(slices),
                     parameters=spec.parameters.t if spec.parameters else None, dtype=spec.dtype,
                     out_dtype=spec.out_dtype, source=source, raw=raw)


# -- resolving t ---------------------------------------------------------------------------------
def interpolate(value: Union[float, tuple[float, ...]], pos: float) -> float:
    """mergekit's gradient: anchors spread evenly over [0, 1], linear in between."""
    if not isinstance(value, tuple):
        return value
    scaled = pos * (len(value) - 1)
    i0 = int(scaled)
    i1 = min(len(value) - 1, i0 + 1)
    frac = scaled - i0
    return float((1 - frac) * value[i0] + frac * value[i1])


def evaluate(setting: Optional[tuple[Conditional, ...]], tensor_name: str, pos: float) -> Optional[float]:
    if setting is None:
        return None
    for cond in setting:
        if cond.matches(tensor_name):
            return interpolate(cond.value, pos)
    return None


def resolve_t(spec: MergeSpec, slice_index: int, tensor_name: str, pos: float) -> float:
    """t of one output tensor: slice parameters first, then the global ones (first matching filter)."""
    for setting in (spec.slices[slice_index].parameters, spec.parameters):
        v = evaluate(setting, tensor_name, pos)
        if v is not None:
            return v
    raise DefinemedError(f"{spec.source}: key 'parameters.t': no value applies to tensor {tensor_name} "
                         "(add an entry without a filter as the default)")


def layer_position(idx: int, n_layers: int) -> float:
    """mergekit: the position of layer idx within its slice, for interpolating anchors."""
    return idx / (n_layers - 1) if n_layers > 1 else 1.0
