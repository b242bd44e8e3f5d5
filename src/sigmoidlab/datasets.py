"""Binary classification data: 2-D toy problems, two real data sets bundled with scikit-learn, and CSV files.

Every loader returns ``X`` as float64 of shape ``(n, d)`` and ``y`` as int64 of shape ``(n,)`` with values in
{0, 1}. The 2-D generators share one signature, ``(n_samples, noise, random_state)``, and are deterministic for
a fixed ``random_state`` (an int, a ``numpy.random.RandomState`` or None for fresh randomness):

=============  =====================================================  ==========================================
name           what it is                                             what ``noise`` is
=============  =====================================================  ==========================================
``xor``        four clusters at (±1, ±1); class 1 where the signs     std of the Gaussian around each corner
               of the corner's coordinates differ (the XOR table)
``moons``      two interleaving half circles (scikit-learn)           std of the Gaussian added to each point
``circles``    a small circle inside a large one (scikit-learn)       std of the Gaussian added to each point
``spiral``     two interleaved spirals, 1.75 turns each               std of the Gaussian added to each point
``gaussians``  two isotropic Gaussian blobs at (−1, −1) and (1, 1)    std of each blob
``linear``     two informative features, linearly separable up to     fraction of labels assigned at random
               label noise (scikit-learn's ``make_classification``)
=============  =====================================================  ==========================================

A single sigmoid unit (logistic regression) separates classes with a straight line: it solves ``gaussians``
and ``linear`` and fails on ``xor``, ``circles`` and ``spiral``, which need a hidden layer.

``breast_cancer()`` and ``digits_binary()`` ship inside scikit-learn (no download). :func:`load` takes any
name in :data:`NAMES`; :func:`load_csv` reads the user's own data and never guesses: any problem is a
:class:`CSVError` that names the file, the row and the column.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn import datasets as _sk
from sklearn.utils import check_random_state

__all__ = [
    "GENERATORS",
    "NAMES",
    "REGRESSION",
    "CSVError",
    "breast_cancer",
    "circles",
    "digits_binary",
    "feature_names",
    "gaussians",
    "linear",
    "load",
    "load_csv",
    "moons",
    "reg_gauss",
    "reg_plane",
    "spiral",
    "xor",
]

RandomState = int | np.random.RandomState | None


def _pair(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.ascontiguousarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64)


def _check_n_samples(n_samples: int) -> None:
    if isinstance(n_samples, bool) or not isinstance(n_samples, int | np.integer) or n_samples < 2:
        raise ValueError(f"n_samples={n_samples!r} must be an integer ≥ 2 (one sample per class at least)")


def _check_noise(noise: float, upper: float = np.inf) -> None:
    if not (0 <= noise <= upper and np.isfinite(noise)):
        bound = f"{upper:g}]" if np.isfinite(upper) else "inf), a finite number"
        raise ValueError(f"noise={noise!r} must lie in [0, {bound}")


def xor(n_samples: int = 200, noise: float = 0.25, random_state: RandomState = None) -> tuple[np.ndarray, np.ndarray]:
    """The XOR problem: Gaussian clusters around the corners (±1, ±1), labelled by the XOR of the signs.

    Corner (a, b) has label ``(a > 0) != (b > 0)``, so opposite corners share a class and no line separates
    the classes: the best a linear classifier can do is 3 corners of 4 (accuracy 0.75). The points are spread
    evenly over the four corners; ``noise`` is the standard deviation around each corner, so with noise ≲ 0.4
    the clusters (almost) never cross the axes and a network with one hidden layer can reach accuracy 1.
    """
    _check_n_samples(n_samples)
    _check_noise(noise)
    rng = check_random_state(random_state)
    corner = np.arange(n_samples) % 4
    rng.shuffle(corner)
    signs = np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])
    X = signs[corner] + noise * rng.standard_normal((n_samples, 2))
    y = (signs[corner, 0] > 0) != (signs[corner, 1] > 0)
    return _pair(X, y)


def moons(n_samples: int = 200, noise: float = 0.2, random_state: RandomState = None) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (``sklearn.datasets.make_moons``), with Gaussian noise of std ``noise``."""
    _check_n_samples(n_samples)
    _check_noise(noise)
    return _pair(*_sk.make_moons(n_samples=n_samples, noise=noise, random_state=check_random_state(random_state)))


def circles(
    n_samples: int = 200, noise: float = 0.1, random_state: RandomState = None, factor: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """A circle of radius ``factor`` (class 1) inside one of radius 1 (class 0): ``sklearn.datasets.make_circles``."""
    _check_n_samples(n_samples)
    _check_noise(noise)
    X, y = _sk.make_circles(
        n_samples=n_samples, noise=noise, factor=factor, random_state=check_random_state(random_state)
    )
    return _pair(X, y)


def spiral(
    n_samples: int = 200, noise: float = 0.05, random_state: RandomState = None, turns: float = 1.75
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals (Lang & Witbrock 1988), the hardest of the 2-D problems.

    Class 0 follows r = t, θ = 2π·turns·t for t uniform in [0.05, 1]; class 1 is the same curve rotated by π.
    Points lie within the unit disc before the Gaussian noise of std ``noise`` is added.
    """
    _check_n_samples(n_samples)
    _check_noise(noise)
    rng = check_random_state(random_state)
    y = np.arange(n_samples) % 2
    rng.shuffle(y)
    t = rng.uniform(0.05, 1.0, n_samples)
    theta = 2 * np.pi * turns * t + np.pi * y
    X = t[:, None] * np.column_stack([np.cos(theta), np.sin(theta)]) + noise * rng.standard_normal((n_samples, 2))
    return _pair(X, y)


def gaussians(
    n_samples: int = 200, noise: float = 1.0, random_state: RandomState = None
) -> tuple[np.ndarray, np.ndarray]:
    """Two isotropic Gaussian blobs centred at (−1, −1) (class 0) and (1, 1) (class 1), each of std ``noise``.

    The Bayes-optimal boundary is the line x₁ + x₂ = 0, with error rate Φ(−√2/noise) (7.9% at noise = 1).
    """
    _check_n_samples(n_samples)
    _check_noise(noise)
    X, y = _sk.make_blobs(
        n_samples=n_samples,
        centers=[[-1.0, -1.0], [1.0, 1.0]],
        cluster_std=noise,
        random_state=check_random_state(random_state),
    )
    return _pair(X, y)


def linear(n_samples: int = 200, noise: float = 0.0, random_state: RandomState = None) -> tuple[np.ndarray, np.ndarray]:
    """Two informative features, one Gaussian cluster per class (``sklearn.datasets.make_classification``).

    ``noise`` is the fraction of samples whose label is drawn at random (``flip_y``): about ``noise/2`` of the
    labels end up wrong, which bounds the accuracy any classifier can reach.
    """
    _check_n_samples(n_samples)
    _check_noise(noise, upper=1.0)
    X, y = _sk.make_classification(
        n_samples=n_samples,
        n_features=2,
        n_informative=2,
        n_redundant=0,
        n_clusters_per_class=1,
        class_sep=1.5,
        flip_y=noise,
        random_state=check_random_state(random_state),
    )
    return _pair(X, y)


# --- regression (TensorFlow Playground's two data sets) ---------------------------------------------------------


def _tf_uniform_plane(n_samples: int, noise: float, random_state: RandomState) -> tuple[np.ndarray, np.ndarray]:
    """Points uniform in [−6, 6]², and the same points displaced by noise·U(−6, 6)² where the label is read."""
    _check_n_samples(n_samples)
    _check_noise(noise, upper=1.0)
    rng = check_random_state(random_state)
    X = rng.uniform(-6.0, 6.0, (n_samples, 2))
    return X, X + noise * rng.uniform(-6.0, 6.0, (n_samples, 2))


def reg_plane(
    n_samples: int = 200, noise: float = 0.0, random_state: RandomState = None
) -> tuple[np.ndarray, np.ndarray]:
    """A tilted plane: target t = (x₁ + x₂)/10 (in [−1.2, 1.2]), TensorFlow Playground's ``reg-plane``.

    ``noise`` (0..1) displaces the point at which the label is read by noise·U(−6, 6) in each coordinate (the
    point itself stays), as TensorFlow Playground does. ``y`` is float64 here, not a class.
    """
    X, at = _tf_uniform_plane(n_samples, noise, random_state)
    return np.ascontiguousarray(X), (at[:, 0] + at[:, 1]) / 10.0


# (centre x, centre y, sign): TensorFlow Playground's six bumps for reg-gauss.
_REG_GAUSSIANS = np.array([[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]])


def reg_gauss(
    n_samples: int = 200, noise: float = 0.0, random_state: RandomState = None
) -> tuple[np.ndarray, np.ndarray]:
    """Six signed bumps, TensorFlow Playground's ``reg-gauss``: t = the bump value largest in magnitude, where a
    bump of sign s centred at c gives s·max(0, 1 − ‖p − c‖/2). ``noise`` as in :func:`reg_plane`; ``y`` float64.
    """
    X, at = _tf_uniform_plane(n_samples, noise, random_state)
    d = np.hypot(at[:, None, 0] - _REG_GAUSSIANS[:, 0], at[:, None, 1] - _REG_GAUSSIANS[:, 1])
    values = _REG_GAUSSIANS[:, 2] * np.clip(1.0 - d / 2.0, 0.0, 1.0)  # (n, 6)
    pick = np.argmax(np.abs(values), axis=1)  # the first of equal magnitudes, as TF's strict ">" keeps
    return np.ascontiguousarray(X), values[np.arange(len(X)), pick]


#: The regression data sets (2-D, float targets; not in :data:`NAMES`, whose targets are classes).
REGRESSION: tuple[str, ...] = ("reg_plane", "reg_gauss")


def breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    """Wisconsin diagnostic breast cancer: 569 samples, 30 features; y = 1 for benign, 0 for malignant.

    The labels are scikit-learn's (``load_breast_cancer().target_names == ['malignant', 'benign']``). The
    features span five orders of magnitude: standardise them before gradient descent.
    """
    return _pair(*_sk.load_breast_cancer(return_X_y=True))


def digits_binary() -> tuple[np.ndarray, np.ndarray]:
    """The 8×8 handwritten digits (1,797 samples, 64 pixel features in 0..16) as a binary task: y = 1 for 5–9.

    Class 0 is the digits 0–4 (901 samples), class 1 the digits 5–9 (896), so chance level is 0.501.
    """
    X, digit = _sk.load_digits(return_X_y=True)
    return _pair(X, digit >= 5)


_LOADERS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "xor": xor,
    "moons": moons,
    "circles": circles,
    "spiral": spiral,
    "gaussians": gaussians,
    "linear": linear,
    "breast_cancer": breast_cancer,
    "digits_binary": digits_binary,
}
#: Every name :func:`load` accepts.
NAMES: tuple[str, ...] = tuple(_LOADERS)
#: The 2-D generators, which take ``n_samples``, ``noise`` and ``random_state``.
GENERATORS: tuple[str, ...] = NAMES[:6]


def load(name: str, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
    """``load("moons", n_samples=500, noise=0.2, random_state=0)`` is ``moons(n_samples=500, ...)``.

    ``name`` is one of :data:`NAMES` (``"digits"`` is accepted for ``"digits_binary"``). Keyword arguments a
    loader does not take are an error, not silently ignored.
    """
    loader = _LOADERS.get("digits_binary" if name == "digits" else name)
    if loader is None:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(NAMES)}")
    try:
        return loader(**kwargs)
    except TypeError as exc:  # an argument the loader does not take: name the data set, not the function
        raise TypeError(f"data set {name!r}: {exc}") from None


def feature_names(name: str) -> list[str]:
    """The column names of :func:`load`'s ``X`` for data set ``name``: ``["x1", "x2"]`` for the 2-D generators."""
    if name in GENERATORS:
        return ["x1", "x2"]
    if name == "breast_cancer":
        return [str(f) for f in _sk.load_breast_cancer().feature_names]
    if name in ("digits", "digits_binary"):
        return [f"pixel_{i}_{j}" for i in range(8) for j in range(8)]
    raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(NAMES)}")


class CSVError(ValueError):
    """A CSV file that cannot be read as a binary classification table; the message names file, row, column."""


# Spellings of "no value" that pandas and R write: reported as missing rather than as non-numeric text.
_MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-"})


def load_csv(
    path: str | os.PathLike[str],
    target: str | None,
    *,
    features: Sequence[str] | None = None,
    ignore: Sequence[str] = (),
    delimiter: str = ",",
    return_classes: bool = False,
) -> tuple[np.ndarray, np.ndarray | None, list[str]] | tuple[np.ndarray, np.ndarray | None, list[str], np.ndarray]:
    """Read a CSV table with a header row: ``X, y, feature_names = load_csv("data.csv", target="label")``.

    Every column except ``target`` and those in ``ignore`` is a numeric feature (float64). The target may hold
    any two labels (numbers or text); they map to 0 and 1 in sorted order (numerically when every label is a
    number, so ``2 < 10``; labels equal as numbers, such as ``1`` and ``1.0``, are one class), and
    ``return_classes=True`` appends that mapping: ``classes[y]`` gives back the
    original labels. ``target=None`` reads features only (data to predict on) and returns ``y = None``.

    ``features`` states the expected feature columns (any order in the file; ``X`` follows ``features``'
    order): missing or unexpected columns are an error naming them. Blank lines are skipped; cells are
    stripped of surrounding spaces.

    Raises :class:`CSVError` naming the file, the row (data row, counting from 1, and its line in the file)
    and the column for: an empty file or one without data rows, duplicate or empty column names, a row with
    the wrong number of cells, a missing value (empty, NA, NaN, null, ?, …), text in a numeric column, an
    infinite value, an unknown target column, and a target with one class or more than two. ``OSError``
    (no such file) and ``UnicodeDecodeError`` are raised as CSVError too, since both mean "cannot read this".
    """
    where = os.fspath(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            header = next(reader, None)
            if header is None:
                raise CSVError(f"{where}: the file is empty (expected a header row of column names)")
            header = [name.strip() for name in header]
            rows, lines = [], []
            for row in reader:
                if not any(cell.strip() for cell in row):  # a blank line, or one of empty cells only
                    continue
                rows.append(row)
                lines.append(reader.line_num)
    except OSError as exc:
        raise CSVError(f"{where}: cannot read the file ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise CSVError(f"{where}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except csv.Error as exc:
        raise CSVError(f"{where}: not a valid CSV file ({exc})") from None

    columns = _check_header(where, header, target, features, ignore, delimiter)
    if not rows:
        raise CSVError(f"{where}: the file has a header but no data rows")
    for i, (row, line) in enumerate(zip(rows, lines, strict=True), start=1):
        if len(row) != len(header):
            raise CSVError(f"{where}: row {i} (line {line}) has {len(row)} cells, the header has {len(header)} columns")

    def cell_error(i: int, j: int, problem: str) -> CSVError:
        return CSVError(f"{where}: row {i + 1} (line {lines[i]}), column {header[j]!r} (#{j + 1}): {problem}")

    X = np.empty((len(rows), len(columns)), dtype=np.float64)
    for k, j in enumerate(columns):
        for i, row in enumerate(rows):
            X[i, k] = _number(row[j].strip(), lambda problem, i=i, j=j: cell_error(i, j, problem))
    names = [header[j] for j in columns]
    if target is None:
        return (X, None, names, np.array([])) if return_classes else (X, None, names)

    t = header.index(target)
    labels = [row[t].strip() for row in rows]
    for i, label in enumerate(labels):
        if label.lower() in _MISSING:
            raise cell_error(i, t, f"missing target value ({label!r})" if label else "missing target value")
    y, classes = _encode_labels(labels, lambda i, problem: cell_error(i, t, problem), f"{where}: target {target!r}")
    return (X, y, names, classes) if return_classes else (X, y, names)


def _check_header(
    where: str,
    header: list[str],
    target: str | None,
    features: Sequence[str] | None,
    ignore: Sequence[str],
    delimiter: str,
) -> list[int]:
    """Validate the header; return the indices of the feature columns in the order ``X`` will have them."""
    for j, name in enumerate(header):
        if not name:
            raise CSVError(f"{where}: column #{j + 1} of the header has no name")
        if header.index(name) != j:
            raise CSVError(f"{where}: column name {name!r} appears twice (columns #{header.index(name) + 1}, #{j + 1})")
    if target is not None and target not in header:
        hint = ""
        if len(header) == 1 and any(sep in header[0] for sep in ",;\t|" if sep != delimiter):
            hint = f" (the header is one column: is the delimiter not {delimiter!r}?)"
        raise CSVError(f"{where}: no target column {target!r}; the columns are {', '.join(map(repr, header))}{hint}")
    skip = {target, *ignore}
    present = [name for name in header if name not in skip]
    if features is None:
        if not present:
            raise CSVError(f"{where}: no feature columns besides the target {target!r}")
        return [header.index(name) for name in present]
    missing = [name for name in features if name not in header]
    extra = [name for name in present if name not in features]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing column{'s' * (len(missing) > 1)} {', '.join(map(repr, missing))}")
        if extra:
            parts.append(f"unexpected column{'s' * (len(extra) > 1)} {', '.join(map(repr, extra))}")
        raise CSVError(f"{where}: columns do not match the expected features: {'; '.join(parts)}")
    return [header.index(name) for name in features]


def _number(text: str, error: Callable[[str], CSVError]) -> float:
    if text.lower() in _MISSING:
        raise error(f"missing value ({text!r})" if text else "missing value (empty cell)")
    try:
        value = float(text)
    except ValueError:
        raise error(f"{text!r} is not a number") from None
    if not np.isfinite(value):
        raise error(f"{text!r} is not a finite number")
    return value


def _label_key(label: str) -> float | str:
    """Labels that are equal as numbers ("1", "1.0", "+1", "1e0") are one class; others compare as text."""
    try:
        value = float(label)
    except ValueError:
        return label
    return value if np.isfinite(value) else label


def _encode_labels(
    labels: list[str], error: Callable[[int, str], CSVError], what: str
) -> tuple[np.ndarray, np.ndarray]:
    """Map two distinct labels to 0/1 in sorted order; numeric labels sort as numbers and come back as numbers.

    Numeric labels that are equal as numbers ("1" and "1.0") are one class. When every label is a number the
    classes are those numbers (ints when integral); otherwise they are the labels as text, and a numeric class
    spelled several ways keeps its first spelling.
    """
    keys = [_label_key(label) for label in labels]
    first: dict[float | str, int] = {}  # class key -> first row with it
    for i, key in enumerate(keys):
        if key not in first:
            first[key] = i
            if len(first) == 3:
                a, b = (labels[j] for j in list(first.values())[:2])
                raise error(i, f"a third class {labels[i]!r} (after {a!r} and {b!r}): binary only, 2 classes")
    if len(first) < 2:
        spellings = sorted(set(labels))
        also = f", spelled {len(spellings)} ways: {', '.join(spellings)}" if len(spellings) > 1 else ""
        raise CSVError(f"{what} has only one class ({labels[0]!r}{also}): binary classification needs 2 classes")
    if all(isinstance(k, float) for k in first):
        classes = np.array(sorted(first), dtype=np.float64)
        y = (np.array(keys, dtype=np.float64) == classes[1]).astype(np.int64)
        if np.all(classes == np.round(classes)) and np.all(np.abs(classes) < 2**53):
            classes = classes.astype(np.int64)
        return y, classes
    text = {key: labels[row] for key, row in first.items()}  # one spelling per class
    classes = np.array(sorted(text.values()))
    y = np.array([text[key] == classes[1] for key in keys], dtype=np.int64)
    return y, classes
