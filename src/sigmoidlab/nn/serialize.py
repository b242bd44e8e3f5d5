"""``save``/``load``: a model as an ``.npz`` of its arrays plus JSON describing the architecture. No pickle.

The archive (uncompressed, as ``np.savez`` writes it) holds one array per parameter (``"0.W"``, ...) and per
batch-norm running statistic (``"1.running_mean"``, ...), and ``__sigmoidlab__``: UTF-8 JSON (as uint8 bytes)
with the format name and version, the dtype, the layer list, the user's metadata, and ``sha256``: the SHA-256 of
the canonical JSON of everything else in the header (sorted keys, no spaces) followed by every array (name,
dtype, shape and bytes). Editing anything (a weight, an activation, a class name, the standardiser's scale) is
therefore refused, as are truncated and foreign files, each with one ``ValueError`` naming the file. It is a
checksum, not a signature: it catches damage and hand edits, not someone who recomputes it on purpose.

Loading allocates nothing the file does not justify: the header's size, its JSON types, the layer list (sizes
that chain, a total below :data:`MAX_PARAMETERS`) and every array's declared dtype and shape (checked against
the layer list and against the bytes actually present in the archive) are validated before any array is read.
Arrays are read as raw bytes, never through pickle: a file cannot run code.

Version 1 files (whose checksum covered the arrays only) are refused with a message saying to retrain: their
header cannot be verified, and accepting them would let an edited header through.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_output
from .layers import BatchNorm1d, Dense, Dropout
from .registry import ACTIVATIONS
from .sequential import Sequential

FORMAT, VERSION = "sigmoidlab.nn", 2
_META_KEY = "__sigmoidlab__"
# Every activation the registry knows can be saved; a new one needs no change here (its config() is its spec).
_LAYER_TYPES = {cls.__name__: cls for cls in (Dense, BatchNorm1d, Dropout, *ACTIVATIONS.values())}
#: Largest model :func:`load` accepts: 2**27 parameters and statistics (1 GiB in float64).
MAX_PARAMETERS = 2**27
MAX_HEADER_BYTES = 16 * 2**20  # the JSON header, metadata included
MAX_LAYERS = 10_000
_DTYPES = {"float32": np.dtype("<f4"), "float64": np.dtype("<f8")}


class _Bad(ValueError):
    """Why a file is refused; :func:`load` adds the file name."""


def _canonical(header: dict[str, Any]) -> bytes:
    body = {k: v for k, v in header.items() if k != "sha256"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def _digest(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 of the canonical header (without its ``sha256``) and of every array's name, dtype, shape, bytes."""
    h = hashlib.sha256(_canonical(header))
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"|{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save(model: Sequential, path: str | os.PathLike, metadata: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (and JSON-serialisable ``metadata``) to ``path`` atomically; return the path.

    The file is written to a temporary file in the same directory and renamed over ``path``, so a failure
    never leaves a half-written model; ``path`` must be a regular file or a new path (see ``_atomic``).
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"save(): expected an nn.Sequential model, got {type(model).__name__}")
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(f"save(): metadata must be a dict, got {type(metadata).__name__}")
    path = Path(path)
    arrays = {
        name: np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")) for name, a in model.state_arrays().items()
    }
    header = {
        "format": FORMAT,
        "version": VERSION,
        "dtype": str(model.dtype),
        "layers": model.config()["layers"],
        "metadata": {} if metadata is None else metadata,
    }
    try:
        # The checksum is taken over the header as load() will see it: after a JSON round trip.
        header = json.loads(json.dumps(header, allow_nan=False))
        header["sha256"] = _digest(header, arrays)
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
    an intact sigmoidlab model (not a regular file, not a zip/npz, truncated, foreign, edited, too large, or an
    unsupported version).
    """
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"model file not found: {path}") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the model file ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{path}: not a valid sigmoidlab model file (not a regular file)")
    try:
        with open(path, "rb") as f:
            header, contents = _read(f, info.st_size)
        model = _build(header["layers"], header["dtype"])
    except _Bad as exc:
        raise ValueError(f"{path}: not a valid sigmoidlab model file ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise ValueError(f"{path}: not a valid sigmoidlab model file (cannot read it as .npz: {exc})") from None
    for name, target in model.state_arrays().items():
        target[...] = contents[name]
    return model.eval(), header["metadata"]


def _read(f, size: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Validate the archive in ``f`` and return its checked header and arrays."""
    try:
        archive = zipfile.ZipFile(f)
    except zipfile.BadZipFile:
        raise _Bad("not a zip/npz archive") from None
    with archive:
        members = _members(archive, size)
        if _META_KEY not in members:
            raise _Bad("no sigmoidlab header")
        header = _parse_header(_read_member(archive, members.pop(_META_KEY), np.dtype("u1"), None))
        dtype = _DTYPES[header["dtype"]]
        expected = _expected_arrays(header["layers"])
        if set(members) != set(expected):
            raise _Bad(f"arrays {sorted(members)} do not match the architecture, which needs {sorted(expected)}")
        contents = {name: _read_member(archive, members[name], dtype, shape) for name, shape in expected.items()}
    if header["sha256"] != _digest(header, contents):
        raise _Bad("checksum mismatch: the header or the arrays were modified or damaged")
    return header, contents


def _members(archive: zipfile.ZipFile, size: int) -> dict[str, zipfile.ZipInfo]:
    """``{array name: ZipInfo}``; every member uncompressed, no larger than the file, named once."""
    infos = archive.infolist()
    if len(infos) > 4 * MAX_LAYERS:
        raise _Bad(f"{len(infos)} members")
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename.removesuffix(".npy")
        if name == info.filename or name in members:
            raise _Bad(f"unexpected member {info.filename!r}")
        # Stored members hold their bytes in the file: a size they declare but the file lacks is refused here,
        # before anything is allocated (a compressed member could declare any size).
        if info.compress_type != zipfile.ZIP_STORED:
            raise _Bad(f"member {info.filename!r} is compressed (sigmoidlab writes uncompressed .npz)")
        if info.file_size > size or info.header_offset + info.file_size > size:
            raise _Bad(f"member {info.filename!r} declares {info.file_size} bytes, more than the file holds")
        members[name] = info
    return members


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, dtype: np.dtype, shape) -> np.ndarray:
    """One ``.npy`` member: its header must declare ``dtype`` and ``shape`` (any 1-D shape when None)."""
    with archive.open(info) as fp:
        try:
            version = np.lib.format.read_magic(fp)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
            if version not in read_header:
                raise _Bad(f"array {info.filename!r}: unsupported .npy version {version}")
            declared, fortran, declared_dtype = read_header[version](fp)
        except (ValueError, SyntaxError, RecursionError, MemoryError, TypeError) as exc:
            raise _Bad(f"array {info.filename!r}: damaged .npy header ({str(exc)[:80]})") from None
        if declared_dtype != dtype or declared_dtype.hasobject:
            raise _Bad(f"array {info.filename!r} has dtype {declared_dtype}, expected {dtype}")
        if shape is None and len(declared) != 1:
            raise _Bad(f"array {info.filename!r} has shape {declared}, expected one dimension")
        if shape is not None and declared != shape:
            raise _Bad(f"array {info.filename!r} has shape {declared}, the layer list needs {shape}")
        nbytes = math.prod(declared) * dtype.itemsize
        if nbytes != info.file_size - fp.tell() or (shape is None and nbytes > MAX_HEADER_BYTES):
            raise _Bad(f"array {info.filename!r}: {info.file_size - fp.tell()} bytes of data for shape {declared}")
        data = fp.read(nbytes)
    if len(data) != nbytes:
        raise _Bad(f"array {info.filename!r} is truncated")
    return np.frombuffer(data, dtype=dtype).reshape(declared, order="F" if fortran else "C")


def _refuse_constant(name: str) -> None:
    raise _Bad(f"the header contains {name}, which JSON does not allow")


def _parse_header(raw: np.ndarray) -> dict[str, Any]:
    """The JSON header, with every field's type checked (the layer list is checked by ``_expected_arrays``)."""
    try:
        header = json.loads(raw.tobytes().decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise _Bad(f"damaged header: {str(exc)[:120]}") from None
    if not isinstance(header, dict):
        raise _Bad(f"the header is a JSON {type(header).__name__}, not an object")
    if header.get("format") != FORMAT:
        raise _Bad(f"format is {str(header.get('format'))[:40]!r}")
    version = header.get("version")
    if version == 1:
        raise _Bad(
            "version 1, written by an older sigmoidlab whose checksum does not cover the header, so the file "
            "cannot be verified: train the model again and save it with this version"
        )
    if version != VERSION:
        raise _Bad(f"unsupported version {str(version)[:20]}, this sigmoidlab reads version {VERSION}")
    expected_types = {"dtype": str, "layers": list, "metadata": dict, "sha256": str}
    for key, kind in expected_types.items():
        if not isinstance(header.get(key), kind):
            raise _Bad(f"header field {key!r} must be a JSON {_JSON_NAMES[kind]}, got {type(header.get(key)).__name__}")
    if header["dtype"] not in _DTYPES:
        raise _Bad(f"dtype {header['dtype'][:20]!r} is not float32 or float64")
    return header


_JSON_NAMES = {str: "string", list: "array", dict: "object", int: "integer", float: "number"}


def _int(spec: dict[str, Any], key: str) -> int:
    value = spec.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PARAMETERS:
        raise _Bad(f"layer {spec!r:.120}: {key} must be an integer in [1, {MAX_PARAMETERS}]")
    return value


def _number(spec: dict[str, Any], key: str, low: float, high: float) -> None:
    value = spec.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise _Bad(f"layer {spec!r:.120}: {key} must be a number in [{low}, {high}]")


# The keys each layer type's spec must have (besides "type"); their values are checked in _expected_arrays.
_SPEC_KEYS = {
    "Dense": {"in_features", "out_features", "init"},
    "BatchNorm1d": {"num_features", "eps", "momentum"},
    "Dropout": {"p"},
    "LeakyReLU": {"negative_slope"},
}


def _expected_arrays(layers: list[Any]) -> dict[str, tuple[int, ...]]:
    """``{array name: shape}`` the layer list needs, after checking every spec's types, ranges and chaining."""
    if not 1 <= len(layers) <= MAX_LAYERS:
        raise _Bad(f"{len(layers)} layers (1 to {MAX_LAYERS} allowed)")
    shapes: dict[str, tuple[int, ...]] = {}
    width, total = None, 0
    for i, spec in enumerate(layers):
        if not isinstance(spec, dict) or spec.get("type") not in _LAYER_TYPES:
            raise _Bad(f"layer {i} is not a known layer: {str(spec)[:80]}")
        keys = set(spec) - {"type"}
        if keys != _SPEC_KEYS.get(spec["type"], set()):
            raise _Bad(f"layer {i} ({spec['type']}) has fields {sorted(keys)}")
        if spec["type"] == "Dense":
            n_in, n_out = _int(spec, "in_features"), _int(spec, "out_features")
            if not isinstance(spec["init"], str) or len(spec["init"]) > 100:
                raise _Bad(f"layer {i} (Dense): init must be a short string")
            if width is not None and n_in != width:
                raise _Bad(f"layer {i} (Dense) takes {n_in} inputs but the layer before gives {width}")
            shapes[f"{i}.W"], shapes[f"{i}.b"], width = (n_in, n_out), (n_out,), n_out
            total += (n_in + 1) * n_out
        elif spec["type"] == "BatchNorm1d":
            n = _int(spec, "num_features")
            _number(spec, "eps", 0.0, 1e6)
            _number(spec, "momentum", 0.0, 1.0)
            if width is not None and n != width:
                raise _Bad(f"layer {i} (BatchNorm1d) normalises {n} features but the layer before gives {width}")
            for name in ("gamma", "beta", "running_mean", "running_var"):
                shapes[f"{i}.{name}"] = (n,)
            width, total = n, total + 4 * n
        elif spec["type"] == "Dropout":
            _number(spec, "p", 0.0, math.nextafter(1.0, 0.0))
        elif spec["type"] == "LeakyReLU":
            _number(spec, "negative_slope", -1e6, 1e6)
        if total > MAX_PARAMETERS:
            raise _Bad(f"the layer list declares more than {MAX_PARAMETERS} parameters")
    return shapes


def _empty(fan_in: int, fan_out: int, rng: Any, dtype: Any) -> np.ndarray:
    return np.empty((fan_in, fan_out), dtype=dtype)  # overwritten by the file's weights


def _build(layers: list[dict[str, Any]], dtype: str) -> Sequential:
    """The model the (already validated) layer list describes, with uninitialised weights."""
    built = []
    for spec in layers:
        spec = dict(spec)
        cls = _LAYER_TYPES[spec.pop("type")]
        if cls is Dense:
            name = spec.pop("init")
            layer = Dense(**spec, init=_empty, dtype=dtype)
            layer.init = name  # keep the name it was trained with, for config()
            built.append(layer)
        elif cls is BatchNorm1d:
            built.append(BatchNorm1d(**spec, dtype=dtype))
        else:
            built.append(cls(**spec))
    return Sequential(built)
