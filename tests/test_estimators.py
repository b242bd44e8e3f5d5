"""The scikit-learn compatible classifiers: the estimator checks, the accuracy figures quoted in the README, and the
objective they minimise (against scikit-learn's own LogisticRegression)."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

from sigmoidlab import datasets, nn
from sigmoidlab.estimators import LogisticRegression, MLPClassifier


def _minibatch_without_sample_weight(estimator):
    """The mini-batch solvers take no sample_weight (a clear ValueError): scikit-learn's weight checks fail."""
    if getattr(estimator, "solver", "lbfgs") == "lbfgs" or not isinstance(estimator, LogisticRegression):
        return {}
    reason = "sample_weight is supported by solver='lbfgs' only"
    checks = (
        "check_sample_weights_pandas_series",
        "check_sample_weights_not_an_array",
        "check_sample_weights_list",
        "check_all_zero_sample_weights_error",
        "check_sample_weights_shape",
        "check_sample_weights_not_overwritten",
        "check_sample_weight_equivalence_on_dense_data",
        "check_classifiers_one_label_sample_weights",
    )
    return dict.fromkeys(checks, reason)


# Small, fast instances: every check fits a few times on at most a few hundred samples. (float32 is left out:
# check_methods_subset_invariance demands rtol 1e-7, below float32's resolution of 6e-8 per operation.)
@parametrize_with_checks(
    [
        LogisticRegression(),
        LogisticRegression(C=0.1, max_iter=20),
        LogisticRegression(solver="adam", max_iter=20, learning_rate_init=0.1),
        MLPClassifier(hidden_layer_sizes=(5,), max_iter=20, learning_rate_init=0.05),
        MLPClassifier(
            hidden_layer_sizes=(5, 3),
            activation=["sigmoid", "tanh"],
            batchnorm=True,
            solver="rmsprop",
            max_iter=20,
            learning_rate_init=0.05,
        ),
    ],
    expected_failed_checks=_minibatch_without_sample_weight,
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
        ({"alpha": np.inf}, "alpha=inf must be a finite number"),
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


# --- LogisticRegression: C, the L-BFGS default, against scikit-learn's LogisticRegression ---------------------


@pytest.fixture
def standardised_breast_cancer():
    X, y = datasets.breast_cancer()
    # L-BFGS-B's work is tiny BLAS calls: one thread, or on a loaded 2-core machine OpenBLAS's spinning
    # threads make it 20 times slower (scikit-learn's reference too).
    with threadpool_limits(1):
        yield StandardScaler().fit_transform(X), y


def _relative(a, b):
    return np.abs(np.asarray(a) - b).max() / np.abs(b).max()


@pytest.mark.parametrize("C", [0.01, 1.0, 100.0])
def test_lbfgs_reaches_scikit_learns_optimum(C, standardised_breast_cancer):
    """Both solved to tol 1e-10: coefficients and intercept within 1e-4 relative (measured: 2e-16, 2e-11 and
    1.1e-5 for C = 0.01, 1, 100; at C = 100 both stop on the ftol test of an ill-conditioned problem), so
    probabilities within 1e-5 (measured 2.3e-6 at C = 100)."""
    X, y = standardised_breast_cancer
    reference = SklearnLogisticRegression(C=C, tol=1e-10, max_iter=10_000).fit(X, y)
    ours = LogisticRegression(C=C, tol=1e-10, max_iter=10_000).fit(X, y)
    assert ours.coef_.shape == (1, 30) and ours.intercept_.shape == (1,)
    assert _relative(ours.coef_, reference.coef_) < 1e-4
    assert _relative(ours.intercept_, reference.intercept_) < 1e-4
    np.testing.assert_allclose(ours.predict_proba(X), reference.predict_proba(X), atol=1e-5)
    np.testing.assert_array_equal(ours.predict(X), reference.predict(X))
    # loss_curve_ ends at scikit-learn's objective at its optimum, in the mean form (1/n)·(Σ BCE + ‖w‖²/2C).
    objective = log_loss(y, reference.predict_proba(X)) + np.sum(reference.coef_**2) / (2 * C * len(y))
    assert ours.loss_curve_[-1] == pytest.approx(objective, rel=1e-9)
    assert len(ours.loss_curve_) == ours.n_iter_ and np.all(np.diff(ours.loss_curve_) <= 0)


@pytest.mark.parametrize("C", [0.01, 1.0, 100.0])
def test_defaults_stop_where_scikit_learn_stops(C, standardised_breast_cancer):
    """Same objective, start, tolerances and L-BFGS-B settings as scikit-learn: the same iterates (measured:
    3e-13 relative), and at C = 1 within 1.3% of the optimum (the mini-batch default was 48% off)."""
    X, y = standardised_breast_cancer
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ours = LogisticRegression(C=C).fit(X, y)
    reference = SklearnLogisticRegression(C=C).fit(X, y)
    assert _relative(ours.coef_, reference.coef_) < 1e-8
    assert _relative(ours.intercept_, reference.intercept_) < 1e-8
    assert ours.n_iter_ == reference.n_iter_[0]
    if C == 1.0:
        optimum = SklearnLogisticRegression(C=C, tol=1e-10, max_iter=10_000).fit(X, y)
        assert _relative(ours.coef_, optimum.coef_) < 0.013


def test_sample_weight_matches_scikit_learn_and_repetition(standardised_breast_cancer):
    X, y = standardised_breast_cancer
    w = np.random.default_rng(0).integers(0, 4, len(y)).astype(float)  # a quarter of the samples weigh 0
    reference = SklearnLogisticRegression(C=0.5, tol=1e-10, max_iter=10_000).fit(X, y, sample_weight=w)
    ours = LogisticRegression(C=0.5, tol=1e-10, max_iter=10_000).fit(X, y, sample_weight=w)
    assert _relative(ours.coef_, reference.coef_) < 1e-4 and _relative(ours.intercept_, reference.intercept_) < 1e-4
    np.testing.assert_allclose(ours.predict_proba(X), reference.predict_proba(X), atol=1e-6)
    # An integer weight k is k copies of the sample (the penalty is not rescaled by the weights' sum).
    k = w.astype(int)
    repeated = LogisticRegression(C=0.5, tol=1e-10, max_iter=10_000).fit(np.repeat(X, k, axis=0), np.repeat(y, k))
    assert _relative(repeated.coef_, ours.coef_) < 1e-6
    unweighted = LogisticRegression(C=0.5).fit(X, y)
    assert _relative(unweighted.coef_, ours.coef_) > 0.05  # the weights did change the fit
    with pytest.raises(ValueError, match="sample_weight needs solver='lbfgs', not 'adam'"):
        LogisticRegression(solver="adam").fit(X, y, sample_weight=w)
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        LogisticRegression().fit(X, y, sample_weight=-w)


def test_defaults_are_scikit_learns_where_the_names_match():
    ours, theirs = LogisticRegression().get_params(), SklearnLogisticRegression().get_params()
    shared = sorted(set(ours) & set(theirs))
    assert {"C", "max_iter", "random_state", "solver", "tol", "verbose"} <= set(shared)
    assert {name: ours[name] for name in shared} == {name: theirs[name] for name in shared}


def test_C_and_alpha_are_one_penalty(standardised_breast_cancer):
    """alpha = 1/C; alpha given alone replaces the default C; given together they must agree."""
    X, y = standardised_breast_cancer
    by_C = LogisticRegression(C=4.0).fit(X, y)
    for other in (LogisticRegression(alpha=0.25), LogisticRegression(C=4.0, alpha=0.25)):
        np.testing.assert_allclose(other.fit(X, y).coef_, by_C.coef_, rtol=1e-12)
    with pytest.raises(ValueError, match=r"alpha=0\.5 and C=4\.0 conflict \(alpha = 1/C\)"):
        LogisticRegression(C=4.0, alpha=0.5).fit(X, y)
    # No penalty: C=inf is alpha=0, and the mini-batch solvers read the same penalty.
    np.testing.assert_array_equal(
        LogisticRegression(C=np.inf).fit(X[:100], y[:100]).coef_,
        LogisticRegression(alpha=0.0).fit(X[:100], y[:100]).coef_,
    )
    for bad, name in [
        ({"C": 0.0}, "C"),
        ({"C": -1.0}, "C"),
        ({"C": np.nan}, "C=nan"),
        ({"alpha": np.inf}, "alpha=inf"),
    ]:
        with pytest.raises(ValueError, match=name):
            LogisticRegression(**bad).fit(X, y)


def test_lbfgs_warns_when_it_stops_early(standardised_breast_cancer, capsys):
    X, y = standardised_breast_cancer
    with pytest.warns(ConvergenceWarning, match=r"L-BFGS-B stopped after 3 iterations without converging"):
        clf = LogisticRegression(max_iter=3, verbose=True).fit(X, y)
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 3
    assert capsys.readouterr().out.count("L-BFGS iteration") == 3
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None
    with pytest.raises(ValueError, match="early_stopping=True needs a mini-batch solver"):
        LogisticRegression(early_stopping=True).fit(X, y)


def test_lbfgs_in_float32(standardised_breast_cancer):
    """The model computes in float32 (L-BFGS in float64): within float32's reach of the float64 optimum."""
    X, y = standardised_breast_cancer
    reference = SklearnLogisticRegression(C=1.0, tol=1e-10, max_iter=10_000).fit(X, y)
    ours = LogisticRegression(C=1.0, tol=1e-6, max_iter=1000, dtype=np.float32).fit(X, y)
    assert ours.model_.dtype == np.float32 and ours.coef_.dtype == np.float64
    assert _relative(ours.coef_, reference.coef_) < 2e-3  # measured 2.9e-4
    np.testing.assert_allclose(ours.predict_proba(X), reference.predict_proba(X), atol=5e-4)  # measured 1.2e-4


def test_pickle_and_clone_keep_C(standardised_breast_cancer):
    X, y = standardised_breast_cancer
    clf = LogisticRegression(C=0.05, alpha=20.0, solver="lbfgs", tol=1e-6).fit(X, y)
    copy = pickle.loads(pickle.dumps(clf))
    assert copy.get_params() == clf.get_params() and copy.C == 0.05 and copy.alpha == 20.0
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    fresh = clone(clf)
    assert fresh.get_params() == clf.get_params() and not hasattr(fresh, "coef_")
    np.testing.assert_array_equal(fresh.fit(X, y).coef_, clf.coef_)
    search = GridSearchCV(LogisticRegression(), {"C": [1e-4, 1.0]}, cv=3).fit(X, y)
    assert search.best_params_ == {"C": 1.0} and search.best_estimator_.C == 1.0


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
