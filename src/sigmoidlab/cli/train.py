"""``sigmoidlab train`` and ``sigmoidlab predict``: fit a sigmoid network on a data set or a CSV file, save it,
and apply it to new rows."""

from __future__ import annotations

import csv
import io
import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from .._atomic import write_text
from ._app import app, console, fail

_DATASETS = ("xor", "moons", "circles", "spiral", "gaussians", "linear", "breast_cancer", "digits")
DatasetName = Enum("DatasetName", {name: name for name in _DATASETS}, type=str)  # type: ignore[misc]


class Solver(str, Enum):
    adam = "adam"
    sgd = "sgd"
    rmsprop = "rmsprop"


def parse_hidden(text: str) -> tuple[int, ...]:
    """``"16,16"`` → (16, 16); ``"none"`` (or an empty string) → () for logistic regression."""
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        fail(f"--hidden={text!r} must be comma-separated layer sizes such as 16,16 (or 'none')")
    if any(size < 1 for size in sizes):
        fail(f"--hidden={text!r}: layer sizes must be ≥ 1")
    return sizes


def parse_activation(text: str, n_layers: int) -> str | list[str]:
    """One activation for every hidden layer, or a comma list with one per layer."""
    from ..estimators import _ACTIVATIONS

    names = [part.strip() for part in text.split(",")]
    for name in names:
        if name not in _ACTIVATIONS:
            fail(f"--activation: unknown activation {name!r}; choose from {', '.join(_ACTIVATIONS)}")
    if len(names) == 1:
        return names[0]
    if len(names) != n_layers:
        fail(f"--activation={text!r} names {len(names)} activations for {n_layers} hidden layers")
    return names


def _load_data(dataset: DatasetName | None, csv_path: Path | None, target: str | None, n_samples, noise, seed: int):
    """Return X, y (0/1), feature names, class labels (as JSON values) and a description of the source."""
    from .. import datasets

    if csv_path is not None:
        if dataset is not None:
            fail("give --dataset or --csv, not both")
        if target is None:
            fail("--csv needs --target COLUMN: the name of the column that holds the labels")
        if n_samples is not None or noise is not None:
            fail("--n-samples and --noise apply to the generated data sets, not to --csv")
        try:
            X, y, names, classes = datasets.load_csv(csv_path, target, return_classes=True)
        except datasets.CSVError as exc:
            fail(str(exc))
        return X, y, names, classes.tolist(), {"csv": str(csv_path), "target": target}
    if target is not None:
        fail("--target applies to --csv only")
    name = (dataset or DatasetName.moons).value
    kwargs: dict[str, Any] = {}
    if name in datasets.GENERATORS:
        kwargs = {"n_samples": 1000 if n_samples is None else n_samples, "random_state": seed}
        if noise is not None:
            kwargs["noise"] = noise
    elif n_samples is not None or noise is not None:
        fail(f"--n-samples and --noise apply to the generated data sets, not to {name}")
    try:
        X, y = datasets.load(name, **kwargs)
    except ValueError as exc:
        fail(f"--dataset {name}: {exc}")
    return X, y, datasets.feature_names(name), [0, 1], {"dataset": name, **kwargs}


def _metrics(model, X, y) -> dict[str, float]:
    """Accuracy, log-loss and ROC AUC (``sklearn.metrics``) of the probabilities of class 1."""
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

    p = model.predict_proba(X)[:, 1]
    both = len(set(y.tolist())) == 2  # AUC is undefined on a one-class split
    return {
        "n": len(y),
        "accuracy": float(accuracy_score(y, p > 0.5)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
    }


@app.command("train")
def train_command(
    dataset: Annotated[
        DatasetName | None,
        typer.Option(help="A built-in data set (moons when neither --dataset nor --csv is given).", show_default=False),
    ] = None,
    csv_path: Annotated[
        Path | None, typer.Option("--csv", help="Train on this CSV file (header row; numeric features).")
    ] = None,
    target: Annotated[str | None, typer.Option(help="With --csv: the column holding the two class labels.")] = None,
    n_samples: Annotated[
        int | None, typer.Option(help="Samples to generate (2-D data sets) [default: 1000].", show_default=False)
    ] = None,
    noise: Annotated[float | None, typer.Option(help="Noise level (2-D data sets).", show_default=False)] = None,
    test_size: Annotated[float, typer.Option(help="Fraction held out for testing (stratified); 0 for none.")] = 0.25,
    seed: Annotated[int, typer.Option(help="Seeds the data, the split, the weights and the shuffling.")] = 0,
    hidden: Annotated[
        str, typer.Option(help="Hidden layer sizes, e.g. 16,16; 'none' for logistic regression.")
    ] = "16,16",
    activation: Annotated[
        str, typer.Option(help="sigmoid|tanh|relu|leaky_relu|identity, or one per layer.")
    ] = "sigmoid",
    batchnorm: Annotated[bool, typer.Option("--batchnorm", help="Batch normalisation before each activation.")] = False,
    init: Annotated[
        str, typer.Option(help="Weight initialiser (standard, glorot_uniform, he_normal, ...).")
    ] = "glorot_uniform",
    optimizer: Annotated[Solver, typer.Option(help="Optimiser.")] = Solver.adam,
    lr: Annotated[float, typer.Option(help="Learning rate.")] = 0.01,
    batch_size: Annotated[int, typer.Option(help="Samples per step.")] = 64,
    epochs: Annotated[int, typer.Option(help="Passes over the training data.")] = 200,
    alpha: Annotated[float, typer.Option(help="L2 penalty: mean BCE + (alpha/2n)·Σ‖W‖².")] = 1e-4,
    standardize: Annotated[
        bool, typer.Option(help="Scale features to mean 0, std 1 (statistics of the training split, saved).")
    ] = True,
    save: Annotated[Path | None, typer.Option(help="Save the model (.npz, written atomically).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
) -> None:
    """Train a sigmoid network and report train/test accuracy, log-loss and ROC AUC.

    Example: `sigmoidlab train --dataset moons --noise 0.2 --hidden 16 --activation sigmoid --save moons.npz`,
    then `sigmoidlab predict --model moons.npz --csv new.csv`.
    """
    import numpy as np
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from .. import nn
    from ..estimators import MLPClassifier

    if not 0 <= test_size < 1:
        fail(f"--test-size={test_size} must lie in [0, 1)")
    for option, value in (("--lr", lr), ("--batch-size", batch_size), ("--epochs", epochs)):
        if not value > 0:
            fail(f"{option}={value} must be > 0")
    if not alpha >= 0:
        fail(f"--alpha={alpha} must be ≥ 0")
    sizes = parse_hidden(hidden)
    activations = parse_activation(activation, len(sizes))
    try:
        nn.init.get(init)
    except ValueError as exc:
        fail(f"--init: {exc}")
    if save is not None and not save.parent.is_dir():
        fail(f"--save {save}: directory {save.parent} does not exist")

    X, y, feature_names, classes, source = _load_data(dataset, csv_path, target, n_samples, noise, seed)
    if test_size:
        try:
            X_train, X_test, y_train, y_test = train_test_split(
                X, y, test_size=test_size, stratify=y, random_state=seed
            )
        except ValueError as exc:  # e.g. fewer test samples than classes
            fail(f"--test-size={test_size}: cannot split {len(y)} samples ({exc})")
    else:
        X_train, y_train, X_test, y_test = X, y, None, None
    scaler = StandardScaler().fit(X_train) if standardize else None
    prepare = scaler.transform if scaler is not None else np.asarray

    estimator = MLPClassifier(
        hidden_layer_sizes=sizes,
        activation=activations,
        solver=optimizer.value,
        alpha=alpha,
        batch_size=min(batch_size, len(y_train)),
        learning_rate_init=lr,
        max_iter=epochs,
        tol=0.0,  # exactly --epochs epochs
        random_state=seed,
        verbose=progress,
        batchnorm=batchnorm,
        init=init,
    )
    try:
        estimator.fit(prepare(X_train), y_train)
    except nn.DivergenceError as exc:
        fail(f"{exc}; current --lr={lr}")
    report = {
        "source": source,
        "model": {
            "hidden": list(sizes),
            "activation": activations,
            "batchnorm": batchnorm,
            "init": init,
            "optimizer": optimizer.value,
            "lr": lr,
            "batch_size": batch_size,
            "alpha": alpha,
            "epochs": estimator.n_iter_,
            "final_loss": estimator.loss_curve_[-1],
        },
        "train": _metrics(estimator, prepare(X_train), y_train),
        "test": _metrics(estimator, prepare(X_test), y_test) if X_test is not None else None,
    }
    if save is not None:
        metadata = {
            "kind": "sigmoidlab.train",
            "feature_names": list(feature_names),
            "classes": classes,
            "target": target,
            "standardize": None if scaler is None else {"mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist()},
            **report,
        }
        try:
            nn.save(estimator.model_, save, metadata=_finite(metadata))
        except OSError as exc:
            fail(f"--save {save}: {exc.strerror or exc}")
        report["saved"] = str(save)
    _print_report(report, as_json)


def _finite(value: Any) -> Any:
    """JSON has no NaN: an undefined metric is stored as null."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _print_report(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(_finite(report), indent=2))
        return
    from rich.table import Table

    m = report["model"]
    arch = "logistic regression" if not m["hidden"] else f"hidden {m['hidden']} {m['activation']}"
    source = report["source"].get("dataset") or report["source"]["csv"]
    table = Table(title=f"{source}: {arch}, {m['optimizer']} lr {m['lr']:g}, {m['epochs']} epochs")
    table.add_column("split")
    for column in ("samples", "accuracy", "log-loss", "ROC AUC"):
        table.add_column(column, justify="right")
    for split in ("train", "test"):
        r = report[split]
        if r is not None:
            table.add_row(split, str(r["n"]), f"{r['accuracy']:.4f}", f"{r['log_loss']:.4f}", f"{r['roc_auc']:.4f}")
    console.print(table)
    if "saved" in report:
        console.print(f"model saved to {report['saved']}", highlight=False)


@app.command("predict")
def predict_command(
    model: Annotated[Path, typer.Option("--model", help="A model saved by `sigmoidlab train --save`.")],
    csv_path: Annotated[Path, typer.Option("--csv", help="Rows to classify: a CSV with the model's feature columns.")],
    out: Annotated[Path | None, typer.Option(help="Write the predictions here (atomically) instead of stdout.")] = None,
) -> None:
    """Apply a saved model to a CSV file: one row per input row with the label and the class probabilities.

    The columns are matched by name (any order); the training target column, if present, is ignored.
    """
    import numpy as np

    from .. import datasets, nn
    from ..functions import sigmoid

    try:
        net, meta = nn.load(model)
    except (OSError, ValueError) as exc:
        fail(f"--model {model}: {exc}" if str(model) not in str(exc) else str(exc))
    if meta.get("kind") != "sigmoidlab.train" or not {"feature_names", "classes"} <= meta.keys():
        fail(f"--model {model}: a sigmoidlab network, but not one saved by `sigmoidlab train` (no feature names)")
    n_inputs = net.dense_layers()[0].in_features
    scaling = meta.get("standardize")
    if len(meta["feature_names"]) != n_inputs or (scaling and len(scaling["mean"]) != n_inputs):
        fail(f"--model {model}: its metadata does not match the network ({n_inputs} inputs)")
    if out is not None and not out.parent.is_dir():
        fail(f"--out {out}: directory {out.parent} does not exist")
    ignore = [meta["target"]] if meta.get("target") else []
    try:
        X, _, _ = datasets.load_csv(csv_path, None, features=meta["feature_names"], ignore=ignore)
    except datasets.CSVError as exc:
        fail(str(exc))
    if scaling:
        X = (X - np.asarray(scaling["mean"])) / np.asarray(scaling["scale"])
    z = net.forward(X)[:, 0].astype(np.float64)
    classes = meta["classes"]
    labels = np.where(z > 0, 1, 0)  # z > 0 ⇔ σ(z) > 1/2, decided on the logit so that ties cannot flip
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["label", f"proba_{classes[0]}", f"proba_{classes[1]}"])
    for label, p0, p1 in zip(labels, sigmoid(-z), sigmoid(z), strict=True):
        writer.writerow([classes[label], repr(float(p0)), repr(float(p1))])
    if out is None:
        print(buffer.getvalue(), end="")
        return
    try:
        write_text(out, buffer.getvalue(), newline="")
    except OSError as exc:
        fail(f"--out {out}: {exc.strerror or exc}")
    console.print(f"wrote {len(labels)} predictions to {out}", highlight=False)
