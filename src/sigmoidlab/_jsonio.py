"""JSON out, one way for every artefact: non-finite numbers become null, files are written atomically.

JSON has no NaN or infinity; ``json.dumps`` would write the non-standard ``NaN``/``Infinity`` (which browsers'
``JSON.parse`` rejects) or, with ``allow_nan=False``, raise. Here an undefined or overflowed number (a metric the
engine did not record, a diverged loss) is stored as ``null``, NumPy scalars and arrays become plain numbers and
lists, and a file is either the complete new text or the old file (:func:`sigmoidlab._atomic.write_text`).

>>> import numpy as np
>>> dumps({"loss": float("nan"), "w": np.array([1.5, np.inf]), "n": np.int64(3)})
'{"loss": null, "w": [1.5, null], "n": 3}'
>>> finite(2 / 3, digits=3), finite(float("-inf"))
(0.667, None)
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._atomic import write_text


def finite(value: float, digits: int | None = None) -> float | None:
    """``value`` as a float (rounded to ``digits`` significant digits when given), or None if not finite."""
    value = float(value)
    if not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}") if digits is not None else value


def array(a: Any, decimals: int | None = None) -> list:
    """A nested list of floats from an array (rounded to ``decimals`` places when given), non-finite → None."""
    a = np.asarray(a, dtype=np.float64)
    if decimals is not None:
        a = np.round(a, decimals)
    ok = np.isfinite(a)
    return a.tolist() if ok.all() else np.where(ok, a, None).tolist()


def jsonable(value: Any) -> Any:
    """``value`` with plain JSON types only: dicts (string keys), lists, str, int, bool, None and finite floats.

    Non-finite floats become None; NumPy scalars become Python numbers; arrays, tuples and sets become lists;
    dataclass-like objects are not guessed at (a TypeError names the type).
    """
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return finite(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            return array(value)
        return jsonable(value.tolist())
    if isinstance(value, Mapping):
        return {_key(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    raise TypeError(f"cannot write a {type(value).__name__} as JSON")


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, (int, np.integer, bool)):
        return json.dumps(jsonable(key))  # as json.dumps would: 1 → "1", True → "true"
    raise TypeError(f"cannot write a {type(key).__name__} as a JSON object key")


def dumps(value: Any, *, indent: int | None = None, compact: bool = False, sort_keys: bool = False) -> str:
    """JSON text of ``value`` after :func:`jsonable`; ``compact`` drops the spaces after ``,`` and ``:``."""
    options = {"indent": indent, "separators": (",", ":") if compact else None, "sort_keys": sort_keys}
    try:  # plain, finite data (a playground frame): as it is, without the walk; jsonable would not change it
        return json.dumps(value, allow_nan=False, **options)
    except (TypeError, ValueError):  # NaN or infinity, NumPy types
        return json.dumps(jsonable(value), allow_nan=False, **options)


def write_json(
    path: str | os.PathLike,
    value: Any,
    *,
    indent: int | None = None,
    compact: bool = False,
    sort_keys: bool = False,
    newline: bool = False,
) -> Path | str:
    """Write :func:`dumps` of ``value`` to ``path`` atomically (``"-"``: standard output); ``newline`` ends the
    text with a line break. Returns the path."""
    text = dumps(value, indent=indent, compact=compact, sort_keys=sort_keys)
    return write_text(path, text + "\n" if newline else text)
