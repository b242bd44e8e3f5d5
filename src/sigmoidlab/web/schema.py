"""Request validation for the playground: every bound in one table, one clear error per bad field.

A configuration arrives as a JSON object (the page keeps the same keys in its URL). :func:`parse_config`
checks types, enums and bounds up front and returns a frozen :class:`Config`; anything wrong raises
:class:`RequestError`, which the app turns into ``{"error": ...}`` with a 4xx status. :func:`parse_upload`
does the same for a CSV file: ≤ 1 MB, ≤ 5,000 rows, two feature columns and a binary target, with the
loader's row/column message passed through.
"""

from __future__ import annotations

import csv
import io
import math
import os
import reprlib
import tempfile
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..functions import VANISHING_THRESHOLD

DATASETS = ("xor", "moons", "circles", "spiral", "gaussians", "upload")
ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear")
# The engine calls a linear layer "identity"; "linear" is the word the page (and TF Playground) uses.
ENGINE_ACTIVATION = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "relu", "linear": "identity"}
INITS = ("standard", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_normal")
OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop")
LOSSES = ("bce", "mse")

MAX_HIDDEN_LAYERS = 8
MAX_UNITS = 64
LR_RANGE = (1e-6, 10.0)
BATCH_RANGE = (1, 1024)
NOISE_RANGE = (0.0, 1.0)
SAMPLES_RANGE = (50, 2000)
TEST_FRACTION_RANGE = (0.1, 0.9)
SEED_RANGE = (0, 2**31 - 1)
SPEED_RANGE = (1, 10)
THRESHOLD_RANGE = (1e-6, 0.25)  # σ'(x) ≤ 1/4, so a threshold at or above 1/4 marks everything as vanishing

MAX_UPLOAD_BYTES = 1_000_000
MAX_UPLOAD_ROWS = 5_000


def show(value: Any, width: int = 40) -> str:
    """A short repr for an error message: a 60 KB string, a 4,000-digit integer or a list nested 900 deep must not
    become the message (nor overflow the stack while it is built)."""
    r = reprlib.Repr()
    r.maxstring = r.maxother = r.maxlong = width
    r.maxlevel, r.maxlist, r.maxdict = 2, 8, 4
    return r.repr(value)


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class RequestError(ValueError):
    """A bad request: ``status`` is the HTTP status, the message is shown to the user as is."""

    def __init__(self, message: str, status: int = 422, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


@dataclass(frozen=True)
class Config:
    """One playground configuration (data, network, training). Field names are the JSON and URL keys."""

    dataset: str = "circles"
    noise: float = 0.1
    n_samples: int = 400
    test_fraction: float = 0.3
    upload: str | None = None  # token from POST /api/uploads when dataset == "upload"
    hidden: tuple[int, ...] = (4, 4)
    activation: tuple[str, ...] = ("tanh", "tanh")
    batchnorm: bool = False
    init: str = "glorot_uniform"
    optimizer: str = "adam"
    lr: float = 0.03
    batch_size: int = 32
    loss: str = "bce"
    seed: int = 0
    threshold: float = VANISHING_THRESHOLD  # σ'(z) below this counts as vanishing (the explorer's shaded region)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["hidden"], out["activation"] = list(self.hidden), list(self.activation)
        return out


def options() -> dict[str, Any]:
    """The enums, bounds and defaults, for the page to build its controls from (one source of truth)."""
    return {
        "datasets": list(DATASETS),
        "activations": list(ACTIVATIONS),
        "inits": list(INITS),
        "optimizers": list(OPTIMIZERS),
        "losses": list(LOSSES),
        "max_hidden_layers": MAX_HIDDEN_LAYERS,
        "max_units": MAX_UNITS,
        "lr": LR_RANGE,
        "batch_size": BATCH_RANGE,
        "noise": NOISE_RANGE,
        "n_samples": SAMPLES_RANGE,
        "test_fraction": TEST_FRACTION_RANGE,
        "seed": SEED_RANGE,
        "speed": SPEED_RANGE,
        "threshold": THRESHOLD_RANGE,
        "max_upload_bytes": MAX_UPLOAD_BYTES,
        "max_upload_rows": MAX_UPLOAD_ROWS,
        "defaults": Config().to_json(),
    }


def _number(data: dict, key: str, bounds: tuple[float, float], default: float) -> float:
    value = data.get(key, default)
    # bool is an int subclass in Python, but `true` is not a learning rate. An int is compared as it is: a
    # 400-digit one would overflow math.isfinite's conversion to float.
    finite = isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
    if isinstance(value, bool) or not finite:
        raise RequestError(f"{key}={show(value)} is not a finite number", field=key)
    lo, hi = bounds
    if not lo <= value <= hi:
        raise RequestError(f"{key}={show(value)} is out of range: expected {lo:g} ≤ {key} ≤ {hi:g}", field=key)
    return float(value)


def _integer(data: dict, key: str, bounds: tuple[int, int], default: int, label: str | None = None) -> int:
    value = data.get(key, default)
    label = label or key
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(f"{label}={show(value)} is not an integer", field=key)
    lo, hi = bounds
    if not lo <= value <= hi:
        raise RequestError(f"{label}={show(value)} is out of range: expected {lo} ≤ {label} ≤ {hi}", field=key)
    return value


def _choice(key: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise RequestError(f"unknown {key} {show(value)}: expected one of {', '.join(allowed)}", field=key)
    return value


def parse_config(data: Any) -> Config:
    """Validate a JSON configuration; missing keys take the defaults of :class:`Config`."""
    if not isinstance(data, dict):
        raise RequestError("the configuration must be a JSON object", status=400)
    default = Config()
    unknown = sorted(set(data) - set(default.to_json()))
    if unknown:
        raise RequestError(f"unknown configuration key {show(unknown[0])}", field=clip(unknown[0], 40))

    hidden = data.get("hidden", list(default.hidden))
    if not isinstance(hidden, list):
        raise RequestError(f"hidden={show(hidden)} must be a list of layer widths", field="hidden")
    if len(hidden) > MAX_HIDDEN_LAYERS:
        raise RequestError(f"{len(hidden)} hidden layers: at most {MAX_HIDDEN_LAYERS} are allowed", field="hidden")
    for i, units in enumerate(hidden):
        _integer({"hidden": units}, "hidden", (1, MAX_UNITS), 0, label=f"hidden[{i}]")

    activation = data.get("activation", "sigmoid" if "hidden" in data else list(default.activation))
    if isinstance(activation, str):  # one name for every hidden layer
        activation = [activation] * len(hidden)
    if not isinstance(activation, list) or len(activation) != len(hidden):
        raise RequestError(
            f"activation must be one name or a list of {len(hidden)} (one per hidden layer), got {show(activation)}",
            field="activation",
        )
    for name in activation:
        _choice("activation", name, ACTIVATIONS)

    batchnorm = data.get("batchnorm", default.batchnorm)
    if not isinstance(batchnorm, bool):
        raise RequestError(f"batchnorm={show(batchnorm)} must be true or false", field="batchnorm")

    dataset = _choice("dataset", data.get("dataset", default.dataset), DATASETS)
    upload = data.get("upload")
    if dataset == "upload" and not isinstance(upload, str):
        raise RequestError("dataset 'upload' needs the token returned by POST /api/uploads", field="upload")
    if dataset != "upload" and upload is not None:
        raise RequestError(f"an upload token is only used with dataset 'upload', not {dataset!r}", field="upload")

    return Config(
        dataset=dataset,
        noise=_number(data, "noise", NOISE_RANGE, default.noise),
        n_samples=_integer(data, "n_samples", SAMPLES_RANGE, default.n_samples),
        test_fraction=_number(data, "test_fraction", TEST_FRACTION_RANGE, default.test_fraction),
        upload=upload,
        hidden=tuple(hidden),
        activation=tuple(activation),
        batchnorm=batchnorm,
        init=_choice("init", data.get("init", default.init), INITS),
        optimizer=_choice("optimizer", data.get("optimizer", default.optimizer), OPTIMIZERS),
        lr=_number(data, "lr", LR_RANGE, default.lr),
        batch_size=_integer(data, "batch_size", BATCH_RANGE, default.batch_size),
        loss=_choice("loss", data.get("loss", default.loss), LOSSES),
        seed=_integer(data, "seed", SEED_RANGE, default.seed),
        threshold=_number(data, "threshold", THRESHOLD_RANGE, default.threshold),
    )


def parse_upload(content: bytes, filename: str = "upload.csv", target: str | None = None):
    """Parse an uploaded CSV into ``(X, y, feature_names)``, enforcing the size, row and column limits.

    The target is the column named ``target``, by default the last one. The loader reads a path, so the bytes
    go to a temporary file first; its errors (a ``CSVError`` naming the row and column) come back as a 422 with
    the loader's own message.
    """
    from .. import datasets

    if len(content) > MAX_UPLOAD_BYTES:
        raise RequestError(f"{filename}: the file is larger than {MAX_UPLOAD_BYTES:,} bytes", status=413, field="file")
    if not content.strip():
        raise RequestError(f"{filename}: the file is empty", field="file")
    fd, path = tempfile.mkstemp(suffix=".csv")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        if target is None:
            text = content.decode("utf-8-sig", errors="replace")
            header = next(csv.reader(io.StringIO(text, newline="")), [])
            target = header[-1].strip() if header else ""
        X, y, names = datasets.load_csv(path, target=target)
    except datasets.CSVError as exc:
        raise RequestError(str(exc).replace(path, filename), field="file") from exc
    except csv.Error as exc:  # the header row itself is not CSV (a stray carriage return, a NUL byte)
        raise RequestError(f"{filename}: row 1 is not valid CSV: {exc}", field="file") from exc
    finally:
        os.unlink(path)
    if len(X) > MAX_UPLOAD_ROWS:
        raise RequestError(f"{filename}: {len(X):,} rows, at most {MAX_UPLOAD_ROWS:,} are allowed", field="file")
    if X.shape[1] != 2:
        raise RequestError(
            f"{filename}: {X.shape[1]} feature columns ({', '.join(map(str, names))}); the playground draws "
            "two, so the file needs exactly two feature columns and the target",
            field="file",
        )
    classes = np.unique(y)
    if len(classes) != 2:
        raise RequestError(f"{filename}: the target needs two classes, found {len(classes)}", field="file")
    return np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64), list(names)
