"""The scikit-learn compatible classifiers: the estimator checks, the accuracy figures of issue 4, and the
objective they minimise (against scikit-learn's own LogisticRegression)."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from sigmoidlab import datasets, nn
from sigmoidlab.estimators import LogisticRegression, MLPClassifier


# Small, fast instances: every check fits a few times on at most a few hundred samples. (float32 is left out:
# check_methods_subset_invariance demands rtol 1e-7, below float32's resolution of 6e-8 per operation.)
@parametrize_with_checks(
    [
        LogisticRegression(max_iter=20, learning_rate_init=0.1),
        MLPClassifier(hidden_layer_sizes=(5,), max_iter=20, learning_rate_init=0.05),
        MLPClassifier(
            hidden_layer_sizes=(5, 3),
            activation=["sigmoid", "tanh"],
            batchnorm=True,
            solver="rmsprop",
            max_iter=20,
            learning_rate_init=0.05,
        ),
    ]
)
def test_scikit_learn_estimator_checks(estimator, check, monkeypatch):
    # check_array_api_input runs (on NumPy only: no array_api_support tag) only when this is set.
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def test_binary_only_is_declared_and_enforced():
    for est in (LogisticRegression(), MLPClassifier()):
        assert est.__sklearn_tags__().classifier_tags.multi_class is False
    X = np.arange(12.0).reshape(6, 2)
    with pytest.raises(ValueError, match=r"Only binary classification is supported.*multiclass.*3 classes"):
        MLPClassifier(max_iter=2).fit(X, [0, 1, 2, 0, 1, 2])
    with pytest.raises(ValueError, match="needs samples of 2 classes, but y has 1 class"):
        LogisticRegression(max_iter=2).fit(X, ["a"] * 6)
    with pytest.raises(ValueError, match="Unknown label type"):
        LogisticRegression(max_iter=2).fit(X, np.linspace(0, 1, 6))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"solver": "lbfgs"}, "solver='lbfgs'"),
        ({"activation": "softmax"}, "activation='softmax'"),
        ({"activation": ["tanh"], "hidden_layer_sizes": (3, 3)}, "1 activations for 2 hidden layers"),
        ({"hidden_layer_sizes": (3, 0)}, "hidden_layer_sizes"),
        ({"batch_size": 0}, "batch_size=0"),
        ({"alpha": -1.0}, "alpha"),
        ({"learning_rate_init": 0.0}, "learning_rate_init"),
        ({"dtype": np.float16}, "dtype"),
        ({"init": "zeros"}, "unknown init 'zeros'"),
    ],
)
def test_bad_parameters_are_named(params, message):
    X, y = datasets.gaussians(20, random_state=0)
    with pytest.raises(ValueError, match=message):
        MLPClassifier(max_iter=2, **params).fit(X, y)


def test_xor_needs_a_hidden_layer():
    """XOR (400 points, noise 0.25, seed 0): logistic regression stays ≤ 0.75 (no line gets more than 3 of the
    4 corners), MLPClassifier(hidden_layer_sizes=(4,), activation="sigmoid", Adam lr 0.05) reaches 1.0."""
    X, y = datasets.xor(400, noise=0.25, random_state=0)
    linear = LogisticRegression(random_state=0, tol=0).fit(X, y)
    assert linear.score(X, y) <= 0.75
    mlp = MLPClassifier(hidden_layer_sizes=(4,), activation="sigmoid", learning_rate_init=0.05, random_state=0)
    assert mlp.fit(X, y).score(X, y) == 1.0


def test_moons_logistic_vs_sigmoid_mlp():
    """moons (2,000 points, noise 0.2, seed 0, half held out): logistic regression 0.84-0.89 test accuracy,
    MLPClassifier(hidden_layer_sizes=(16,), activation="sigmoid", Adam lr 0.05, batch 64, 100 epochs) ≥ 0.96."""
    X, y = datasets.moons(2000, noise=0.2, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, random_state=0)
    linear = LogisticRegression(random_state=0).fit(X_train, y_train)
    assert 0.84 <= linear.score(X_test, y_test) <= 0.89
    mlp = MLPClassifier(
        hidden_layer_sizes=(16,),
        activation="sigmoid",
        learning_rate_init=0.05,
        batch_size=64,
        max_iter=100,
        tol=0,
        random_state=0,
    )
    assert mlp.fit(X_train, y_train).score(X_test, y_test) >= 0.96


@pytest.mark.parametrize(
    "estimator",
    [
        LogisticRegression(random_state=0),
        MLPClassifier((16,), activation="sigmoid", learning_rate_init=0.01, random_state=0),
    ],
    ids=["logistic", "mlp16-sigmoid-adam0.01"],
)
def test_breast_cancer_in_a_pipeline(estimator):
    """breast_cancer, StandardScaler in a Pipeline, stratified 25% test split (seed 0): ≥ 0.95 test accuracy."""
    X, y = datasets.breast_cancer()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe = make_pipeline(StandardScaler(), estimator).fit(X_train, y_train)
    assert pipe.score(X_test, y_test) >= 0.95


def test_logistic_regression_minimises_scikit_learns_objective():
    """alpha = 1/C: full-batch gradient descent converges to sklearn.linear_model.LogisticRegression(C=1/alpha)."""
    X, y = datasets.breast_cancer()
    X = StandardScaler().fit_transform(X)
    reference = SklearnLogisticRegression(C=0.5, tol=1e-12, max_iter=10_000).fit(X, y)
    ours = LogisticRegression(
        alpha=2.0, solver="sgd", learning_rate_init=0.5, batch_size=len(y), max_iter=1500, tol=0, random_state=0
    ).fit(X, y)
    np.testing.assert_allclose(ours.coef_, reference.coef_, atol=1e-4)
    np.testing.assert_allclose(ours.intercept_, reference.intercept_, atol=1e-4)
    assert ours.coef_.shape == (1, 30) and ours.intercept_.shape == (1,)


def test_string_labels_and_probability_methods():
    X, t = datasets.gaussians(200, noise=0.8, random_state=1)
    y = np.array(["cat", "dog"])[t]
    clf = MLPClassifier(
        (6, 5), activation=["tanh", "sigmoid"], learning_rate_init=0.02, max_iter=100, tol=0, random_state=0
    )
    clf.fit(X, y)
    assert clf.classes_.tolist() == ["cat", "dog"]
    assert set(clf.predict(X)) == {"cat", "dog"} and clf.score(X, y) > 0.85
    proba, z = clf.predict_proba(X), clf.decision_function(X)
    assert proba.shape == (200, 2) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-15)
    np.testing.assert_allclose(np.log(proba[:, 1] / proba[:, 0]), z, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-14)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[(z > 0).astype(int)])
    assert [c.shape for c in clf.coefs_] == [(2, 6), (6, 5), (5, 1)]
    assert [b.shape for b in clf.intercepts_] == [(6,), (5,), (1,)]
    assert clf.n_features_in_ == 2


def test_tol_zero_trains_exactly_max_iter_epochs():
    X, y = datasets.moons(100, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # the user asked for exactly max_iter: no warning
        clf = MLPClassifier((4,), max_iter=37, tol=0, random_state=0).fit(X, y)
    assert clf.n_iter_ == 37 and len(clf.loss_curve_) == 37
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None
    converged = MLPClassifier((4,), max_iter=500, tol=0.05, n_iter_no_change=3, random_state=0).fit(X, y)
    assert converged.n_iter_ < 500
    with pytest.warns(ConvergenceWarning, match=r"maximum iterations \(3\) reached"):
        MLPClassifier((4,), max_iter=3, random_state=0).fit(X, y)


def test_early_stopping_keeps_the_best_epoch():
    X, y = datasets.moons(400, noise=0.3, random_state=0)
    clf = MLPClassifier(
        (16,), early_stopping=True, n_iter_no_change=5, learning_rate_init=0.05, max_iter=300, random_state=0
    ).fit(X, y)
    assert clf.n_iter_ < 300 and len(clf.validation_scores_) == clf.n_iter_ == len(clf.loss_curve_)
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    # The restored weights are those of the best epoch: re-scoring the held-out split (same seeds) gives it.
    seed = np.random.RandomState(0).randint(np.iinfo(np.int32).max, size=3)[2]
    _, X_val, _, y_val = train_test_split(X, y, test_size=0.1, stratify=y, random_state=seed)
    assert clf.score(X_val, y_val) == clf.best_validation_score_
    with pytest.raises(ValueError, match="fewer than 2 validation samples"):
        clone(clf).fit(X[:10], y[:10])


@pytest.mark.parametrize("solver", ["adam", "sgd", "rmsprop"])
@pytest.mark.parametrize("batchnorm", [False, True])
def test_solvers_batchnorm_and_float32(solver, batchnorm):
    X, y = datasets.gaussians(300, noise=0.7, random_state=2)
    lr = {"adam": 0.01, "sgd": 0.05, "rmsprop": 0.01}[solver]
    clf = MLPClassifier(
        (8,),
        solver=solver,
        batchnorm=batchnorm,
        dtype=np.float32,
        learning_rate_init=lr,
        max_iter=40,
        tol=0,
        random_state=0,
    ).fit(X, y)
    assert clf.model_.dtype == np.float32 and clf.coefs_[0].dtype == np.float64
    assert clf.score(X, y) > 0.9
    assert any(isinstance(layer, nn.BatchNorm1d) for layer in clf.model_.layers) == batchnorm


def test_same_seed_same_model_and_penalty_shrinks_weights():
    X, y = datasets.circles(200, random_state=0)
    a = MLPClassifier((8,), learning_rate_init=0.05, max_iter=60, tol=0, random_state=3).fit(X, y)
    b = clone(a).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    strong = clone(a).set_params(alpha=50.0).fit(X, y)
    norm = [sum(np.sum(w**2) for w in clf.coefs_) for clf in (a, strong)]
    assert norm[1] < 0.5 * norm[0]


def test_grid_search_over_a_pipeline():
    X, y = datasets.circles(200, noise=0.1, random_state=0)
    pipe = make_pipeline(
        StandardScaler(), MLPClassifier(activation="tanh", learning_rate_init=0.05, max_iter=60, tol=0, random_state=0)
    )
    search = GridSearchCV(pipe, {"mlpclassifier__hidden_layer_sizes": [(), (8,)]}, cv=3).fit(X, y)
    # No hidden layer is logistic regression, which cannot separate concentric circles.
    assert search.best_params_ == {"mlpclassifier__hidden_layer_sizes": (8,)}
    assert search.best_score_ > 0.9
    assert search.cv_results_["mean_test_score"][0] < 0.7
