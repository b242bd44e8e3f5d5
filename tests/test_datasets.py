"""Data sets: shapes, determinism, the geometry each generator promises, and the CSV loader's errors."""

import numpy as np
import pytest
from sklearn.datasets import make_circles, make_moons

from sigmoidlab import datasets
from sigmoidlab.datasets import CSVError, load_csv


@pytest.mark.parametrize("name", datasets.GENERATORS)
def test_generators_shape_dtype_balance_and_seed(name):
    X, y = datasets.load(name, n_samples=301, random_state=3)
    assert X.shape == (301, 2) and X.dtype == np.float64 and X.flags.c_contiguous
    assert y.shape == (301,) and y.dtype == np.int64
    assert set(np.unique(y)) == {0, 1}
    assert abs(np.count_nonzero(y) - 150.5) <= 25  # roughly balanced
    X2, y2 = datasets.load(name, n_samples=301, random_state=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _ = datasets.load(name, n_samples=301, random_state=4)
    assert not np.array_equal(X, X3)


@pytest.mark.parametrize("name", datasets.GENERATORS)
@pytest.mark.parametrize("kwargs", [{"n_samples": 1}, {"n_samples": 2.5}, {"n_samples": True}, {"noise": -0.1}])
def test_generators_reject_bad_arguments(name, kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        datasets.load(name, **kwargs)


def test_moons_and_circles_are_scikit_learns():
    X, y = datasets.moons(150, noise=0.2, random_state=7)
    X_ref, y_ref = make_moons(150, noise=0.2, random_state=7)
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(y, y_ref)
    X, y = datasets.circles(150, noise=0.05, random_state=7, factor=0.3)
    X_ref, y_ref = make_circles(150, noise=0.05, random_state=7, factor=0.3)
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(y, y_ref)


def test_xor_is_the_truth_table():
    """Without noise every point sits on a corner (±1, ±1) and its label is the XOR of the corner's signs."""
    X, y = datasets.xor(400, noise=0.0, random_state=0)
    assert set(map(tuple, X.tolist())) == {(-1.0, -1.0), (-1.0, 1.0), (1.0, -1.0), (1.0, 1.0)}
    np.testing.assert_array_equal(y, (X[:, 0] > 0) != (X[:, 1] > 0))
    assert np.bincount(y).tolist() == [200, 200]
    X, y = datasets.xor(4000, noise=0.25, random_state=1)
    assert np.mean(y == ((X[:, 0] > 0) != (X[:, 1] > 0))) > 0.999  # the clusters stay in their quadrants


def test_spiral_geometry():
    """Noise-free, a point at radius r has angle 2π·turns·r, plus π for class 1."""
    X, y = datasets.spiral(500, noise=0.0, random_state=0, turns=1.5)
    r = np.hypot(X[:, 0], X[:, 1])
    assert r.min() >= 0.05 and r.max() <= 1.0
    expected = 2 * np.pi * 1.5 * r + np.pi * y
    residual = np.angle(np.exp(1j * (np.arctan2(X[:, 1], X[:, 0]) - expected)))
    np.testing.assert_allclose(residual, 0, atol=1e-9)


def test_gaussians_centres_and_spread():
    X, y = datasets.gaussians(20000, noise=0.5, random_state=0)
    np.testing.assert_allclose(X[y == 0].mean(axis=0), [-1, -1], atol=0.02)
    np.testing.assert_allclose(X[y == 1].mean(axis=0), [1, 1], atol=0.02)
    np.testing.assert_allclose(X[y == 1].std(axis=0), [0.5, 0.5], atol=0.02)


def test_linear_noise_is_a_label_fraction():
    with pytest.raises(ValueError, match=r"noise=1.5 must lie in \[0, 1\]"):
        datasets.linear(noise=1.5)
    from sklearn.linear_model import LogisticRegression

    X, y = datasets.linear(2000, noise=0.0, random_state=0)
    assert LogisticRegression().fit(X, y).score(X, y) > 0.97


def test_real_data_sets():
    X, y = datasets.breast_cancer()
    assert X.shape == (569, 30) and X.dtype == np.float64
    assert np.bincount(y).tolist() == [212, 357]  # 0 = malignant, 1 = benign
    X, y = datasets.digits_binary()
    assert X.shape == (1797, 64) and X.max() == 16
    assert np.bincount(y).tolist() == [901, 896]  # 0-4 vs 5-9
    np.testing.assert_array_equal(datasets.load("digits")[1], y)


def test_load_names_and_errors():
    assert (*datasets.GENERATORS, "breast_cancer", "digits_binary") == datasets.NAMES
    for name in datasets.NAMES:
        X, _ = datasets.load(name)
        assert X.shape[1] == len(datasets.feature_names(name))
    assert datasets.feature_names("breast_cancer")[0] == "mean radius"
    with pytest.raises(ValueError, match=r"unknown data set 'iris'.*moons"):
        datasets.load("iris")
    with pytest.raises(TypeError, match=r"data set 'breast_cancer'.*noise"):
        datasets.load("breast_cancer", noise=0.1)


# --- load_csv ----------------------------------------------------------------------------------------------


def write(tmp_path, text, name="data.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_load_csv_text_labels_in_sorted_order(tmp_path):
    path = write(tmp_path, 'a,b,"label"\n1,2.5,spam\n\n 3 , -4e2 ,ham\n"5",6,spam\n')
    X, y, names = load_csv(path, target="label")
    np.testing.assert_array_equal(X, [[1, 2.5], [3, -400], [5, 6]])
    assert X.dtype == np.float64 and names == ["a", "b"]
    X, y, names, classes = load_csv(path, target="label", return_classes=True)
    assert classes.tolist() == ["ham", "spam"] and y.tolist() == [1, 0, 1]
    assert classes[y].tolist() == ["spam", "ham", "spam"]


def test_load_csv_numeric_labels_sort_as_numbers(tmp_path):
    path = write(tmp_path, "x,y\n1,10\n2,2\n3,10\n")
    _, y, _, classes = load_csv(path, "y", return_classes=True)
    assert classes.tolist() == [2, 10] and classes.dtype == np.int64
    assert y.tolist() == [1, 0, 1]
    path = write(tmp_path, "x,y\n1,0.5\n2,-1\n")
    _, y, _, classes = load_csv(path, "y", return_classes=True)
    assert classes.tolist() == [-1.0, 0.5] and y.tolist() == [1, 0]


def test_load_csv_numeric_labels_equal_as_numbers_are_one_class(tmp_path):
    """Regression: "1.0" and "1" in one column were two classes (a third-class error with "0")."""
    path = write(tmp_path, "x,y\n1,1\n2,0\n3,1.0\n4,0.0\n5,+1\n6,1e0\n")
    _, y, _, classes = load_csv(path, "y", return_classes=True)
    assert classes.tolist() == [0, 1] and classes.dtype == np.int64
    assert y.tolist() == [1, 0, 1, 0, 1, 1]
    # Mixed numbers and text: compared as numbers where they are numbers, kept as text (first spelling).
    path = write(tmp_path, "x,y\n1,yes\n2,1.0\n3,1\n4,yes\n")
    _, y, _, classes = load_csv(path, "y", return_classes=True)
    assert classes.tolist() == ["1.0", "yes"] and y.tolist() == [1, 0, 0, 1]
    # Text that is not a finite number stays text: "inf" and "Inf" are two different labels.
    path = write(tmp_path, "x,y\n1,inf\n2,Inf\n")
    _, y, _, classes = load_csv(path, "y", return_classes=True)
    assert classes.tolist() == ["Inf", "inf"] and y.tolist() == [1, 0]


def test_noise_must_be_finite():
    """Regression: noise=inf was accepted (and made every point inf or NaN)."""
    for generator in (datasets.moons, datasets.xor, datasets.circles, datasets.spiral, datasets.gaussians):
        with pytest.raises(ValueError, match=r"noise=inf must lie in \[0, inf\), a finite number"):
            generator(10, noise=float("inf"))
    with pytest.raises(ValueError, match="noise=nan"):
        datasets.linear(10, noise=float("nan"))


def test_load_csv_feature_selection(tmp_path):
    path = write(tmp_path, "id,b,a,t\n1,2,3,x\n4,5,6,y\n")
    X, y, names = load_csv(path, None, features=["a", "b"], ignore=["id", "t"])
    np.testing.assert_array_equal(X, [[3, 2], [6, 5]])
    assert y is None and names == ["a", "b"]
    X, _, names = load_csv(path, "t", ignore=["id"])
    assert names == ["b", "a"]
    with pytest.raises(CSVError, match=r"missing column 'c'; unexpected columns 'id', 't'"):
        load_csv(path, None, features=["a", "b", "c"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"the file is empty"),
        ("a,b,label\n", r"header but no data rows"),
        ("a,b,t\n1,2,x\n", r"no target column 'label'; the columns are 'a', 'b', 't'"),
        ("a;b;label\n1;2;x\n", r"is the delimiter not ','"),
        ("a,b,label\n1,2,x\n3,,y\n", r"row 2 \(line 3\), column 'b' \(#2\): missing value \(empty cell\)"),
        ("a,b,label\n1,2,x\n\n3,NA,y\n", r"row 2 \(line 4\), column 'b' \(#2\): missing value \('NA'\)"),
        ("a,b,label\n1,2,x\n3,4,\n", r"row 2 \(line 3\), column 'label' \(#3\): missing target value"),
        ("a,b,label\n1,2,x\n3,4 5,y\n", r"row 2 \(line 3\), column 'b' \(#2\): '4 5' is not a number"),
        ("a,b,label\n1,inf,x\n", r"row 1 \(line 2\), column 'b' \(#2\): 'inf' is not a finite number"),
        ("a,b,label\n1,2,x\n3,4,y\n5,6,z\n", r"row 3 \(line 4\), column 'label' \(#3\): a third class 'z'"),
        ("a,b,label\n1,2,x\n3,4,x\n", r"target 'label' has only one class \('x'\)"),
        ("a,b,label\n1,2,1\n3,4,1.0\n", r"only one class \('1', spelled 2 ways: 1, 1.0\)"),
        ("a,b,label\n1,2,1\n3,4,1.0\n5,6,0\n7,8,2\n", r"row 4 \(line 5\), column 'label' \(#3\): a third class '2'"),
        ("a,b,label\n1,2,x\n3,4\n", r"row 2 \(line 3\) has 2 cells, the header has 3 columns"),
        ("a,a,label\n1,2,x\n", r"column name 'a' appears twice"),
        ("a,,label\n1,2,x\n", r"column #2 of the header has no name"),
        ("label\nx\ny\n", r"no feature columns"),
    ],
)
def test_load_csv_errors_name_row_and_column(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(CSVError, match=message) as info:
        load_csv(path, target="label")
    assert str(info.value).startswith(str(path))
    assert isinstance(info.value, ValueError)


def test_load_csv_unreadable_files(tmp_path):
    with pytest.raises(CSVError, match="cannot read the file"):
        load_csv(tmp_path / "nope.csv", "t")
    path = write(tmp_path, "a,t\n1,é\n", encoding="latin-1")
    with pytest.raises(CSVError, match="not UTF-8"):
        load_csv(path, "t")
