"""Request validation for the playground: pydantic models with every limit in one table, one clear error per request.

A configuration arrives as a JSON object (the page keeps the same keys in its URL). :func:`parse_config` validates
it with the :class:`Config` model (strict types: ``true`` is not a learning rate, ``"0.1"`` is not a number) and
returns the frozen model; :func:`parse_control` and :func:`parse_query` do the same for the control actions and the
sigmoid explorer's query. The first error pydantic reports becomes a :class:`RequestError` naming the field and
the limit, ``lr=11 is out of range: expected 1e-06 ≤ lr ≤ 10``, which the app sends as ``{"error", "field"}`` with a
4xx status. The names (initialisers, optimisers, losses) are the engine's own (:mod:`sigmoidlab.nn.registry`).
:func:`parse_upload` checks a CSV file: ≤ 1 MB, ≤ 5,000 rows, two feature columns and a binary target, with the
loader's row/column message passed through.
"""

from __future__ import annotations

import csv
import io
import os
import reprlib
import tempfile
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .. import nn
from ..functions import VANISHING_THRESHOLD
from ..nn import features as nn_features

CLASSIFICATION_DATASETS = ("xor", "moons", "circles", "spiral", "gaussians", "upload")
REGRESSION_DATASETS = ("reg_plane", "reg_gauss")  # TensorFlow Playground's reg-plane and reg-gauss
DATASETS = CLASSIFICATION_DATASETS + REGRESSION_DATASETS
PROBLEMS = {"classification": CLASSIFICATION_DATASETS, "regression": REGRESSION_DATASETS}
FEATURES = tuple(nn_features.FEATURES)  # input feature crosses, engine side (sigmoidlab.nn.features)
REGULARIZATIONS = {"none": "none", "l1": "L1", "l2": "L2"}  # penalties on the weights (not the biases)
REGULARIZATION_RATES = (0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10)  # the page's choices
# The page offers a selection of the engine's activations, under the names TensorFlow Playground uses
# ("linear" is nn's alias of "identity"); name → label on the page.
ACTIVATIONS = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "ReLU", "linear": "linear"}
INITS, OPTIMIZERS, LOSSES = nn.INITIALIZERS.names(), nn.OPTIMIZERS.names(), nn.LOSSES.names()
LOSS_LABELS = {"bce": "cross-entropy (BCE with logits)", "mse": "squared error on σ(z)"}  # a name without one: as is
LEARNING_RATES = (0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10)  # the page's choices
THRESHOLDS = (0.001, 0.01, 0.05, 0.1)  # the explorer's choices
# What the network diagram's units show (a session setting, like the speed: it changes frames, not training).
THUMBNAILS = {"activation": "activation f(z)", "derivative": "derivative f′(z), vanishing in red", "off": "off"}
DEFAULT_THUMBNAILS = "activation"

MAX_HIDDEN_LAYERS = 8
MAX_UPLOAD_BYTES = 1_000_000
MAX_UPLOAD_ROWS = 5_000
# Every numeric limit, (lowest, highest) allowed, both included: the models' constraints, the messages and the
# page's controls all read this table. σ'(x) ≤ 1/4, so a threshold at or above 1/4 marks everything as vanishing.
LIMITS: dict[str, tuple[float, float]] = {
    "noise": (0.0, 1.0),
    "n_samples": (50, 2000),
    "test_fraction": (0.1, 0.9),
    "hidden": (1, 64),  # units per hidden layer
    "lr": (1e-6, 10.0),
    "regularization_rate": (0.0, 10.0),
    "batch_size": (1, 1024),
    "seed": (0, 2**31 - 1),
    "threshold": (1e-6, 0.25),
    "speed": (1, 10),
}
MAX_UNITS = LIMITS["hidden"][1]
SPEED_RANGE, THRESHOLD_RANGE = LIMITS["speed"], LIMITS["threshold"]


def _within(key: str, kind: type) -> Any:
    """``kind`` bounded by ``LIMITS[key]`` (a float must also be finite)."""
    lo, hi = LIMITS[key]
    finite = {"allow_inf_nan": False} if kind is float else {}
    return Annotated[kind, Field(ge=lo, le=hi, **finite)]


Width = _within("hidden", int)
Speed = _within("speed", int)
ActivationName = Literal[tuple(ACTIVATIONS)]
FeatureName = Literal[FEATURES]
# PydanticCustomError types raised below
_OWN_CHECKS = ("activation_count", "upload_token", "speed_missing", "problem_dataset", "features_unique",
               "thumbnails_missing")  # fmt: skip
ThumbnailMode = Literal[tuple(THUMBNAILS)]


class RequestError(ValueError):
    """A bad request: ``status`` is the HTTP status, the message is shown to the user as is."""

    def __init__(self, message: str, status: int = 422, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


class Config(BaseModel):
    """One playground configuration (data, network, training). Field names are the JSON and URL keys; missing keys
    take these defaults, except that ``hidden`` without ``activation`` means sigmoid layers, one activation
    name stands for every hidden layer, and ``problem`` "regression" without ``dataset`` means "reg_plane".
    ``loss`` applies to classification; regression always minimises the squared error of the raw output."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    problem: Literal[tuple(PROBLEMS)] = "classification"
    dataset: Literal[DATASETS] = "circles"
    noise: _within("noise", float) = 0.1
    n_samples: _within("n_samples", int) = 400
    test_fraction: _within("test_fraction", float) = 0.3
    # The token from POST /api/uploads when dataset == "upload"; checked against the dataset even when missing.
    upload: str | None = Field(default=None, validate_default=True)
    features: Annotated[tuple[FeatureName, ...], Field(strict=False, min_length=1, max_length=len(FEATURES))] = (
        "x",
        "y",
    )
    hidden: Annotated[tuple[Width, ...], Field(strict=False, max_length=MAX_HIDDEN_LAYERS)] = (4, 4)
    activation: Annotated[tuple[ActivationName, ...], Field(strict=False)] = ("tanh", "tanh")
    batchnorm: bool = False
    init: Literal[INITS] = "glorot_uniform"
    optimizer: Literal[OPTIMIZERS] = "adam"
    lr: _within("lr", float) = 0.03
    batch_size: _within("batch_size", int) = 32
    regularization: Literal[tuple(REGULARIZATIONS)] = "none"
    regularization_rate: _within("regularization_rate", float) = 0.0
    loss: Literal[LOSSES] = "bce"
    seed: _within("seed", int) = 0
    threshold: _within("threshold", float) = VANISHING_THRESHOLD  # σ'(z) below this counts as vanishing

    @model_validator(mode="before")
    @classmethod
    def _one_activation_per_layer(cls, data: Any) -> Any:
        hidden = data.get("hidden", list(cls.model_fields["hidden"].default)) if isinstance(data, dict) else None
        if not isinstance(hidden, list):  # not an object, or hidden is wrong: its own error says so
            return data
        activation = data.get("activation", "sigmoid" if "hidden" in data else None)
        if isinstance(activation, str):
            data = {**data, "activation": [activation] * len(hidden)}
        if data.get("problem") == "regression" and "dataset" not in data:
            data = {**data, "dataset": REGRESSION_DATASETS[0]}
        return data

    @field_validator("dataset")
    @classmethod
    def _dataset_for_problem(cls, dataset: str, info: ValidationInfo) -> str:
        problem = info.data.get("problem")
        if problem is not None and dataset not in PROBLEMS[problem]:
            raise PydanticCustomError(
                "problem_dataset",
                "dataset '{dataset}' is not a {problem} data set: expected one of {expected}",
                {"dataset": dataset, "problem": problem, "expected": ", ".join(PROBLEMS[problem])},
            )
        return dataset

    @field_validator("features")
    @classmethod
    def _features_once(cls, features: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(features)) != len(features):
            raise PydanticCustomError(
                "features_unique", "features lists a feature twice: {got}", {"got": show(list(features))}
            )
        return features

    @field_validator("activation")
    @classmethod
    def _as_many_as_layers(cls, activation: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        hidden = info.data.get("hidden")
        if hidden is not None and len(activation) != len(hidden):
            raise PydanticCustomError(
                "activation_count",
                "activation must be one name or a list of {n} (one per hidden layer), got {got}",
                {"n": len(hidden), "got": show(list(activation))},
            )
        return activation

    @field_validator("upload")
    @classmethod
    def _token_for_upload(cls, upload: str | None, info: ValidationInfo) -> str | None:
        dataset = info.data.get("dataset")
        if dataset == "upload" and upload is None:
            raise PydanticCustomError("upload_token", "dataset 'upload' needs the token returned by POST /api/uploads")
        if dataset not in (None, "upload") and upload is not None:
            raise PydanticCustomError(
                "upload_token",
                "an upload token is only used with dataset 'upload', not '{dataset}'",
                {"dataset": dataset},
            )
        return upload

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Control(BaseModel):
    """A control request: ``{"action": ..., "speed": ...}`` (speed only with the action "speed", thumbnails only
    with the action "thumbnails")."""

    model_config = ConfigDict(strict=True)

    action: Literal["play", "pause", "step", "reset", "speed", "thumbnails"]
    speed: Speed | None = Field(default=None, validate_default=True)
    thumbnails: ThumbnailMode | None = Field(default=None, validate_default=True)

    @field_validator("speed")
    @classmethod
    def _speed_for_speed(cls, speed: int | None, info: ValidationInfo) -> int | None:
        if speed is None and info.data.get("action") == "speed":
            lo, hi = LIMITS["speed"]
            raise PydanticCustomError(
                "speed_missing", "the action 'speed' needs speed, an integer from {lo} to {hi}", {"lo": lo, "hi": hi}
            )
        return speed

    @field_validator("thumbnails")
    @classmethod
    def _mode_for_thumbnails(cls, thumbnails: str | None, info: ValidationInfo) -> str | None:
        if thumbnails is None and info.data.get("action") == "thumbnails":
            raise PydanticCustomError(
                "thumbnails_missing", "the action 'thumbnails' needs thumbnails, one of {expected}",
                {"expected": ", ".join(THUMBNAILS)},
            )  # fmt: skip
        return thumbnails


class _SpeedOnly(BaseModel):
    model_config = ConfigDict(strict=True)

    speed: Speed


class _ThumbnailsOnly(BaseModel):
    model_config = ConfigDict(strict=True)

    thumbnails: ThumbnailMode


class SigmoidQuery(BaseModel):
    """The sigmoid explorer's query string: numbers as text (lax mode parses them), both finite."""

    model_config = ConfigDict(extra="ignore")

    x: Annotated[float, Field(allow_inf_nan=False)] = 0.0
    threshold: _within("threshold", float) = VANISHING_THRESHOLD


def options() -> dict[str, Any]:
    """The names, labels, bounds, defaults and presets, for the page to build its controls from (one source)."""
    return {
        "datasets": list(DATASETS),
        "problems": {problem: list(names) for problem, names in PROBLEMS.items()},
        "features": list(FEATURES),
        "regularizations": list(REGULARIZATIONS),
        "regularization_rates": list(REGULARIZATION_RATES),
        "activations": list(ACTIVATIONS),
        "inits": list(INITS),
        "optimizers": list(OPTIMIZERS),
        "losses": list(LOSSES),
        "labels": {
            "activation": ACTIVATIONS,
            "optimizer": {name: spec.summary or name for name, spec in nn.OPTIMIZERS.items()},
            "loss": {name: LOSS_LABELS.get(name, name) for name in LOSSES},
            "feature": {name: label for name, (label, _) in nn_features.FEATURES.items()},
            "regularization": REGULARIZATIONS,
            "thumbnails": THUMBNAILS,
        },
        "thumbnails": list(THUMBNAILS),
        "default_thumbnails": DEFAULT_THUMBNAILS,
        "learning_rates": list(LEARNING_RATES),
        "thresholds": list(THRESHOLDS),
        "integers": [key for key, field in Config.model_fields.items() if field.annotation is int],
        "max_hidden_layers": MAX_HIDDEN_LAYERS,
        "max_units": MAX_UNITS,
        **{key: list(LIMITS[key]) for key in LIMITS if key != "hidden"},
        "max_upload_bytes": MAX_UPLOAD_BYTES,
        "max_upload_rows": MAX_UPLOAD_ROWS,
        "defaults": Config().to_json(),
        "presets": [{"name": name, "label": label, "config": config} for name, (label, config) in PRESETS.items()],
    }


# --- validation -----------------------------------------------------------------------------------------------


def show(value: Any, width: int = 40) -> str:
    """A short repr for an error message: a 60 KB string, a 4,000-digit integer or a list nested 900 deep must not
    become the message (nor overflow the stack while it is built)."""
    r = reprlib.Repr()
    r.maxstring = r.maxother = r.maxlong = width
    r.maxlevel, r.maxlist, r.maxdict = 2, 8, 4
    return r.repr(value)


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _message(error: dict[str, Any]) -> tuple[str, str | None]:
    """(message, field) for one of pydantic's errors, naming the field, the value and the limit."""
    loc, kind, value = error["loc"], error["type"], error["input"]
    if not loc:
        return "the request must be a JSON object", None
    key = str(loc[0])
    label = key + "".join(f"[{i}]" for i in loc[1:])  # hidden[1]
    if kind == "extra_forbidden":
        return f"unknown configuration key {show(key)}", clip(key, 40)
    if kind == "float_type" and isinstance(value, int) and not isinstance(value, bool) and key in LIMITS:
        kind = "less_than_equal"  # an integer too large for a float (401 digits)
    if kind in ("greater_than_equal", "less_than_equal"):
        lo, hi = (f"{v:g}" if isinstance(v, float) else str(v) for v in LIMITS[key])
        return f"{label}={show(value)} is out of range: expected {lo} ≤ {label} ≤ {hi}", key
    if kind in ("float_type", "float_parsing", "finite_number"):
        return f"{label}={show(value)} is not a finite number", key
    if kind == "int_type":
        return f"{label}={show(value)} is not an integer", key
    if kind == "bool_type":
        return f"{label}={show(value)} must be true or false", key
    if kind == "literal_error":
        return f"unknown {key} {show(value)}: expected one of {error['ctx']['expected']}", key
    if kind == "too_short":
        return f"{label}={show(value)} is empty: at least one is needed", key
    if kind == "too_long":
        what = "layers" if key == "hidden" else "names"
        return f"{len(value)} {key} {what}: at most {error['ctx']['max_length']} are allowed", key
    if kind in ("tuple_type", "list_type"):
        return f"{label}={show(value)} must be a list" + (" of layer widths" if key == "hidden" else " of names"), key
    if kind == "missing":
        return f"{label} is missing", key
    if kind in _OWN_CHECKS:  # the models' own validators word their messages themselves
        return error["msg"], key
    return f"{label}={show(value)}: {clip(error['msg'], 100)}", key


def _validate(model: type[BaseModel], data: Any) -> Any:
    """``model`` validated from ``data``; the first error as a RequestError (400 when the body is not an object)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        message, field = _message(exc.errors(include_url=False)[0])
        raise RequestError(message, status=400 if field is None else 422, field=field) from None


def parse_config(data: Any) -> Config:
    """Validate a JSON configuration; missing keys take the defaults of :class:`Config`."""
    if not isinstance(data, dict):
        raise RequestError("the configuration must be a JSON object", status=400)
    return _validate(Config, data)


def parse_control(data: Any) -> Control:
    """Validate a control request (``{"action": "speed", "speed": 3}``)."""
    return _validate(Control, data)


def parse_speed(value: Any) -> int:
    """Validate a speed (1..10), sent with a new session's configuration."""
    return _validate(_SpeedOnly, {"speed": value}).speed


def parse_thumbnails(value: Any) -> str:
    """Validate what the diagram's units show (``THUMBNAILS``), sent with a new session's configuration."""
    return _validate(_ThumbnailsOnly, {"thumbnails": value}).thumbnails


def parse_query(params: Any) -> SigmoidQuery:
    """Validate the sigmoid explorer's query (``x``, ``threshold``)."""
    return _validate(SigmoidQuery, dict(params))


# Presets: the page shows one button each; a preset sets these keys and keeps the others (noise, seed, ...).
# Validated here, on import, like any request.
PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "xor": ("XOR, 4 sigmoid units", {"dataset": "xor", "hidden": [4], "activation": ["sigmoid"], "batchnorm": False,
                                     "init": "glorot_uniform", "optimizer": "adam", "lr": 0.03, "loss": "bce"}),
    "deep": ("6 sigmoid layers: vanishing", {"dataset": "circles", "hidden": [8] * 6, "activation": ["sigmoid"] * 6,
                                             "batchnorm": False, "init": "standard", "optimizer": "sgd", "lr": 0.3,
                                             "loss": "bce"}),
    "deep-bn": ("…the same with batch norm", {"dataset": "circles", "hidden": [8] * 6, "activation": ["sigmoid"] * 6,
                                              "batchnorm": True, "init": "standard", "optimizer": "sgd", "lr": 0.3,
                                              "loss": "bce"}),
    "deep-relu": ("…with ReLU", {"dataset": "circles", "hidden": [8] * 6, "activation": ["relu"] * 6,
                                 "batchnorm": False, "init": "he_uniform", "optimizer": "sgd", "lr": 0.03,
                                 "loss": "bce"}),
}  # fmt: skip
for _name, (_label, _preset) in PRESETS.items():
    parse_config(_preset)


# --- uploads --------------------------------------------------------------------------------------------------


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
