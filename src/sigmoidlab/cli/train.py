"""``sigmoidlab train`` and ``sigmoidlab predict``: fit a sigmoid network on a data set or a CSV file, save it,
and apply it to new rows."""

from __future__ import annotations

import csv
import io
import itertools
import math
import os
import warnings
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from .. import nn
from .._atomic import STDOUT, UnsafeOutputError, resolve_output, write_text
from ._app import app, console, err_console, fail, interrupted

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
    names = [part.strip() for part in text.split(",")]
    for name in names:
        if name not in nn.ACTIVATIONS:
            fail(f"--activation: {nn.ACTIVATIONS.unknown(name)}")
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


def memory_limit() -> int:
    """Bytes a training run may plan to use: half the physical memory, at most 16 GiB (at least 1 GiB)."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        physical = 8 * 2**30
    return max(2**30, min(physical // 2, 16 * 2**30))


def estimate_memory(n_samples: int, n_features: int, sizes: tuple[int, ...], batch_size: int) -> dict[str, int]:
    """Rough peak bytes of a ``train`` run: what grows with the network and what grows with the samples.

    Network: nine float64 copies of every parameter (value, gradient, the optimiser's buffers and state, the
    divergence guard's backup, the exported coefficients) and the activations of a mini-batch (four per unit).
    Samples: about eight copies of (X, y) (generated, split, standardised twice, shuffled per epoch) and the
    activations of a whole split when it is evaluated (two per unit).
    """
    widths = (n_features, *sizes, 1)
    n_params = sum((a + 1) * b for a, b in itertools.pairwise(widths))
    units = sum(sizes) + 1
    network = 8 * (9 * n_params + 4 * min(batch_size, n_samples) * units)
    samples = 8 * n_samples * (8 * (n_features + 1) + 2 * units)
    return {"network": network, "samples": samples}


def _check_memory(n_samples: int, n_features: int, sizes, batch_size: int, data_flag: str) -> None:
    need = estimate_memory(n_samples, n_features, sizes, batch_size)
    total, limit = sum(need.values()), memory_limit()
    if total > limit:
        flag = "--hidden" if need["network"] >= need["samples"] else data_flag
        fail(
            f"{flag}: training {list(sizes) or 'logistic regression'} on {n_samples} samples × {n_features} "
            f"features would need about {total / 2**30:.3g} GiB of memory, more than the {limit / 2**30:.3g} GiB "
            "this command allows; use fewer samples or smaller layers"
        )


def _check_numbers(lr: float, alpha: float, noise: float | None, test_size: float, seed: int, **counts: int) -> None:
    """Refuse non-finite and out-of-range numeric options before anything is loaded or allocated."""
    if not 0 <= test_size < 1:
        fail(f"--test-size={test_size} must lie in [0, 1)")
    if not (math.isfinite(lr) and lr > 0):
        fail(f"--lr={lr} must be a finite number > 0")
    if not (math.isfinite(alpha) and alpha >= 0):
        fail(f"--alpha={alpha} must be a finite number ≥ 0")
    if noise is not None and not (math.isfinite(noise) and noise >= 0):
        fail(f"--noise={noise} must be a finite number ≥ 0")
    if not 0 <= seed < 2**32:
        fail(f"--seed={seed} must lie in [0, 2**32 − 1]")
    for option, value in counts.items():
        if value < 1:
            fail(f"--{option.replace('_', '-')}={value} must be ≥ 1")


def _check_init(init: str) -> None:
    """The initialiser exists and draws finite weights (``normal(-1)`` or ``normal(inf)`` would not)."""
    import numpy as np

    try:
        weights = nn.get_initializer(init)(2, 2, np.random.default_rng(0), np.float64)
    except ValueError as exc:
        fail(f"--init: {exc}")
    if not np.isfinite(weights).all():
        fail(f"--init={init!r} draws non-finite weights")


def check_output(option: str, path: Path) -> None:
    """Refuse an output path now, before the work, if it cannot be written: no folder, or not a regular file."""
    if not path.parent.is_dir():
        problem = "is not a directory" if path.parent.exists() else "does not exist"
        fail(f"{option} {path}: directory {path.parent} {problem}")
    if str(path) == STDOUT:
        fail(f"{option} -: this output cannot go to standard output; give a file name")
    try:
        resolve_output(path)
    except UnsafeOutputError as exc:
        fail(f"{option} {path}: {exc.strerror}")


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
        str, typer.Option(help=f"{', '.join(nn.ACTIVATIONS.spellings())}: one, or one per layer.")
    ] = "sigmoid",
    batchnorm: Annotated[bool, typer.Option("--batchnorm", help="Batch normalisation before each activation.")] = False,
    init: Annotated[
        str, typer.Option(help=f"Weight initialiser: {', '.join(nn.INITIALIZERS.spellings())} or normal(STD).")
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
    try:
        report = _validate_and_train(locals())
    except KeyboardInterrupt:  # from the first import on: the message is the same wherever it lands
        where = f" (--save {save} is written only when training finishes)" if save is not None else ""
        interrupted(f"interrupted: no model saved{where}; run the command again to retrain")
        raise
    _print_report(report, as_json)


def _validate_and_train(o: dict[str, Any]) -> dict[str, Any]:
    """``train``'s work, given its options ``o``: check them all, load the data, fit, save; return the report."""
    from .. import datasets

    _check_numbers(o["lr"], o["alpha"], o["noise"], o["test_size"], o["seed"], batch_size=o["batch_size"],
                   epochs=o["epochs"])  # fmt: skip
    sizes = parse_hidden(o["hidden"])
    activations = parse_activation(o["activation"], len(sizes))
    _check_init(o["init"])
    if o["save"] is not None:
        check_output("--save", o["save"])
    generated = o["dataset"] is None or o["dataset"].value in datasets.GENERATORS
    if o["csv_path"] is None and generated:
        _check_memory(o["n_samples"] or 1000, 2, sizes, o["batch_size"], "--n-samples")
    model = {
        "hidden": list(sizes),
        "activation": activations,
        "batchnorm": o["batchnorm"],
        "init": o["init"],
        "optimizer": o["optimizer"].value,
        "lr": o["lr"],
        "batch_size": o["batch_size"],
        "alpha": o["alpha"],
        "epochs": o["epochs"],
    }
    data = _load_data(o["dataset"], o["csv_path"], o["target"], o["n_samples"], o["noise"], o["seed"])
    _check_memory(len(data[1]), data[0].shape[1], sizes, o["batch_size"], "--csv" if o["csv_path"] else "--dataset")
    report, fitted = _train(
        data, model, test_size=o["test_size"], seed=o["seed"], standardize=o["standardize"], progress=o["progress"]
    )
    if o["save"] is not None:
        _save(report, fitted, o["save"], o["target"])
    return report


def _train(data, model: dict[str, Any], *, test_size: float, seed: int, standardize: bool, progress: bool):
    """Split, standardise, fit; return the report and (estimator, scaler, feature names, classes)."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    from ..estimators import MLPClassifier

    X, y, feature_names, classes, source = data
    if test_size:
        try:
            X_train, X_test, y_train, y_test = train_test_split(
                X, y, test_size=test_size, stratify=y, random_state=seed
            )
        except ValueError as exc:  # e.g. fewer test samples than classes
            fail(f"--test-size={test_size}: cannot split {len(y)} samples ({exc})")
    else:
        X_train, y_train, X_test, y_test = X, y, None, None
    scaler = nn.Standardizer.fit(X_train) if standardize else None
    prepare = scaler.transform if scaler is not None else np.asarray
    estimator = MLPClassifier(
        hidden_layer_sizes=tuple(model["hidden"]),
        activation=model["activation"],
        solver=model["optimizer"],
        alpha=model["alpha"],
        batch_size=min(model["batch_size"], len(y_train)),
        learning_rate_init=model["lr"],
        max_iter=model["epochs"],
        tol=0.0,  # exactly --epochs epochs
        random_state=seed,
        verbose=progress,
        batchnorm=model["batchnorm"],
        init=model["init"],
    )
    _fit(estimator, prepare(X_train), y_train, model["lr"])
    model = {**model, "epochs": estimator.n_iter_, "final_loss": estimator.loss_curve_[-1]}
    report = {
        "source": source,
        "model": model,
        "train": _metrics(estimator, prepare(X_train), y_train),
        "test": _metrics(estimator, prepare(X_test), y_test) if X_test is not None else None,
    }
    return report, (estimator, scaler, feature_names, classes)


def _save(report: dict[str, Any], fitted: tuple, save: Path, target: str | None) -> None:
    from .. import _jsonio

    estimator, scaler, feature_names, classes = fitted
    metadata = {
        "kind": "sigmoidlab.train",
        "feature_names": list(feature_names),
        "classes": classes,
        "target": target,
        "standardize": None if scaler is None else scaler.to_json(),
        **report,
    }
    try:
        nn.save(estimator.model_, save, metadata=_jsonio.jsonable(metadata))
    except OSError as exc:
        fail(f"--save {save}: {exc.strerror or exc}")
    report["saved"] = str(save)


def _fit(estimator, X, y, lr: float) -> None:
    """Fit, turning divergence into one error line and each warning (a run that ended worse than it started,
    say) into one "warning:" line on stderr."""
    from ..nn.train import TrainingWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            estimator.fit(X, y)
        except nn.DivergenceError as exc:
            fail(f"{exc}; current --lr={lr:g}")
    for warning in caught:
        hint = f"; try a smaller --lr (now {lr:g})" if issubclass(warning.category, TrainingWarning) else ""
        err_console.print(f"[yellow]warning:[/] {warning.message}{hint}", highlight=False, soft_wrap=True)


def _print_report(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        from .. import _jsonio

        print(_jsonio.dumps(report, indent=2))
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


def check_train_metadata(meta: dict[str, Any], net: Any) -> str | None:
    """Why ``meta`` is not usable ``train`` metadata for ``net`` (a reason naming the field), or None."""
    dense = net.dense_layers()
    if not dense or dense[-1].out_features != 1:
        return "the network does not end in one output unit"
    n = dense[0].in_features
    names, classes = meta.get("feature_names"), meta.get("classes")
    if not (isinstance(names, list) and len(names) == n and all(isinstance(x, str) for x in names)):
        return f"metadata 'feature_names' must be a list of {n} column names (the network has {n} inputs)"
    if len(set(names)) != n:
        return "metadata 'feature_names' names a column twice"
    scalar = (str, int, float)
    if not (isinstance(classes, list) and len(classes) == 2 and all(isinstance(c, scalar) for c in classes)):
        return "metadata 'classes' must be a list of two labels (strings or numbers)"
    if classes[0] == classes[1] or isinstance(classes[0], bool) or isinstance(classes[1], bool):
        return "metadata 'classes' must hold two different labels"
    if meta.get("target") is not None and not isinstance(meta["target"], str):
        return "metadata 'target' must be a column name or null"
    try:
        nn.Standardizer.from_json(meta.get("standardize"), n_features=n)
    except ValueError as exc:
        return f"metadata {exc}"
    return None


@app.command("predict")
def predict_command(
    model: Annotated[Path, typer.Option("--model", help="A model saved by `sigmoidlab train --save`.")],
    csv_path: Annotated[Path, typer.Option("--csv", help="Rows to classify: a CSV with the model's feature columns.")],
    out: Annotated[
        str | None, typer.Option(help="Write the predictions to this file (atomically); '-' or none: stdout.")
    ] = None,
) -> None:
    """Apply a saved model to a CSV file: one row per input row with the label and the class probabilities.

    The columns are matched by name (any order); the training target column, if present, is ignored.
    """
    import numpy as np

    from .. import datasets
    from ..functions import sigmoid

    try:
        net, meta = nn.load(model)
    except (OSError, ValueError) as exc:
        fail(f"--model {model}: {exc}" if str(model) not in str(exc) else str(exc))
    if meta.get("kind") != "sigmoidlab.train":
        fail(f"--model {model}: a sigmoidlab network, but not one saved by `sigmoidlab train` (no feature names)")
    problem = check_train_metadata(meta, net)
    if problem:
        fail(f"--model {model}: {problem}")
    if out is not None and out != STDOUT:
        check_output("--out", Path(out))
    ignore = [meta["target"]] if meta.get("target") else []
    try:
        X, _, _ = datasets.load_csv(csv_path, None, features=meta["feature_names"], ignore=ignore)
    except datasets.CSVError as exc:
        fail(str(exc))
    scaler = nn.Standardizer.from_json(meta.get("standardize"))  # checked by check_train_metadata
    with np.errstate(all="ignore"):  # an extreme row may overflow to ±inf: σ handles it, NaN is reported below
        if scaler is not None:
            X = scaler.transform(X)
        z = net.forward(X)[:, 0].astype(np.float64)
    text = _predictions_csv(z, meta["classes"], sigmoid)
    if np.isnan(z).any():
        err_console.print(f"[yellow]warning:[/] {int(np.isnan(z).sum())} rows overflow the network (logit NaN)")
    if out is None or out == STDOUT:
        print(text, end="")
        return
    try:
        write_text(Path(out), text, newline="")
    except OSError as exc:
        fail(f"--out {out}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        interrupted(f"interrupted: no predictions written (--out {out} is untouched)")
        raise
    console.print(f"wrote {len(z)} predictions to {out}", highlight=False)


def _predictions_csv(z, classes: list, sigmoid) -> str:
    """CSV text: label, proba_<class 0>, proba_<class 1> per row, decided on the logit z."""
    import numpy as np

    labels = np.where(z > 0, 1, 0)  # z > 0 ⇔ σ(z) > 1/2, decided on the logit so that ties cannot flip
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["label", f"proba_{classes[0]}", f"proba_{classes[1]}"])
    for label, p0, p1 in zip(labels, sigmoid(-z), sigmoid(z), strict=True):
        writer.writerow([classes[label], repr(float(p0)), repr(float(p1))])
    return buffer.getvalue()
