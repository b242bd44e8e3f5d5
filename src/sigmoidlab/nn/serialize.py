"""``save``/``load``: a model as an ``.npz`` of its arrays plus JSON describing the architecture. No pickle.

The archive holds one array per parameter (``"0.W"``, ...) and per batch-norm running statistic
(``"1.running_mean"``, ...), and ``__sigmoidlab__``: UTF-8 JSON (as uint8 bytes) with the format name and
version, the dtype, the layer list, the user's metadata, and the SHA-256 of every array (names, dtypes, shapes
and bytes), so a truncated, edited or foreign file is refused with a ``ValueError`` naming it. Loading uses
``allow_pickle=False``: a file cannot run code.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_output
from .layers import (
    ACTIVATIONS,
    BatchNorm1d,
    Dense,
    Dropout,
    Identity,
    LeakyReLU,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
)

FORMAT, VERSION = "sigmoidlab.nn", 1
_META_KEY = "__sigmoidlab__"
_LAYER_TYPES = {cls.__name__: cls for cls in (Dense, BatchNorm1d, Dropout, Sigmoid, Tanh, ReLU, LeakyReLU, Identity)}
assert set(ACTIVATIONS.values()) <= set(_LAYER_TYPES.values())


def _arrays(model: Sequential) -> dict[str, np.ndarray]:
    arrays = {p.name: p.value for p in model.parameters()}
    for i, layer in enumerate(model.layers):
        if isinstance(layer, BatchNorm1d):
            arrays[f"{i}.running_mean"], arrays[f"{i}.running_var"] = layer.running_mean, layer.running_var
    return arrays


def _digest(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save(model: Sequential, path: str | os.PathLike, metadata: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (and JSON-serialisable ``metadata``) to ``path`` atomically; return the path.

    The file is written to a temporary file in the same directory and renamed over ``path``, so a failure
    never leaves a half-written model.
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"save(): expected an nn.Sequential model, got {type(model).__name__}")
    path = Path(path)
    arrays = _arrays(model)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "dtype": str(model.dtype),
        "layers": model.config()["layers"],
        "metadata": {} if metadata is None else metadata,
        "sha256": _digest(arrays),
    }
    try:
        blob = json.dumps(header, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"save(): metadata must be JSON-serialisable (finite numbers, str, lists, dicts): {exc}"
        ) from None
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **{_META_KEY: np.frombuffer(blob, dtype=np.uint8)}, **arrays)
    return path


def load(path: str | os.PathLike) -> tuple[Sequential, dict[str, Any]]:
    """Read a model written by :func:`save`; return ``(model, metadata)``. The model is in evaluation mode.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file for anything that is not
    an intact sigmoidlab model (not a zip/npz, truncated, foreign, edited, or an unsupported version).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")

    def bad(why: str) -> ValueError:
        return ValueError(f"{path}: not a valid sigmoidlab model file ({why})")

    try:
        # Our own handle: np.load leaves its file open when the archive is damaged.
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as npz:
            contents = {name: npz[name] for name in npz.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise bad(f"cannot read it as .npz: {exc}") from None
    if _META_KEY not in contents:
        raise bad("no sigmoidlab header")
    try:
        header = json.loads(contents.pop(_META_KEY).tobytes().decode())
        if header.get("format") != FORMAT:
            raise bad(f"format is {header.get('format')!r}")
        if header.get("version") != VERSION:
            raise bad(f"unsupported version {header.get('version')!r}, this sigmoidlab reads version {VERSION}")
        if header.get("sha256") != _digest(contents):
            raise bad("checksum mismatch: the arrays were modified or damaged")
        model = _build(header["layers"], header["dtype"])
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise bad(f"damaged header: {exc!r}") from None
    except ValueError as exc:
        raise (exc if str(exc).startswith(str(path)) else bad(str(exc))) from None
    expected = _arrays(model)
    if set(expected) != set(contents):
        raise bad(f"arrays {sorted(contents)} do not match the architecture, which needs {sorted(expected)}")
    for name, target in expected.items():
        if contents[name].shape != target.shape or contents[name].dtype != target.dtype:
            raise bad(f"array {name!r} has shape {contents[name].shape} and dtype {contents[name].dtype}")
        target[...] = contents[name]
    return model.eval(), header.get("metadata", {})


def _build(layers: list[dict[str, Any]], dtype: str) -> Sequential:
    built = []
    for spec in layers:
        spec = dict(spec)
        cls = _LAYER_TYPES.get(spec.pop("type", None))
        if cls is None:
            raise ValueError(f"unknown layer type in {spec!r}")
        if cls is Dense:
            spec.pop("init", None)
            built.append(Dense(**spec, init="standard", dtype=dtype, seed=0))
        elif cls is BatchNorm1d:
            built.append(BatchNorm1d(**spec, dtype=dtype))
        else:
            built.append(cls(**spec))
    return Sequential(built)
