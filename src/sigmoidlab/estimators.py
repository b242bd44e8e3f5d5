r"""Binary classifiers with scikit-learn's interface, trained by :mod:`sigmoidlab.nn`.

``LogisticRegression`` is one sigmoid unit, p(y=1|x) = σ(x·w + b); ``MLPClassifier`` puts hidden layers in
front of it. Both minimise the mean binary cross-entropy plus an L2 penalty on the weights (not the biases):

    J(W) = (1/n) Σᵢ BCE(zᵢ, tᵢ) + (alpha / 2n) Σ‖W‖²

with n the number of training samples. Each mini-batch step uses the unbiased estimate
mean-over-batch BCE gradient + (alpha/n)·W, so ``alpha`` means the same whatever the batch size. For
``LogisticRegression`` J is (alpha/n) times scikit-learn's objective ½‖w‖² + C·Σᵢ BCEᵢ with C = 1/alpha, so both
have the same minimiser; ``LogisticRegression`` takes ``C`` (default 1.0, as scikit-learn) and, by default,
solves it to scikit-learn's tolerance with full-batch L-BFGS-B (see its docstring).
(scikit-learn's ``MLPClassifier`` divides its penalty by the batch size instead of n, so its ``alpha`` is
n/batch_size times stronger than ours.)

Parameter and attribute names follow ``sklearn.neural_network.MLPClassifier`` wherever the concept is the
same, and so do the defaults, so that swapping the import gives a comparable model (``LogisticRegression``
follows ``sklearn.linear_model.LogisticRegression`` for ``C``, ``solver``, ``tol`` and ``max_iter``). Differences:

* ``solver``: "adam", "sgd" (constant learning rate; momentum and Nesterov as in scikit-learn) or "rmsprop"
  (decay ``beta_2``), run by our own mini-batch engine; ``LogisticRegression`` adds "lbfgs" (its default).
* ``activation`` may be a list, one per hidden layer; "sigmoid" is an alias of "logistic", and "leaky_relu"
  is available.
* Stopping (mini-batch solvers): with ``early_stopping=True``, a stratified ``validation_fraction`` of the
  training data is held out and training stops once the validation accuracy has not improved by at least ``tol``
  for ``n_iter_no_change`` epochs; the weights of the best epoch are restored. Otherwise training stops once the
  training objective has not decreased by at least ``tol`` for ``n_iter_no_change`` epochs, and ``tol=0``
  turns that test off: ``early_stopping=False, tol=0`` trains exactly ``max_iter`` epochs. Reaching
  ``max_iter`` while a stopping test is active raises a ``ConvergenceWarning``.
* Additions: ``batchnorm`` (batch normalisation before each hidden activation), ``init`` (see
  :mod:`sigmoidlab.nn.init`) and ``dtype`` (float64 or float32 for the network's arithmetic).
* Binary only (declared through scikit-learn's tags); a target with more than two classes is a ValueError.

A loss that becomes NaN or infinite stops a mini-batch ``fit`` with :class:`sigmoidlab.nn.DivergenceError`
(lower ``learning_rate_init``).
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, check_scalar
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import nn
from .functions import binary_cross_entropy_with_logits, log_sigmoid, sigmoid
from .nn.parameter import pack

__all__ = ["LogisticRegression", "MLPClassifier"]

_SOLVERS = ("adam", "sgd", "rmsprop")  # scikit-learn's solver names (nn.OPTIMIZERS builds them)


def _l2_penalty(weights: list[nn.Parameter], strength: float) -> float:
    """The penalty term (alpha/2n)·Σ‖W‖² of the objective at the current weights (strength = alpha/n).

    Its gradient, strength·W, is applied by the optimiser's ``weight_decay`` restricted to the weight matrices.
    """
    return 0.5 * strength * sum(float(np.vdot(w.value, w.value)) for w in weights)


class _Stopping(nn.Callback):
    """Records the objective per epoch and decides when to stop (the rules are in the module docstring)."""

    def __init__(self, estimator: _NetClassifier, weights: list[nn.Parameter], strength: float) -> None:
        self.early = estimator.early_stopping
        self.tol, self.patience = estimator.tol, estimator.n_iter_no_change
        self.weights, self.strength = weights, strength
        self.loss_curve: list[float] = []
        self.validation_scores: list[float] = []
        self.best_score, self.best_loss, self.best_state = -np.inf, np.inf, None
        self.wait = 0
        self.converged = False

    def on_epoch_end(self, model: nn.Sequential, epoch: int, logs: dict[str, float]) -> bool:
        self.loss_curve.append(logs["loss"] + _l2_penalty(self.weights, self.strength))
        if self.early:
            score = logs["val_accuracy"]
            self.validation_scores.append(score)
            self.wait = self.wait + 1 if score < self.best_score + self.tol else 0
            if score > self.best_score:
                self.best_score, self.best_state = score, _state(model)
        elif self.tol > 0:
            loss = self.loss_curve[-1]
            self.wait = self.wait + 1 if loss > self.best_loss - self.tol else 0
            self.best_loss = min(self.best_loss, loss)
        else:
            return False
        self.converged = self.wait >= self.patience
        return self.converged


def _state(model: nn.Sequential) -> list[np.ndarray]:
    """Copies of everything a forward pass in evaluation mode reads (parameters, batch-norm statistics)."""
    return [a.copy() for a in model.state_arrays().values()]


def _set_state(model: nn.Sequential, state: list[np.ndarray]) -> None:
    for target, saved in zip(model.state_arrays().values(), state, strict=True):
        np.copyto(target, saved)


class _NetClassifier(ClassifierMixin, BaseEstimator):
    """What the two classifiers share: validation, training through ``nn.fit``, prediction.

    Subclasses define ``__init__`` (scikit-learn reads the parameters from its signature) and
    ``_architecture()``: the keyword arguments of ``nn.mlp`` besides ``n_inputs``, ``dtype`` and ``seed``.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    _solvers = _SOLVERS

    def _alpha(self) -> float:
        """The L2 strength alpha of the objective (validated)."""
        check_scalar(self.alpha, "alpha", numbers.Real, min_val=0.0)
        if not math.isfinite(self.alpha):
            raise ValueError(f"{type(self).__name__}: alpha={self.alpha!r} must be a finite number ≥ 0")
        return float(self.alpha)

    def _check_params(self) -> None:
        name = type(self).__name__
        self._alpha()
        check_scalar(
            self.learning_rate_init, "learning_rate_init", numbers.Real, min_val=0.0, include_boundaries="neither"
        )
        check_scalar(self.max_iter, "max_iter", numbers.Integral, min_val=1)
        check_scalar(self.tol, "tol", numbers.Real, min_val=0.0)
        check_scalar(self.n_iter_no_change, "n_iter_no_change", numbers.Integral, min_val=1)
        check_scalar(
            self.validation_fraction,
            "validation_fraction",
            numbers.Real,
            min_val=0.0,
            max_val=1.0,
            include_boundaries="neither",
        )
        check_scalar(self.momentum, "momentum", numbers.Real, min_val=0.0, max_val=1.0)
        check_scalar(self.beta_1, "beta_1", numbers.Real, min_val=0.0, max_val=1.0, include_boundaries="left")
        check_scalar(self.beta_2, "beta_2", numbers.Real, min_val=0.0, max_val=1.0, include_boundaries="left")
        check_scalar(self.epsilon, "epsilon", numbers.Real, min_val=0.0, include_boundaries="neither")
        if self.solver not in self._solvers:
            raise ValueError(f"{name}: solver={self.solver!r} is not one of {', '.join(map(repr, self._solvers))}")
        if not (self.batch_size == "auto" or (isinstance(self.batch_size, numbers.Integral) and self.batch_size >= 1)):
            raise ValueError(f"{name}: batch_size={self.batch_size!r} must be 'auto' or an integer ≥ 1")
        if np.dtype(self.dtype) not in (np.float32, np.float64):
            raise ValueError(f"{name}: dtype={self.dtype!r} must be float32 or float64")

    def _optimizer(self, model: nn.Sequential, weights: list[nn.Parameter], strength: float) -> nn.Optimizer:
        """The solver, with the L2 gradient strength·W folded in as weight decay on the weight matrices only."""
        if self.solver == "sgd":
            options = {"momentum": self.momentum, "nesterov": bool(self.nesterovs_momentum and self.momentum > 0)}
        elif self.solver == "rmsprop":
            options = {"alpha": self.beta_2, "eps": self.epsilon}
        else:
            options = {"betas": (self.beta_1, self.beta_2), "eps": self.epsilon}
        return nn.make_optimizer(
            self.solver,
            model.parameters(),
            lr=self.learning_rate_init,
            weight_decay=strength,
            decay=weights,
            **options,
        )

    def fit(self, X: Any, y: Any) -> _NetClassifier:
        """Train on X (n_samples, n_features) and binary labels y (any two values); return self."""
        X, t = self._validate_fit(X, y)
        return self._fit_minibatch(X, t)

    def _validate_fit(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Check the parameters and the data; set ``classes_``; return X and the 0/1 targets t."""
        self._check_params()
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32))
        check_classification_targets(y)
        kind = type_of_target(y, input_name="y", raise_unknown=True)
        if kind != "binary":
            raise ValueError(
                f"Only binary classification is supported. The type of the target is {kind}: "
                f"{type(self).__name__} is binary only, and y has {len(np.unique(y))} classes."
            )
        self.classes_, t = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of 2 classes, but y has 1 class ({self.classes_[0]!r})."
            )
        return X, t

    def _fit_minibatch(self, X: np.ndarray, t: np.ndarray) -> _NetClassifier:
        """Train with ``solver`` (adam, sgd or rmsprop) through ``nn.fit``; the stopping rules are in the module
        docstring."""
        rng = check_random_state(self.random_state)
        init_seed, fit_seed, split_seed = (int(s) for s in rng.randint(np.iinfo(np.int32).max, size=3))
        n = X.shape[0]
        validation = None
        if self.early_stopping:
            if int(np.ceil(self.validation_fraction * n)) < 2:
                raise ValueError(
                    f"early_stopping: validation_fraction={self.validation_fraction} of {n} samples leaves fewer "
                    "than 2 validation samples (one per class); increase it or turn early stopping off"
                )
            X, X_val, t, t_val = train_test_split(
                X, t, test_size=self.validation_fraction, stratify=t, random_state=split_seed
            )
            validation = (X_val, t_val)
            n = X.shape[0]
        batch_size = min(200, n) if self.batch_size == "auto" else self.batch_size
        if batch_size > n:
            warnings.warn(f"batch_size={batch_size} is larger than the {n} training samples: using {n}", stacklevel=3)
            batch_size = n

        model = nn.mlp(X.shape[1], **self._architecture(), dtype=self.dtype, seed=init_seed)
        weights = [layer.W for layer in model.dense_layers()]
        strength = self._alpha() / n
        stopping = _Stopping(self, weights, strength)
        history = nn.fit(
            model,
            X,
            t,
            loss=nn.BCEWithLogits(),
            optimizer=self._optimizer(model, weights, strength),
            epochs=self.max_iter,
            batch_size=batch_size,
            validation_data=validation,
            shuffle=True,
            seed=fit_seed,
            progress=bool(self.verbose),
            callbacks=[stopping],
        )
        if self.early_stopping and stopping.best_state is not None:
            _set_state(model, stopping.best_state)
        model.eval()
        self.model_ = model
        self.loss_curve_ = stopping.loss_curve
        self.n_iter_ = history.epochs
        self.validation_scores_ = stopping.validation_scores if self.early_stopping else None
        self.best_validation_score_ = stopping.best_score if self.early_stopping else None
        self._set_coefficients(
            [layer.W.value.astype(np.float64) for layer in model.dense_layers()],
            [layer.b.value.astype(np.float64) for layer in model.dense_layers()],
        )
        if not stopping.converged and (self.early_stopping or self.tol > 0):
            warnings.warn(
                f"{type(self).__name__}: maximum iterations ({self.max_iter}) reached and the optimization "
                "hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _set_coefficients(self, coefs: list[np.ndarray], intercepts: list[np.ndarray]) -> None:
        self.coefs_, self.intercepts_ = coefs, intercepts

    def decision_function(self, X: Any) -> np.ndarray:
        """The logit z = log(p/(1−p)) of ``classes_[1]``, shape (n_samples,); z > 0 predicts ``classes_[1]``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return self.model_.forward(X)[:, 0].astype(np.float64)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities of ``classes_[0]`` and ``classes_[1]``: columns σ(−z) and σ(z), shape (n_samples, 2).

        Both columns come from the logit z, so a tiny probability keeps its precision (1 − σ(z) would not).
        """
        z = self.decision_function(X)
        return np.column_stack([sigmoid(-z), sigmoid(z)])

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log-probabilities log σ(−z) and log σ(z), exact even where the probability underflows to 0."""
        z = self.decision_function(X)
        return np.column_stack([log_sigmoid(-z), log_sigmoid(z)])

    def predict(self, X: Any) -> np.ndarray:
        """``classes_[1]`` where z > 0 (probability above 1/2), else ``classes_[0]``."""
        positive = self.decision_function(X) > 0
        return self.classes_[positive.astype(np.intp)]


class MLPClassifier(_NetClassifier):
    """A multilayer perceptron for binary classification: hidden layers, then one sigmoid output unit.

    ``MLPClassifier(hidden_layer_sizes=(4,), activation="sigmoid")`` solves XOR, which no linear model can.
    See the module docstring for the objective, the solvers and the stopping rules.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(100,)
        Units per hidden layer.
    activation : str or list of str, default="relu"
        "logistic" (or "sigmoid"), "tanh", "relu", "leaky_relu" or "identity", for all hidden layers or one per
        layer.
    solver : {"adam", "sgd", "rmsprop"}, default="adam"
    alpha : float, default=1e-4
        L2 penalty: the objective is mean BCE + (alpha/2n)·Σ‖W‖².
    batch_size : int or "auto", default="auto"
        Samples per step; "auto" is min(200, n_samples).
    learning_rate_init : float, default=1e-3
    max_iter : int, default=200
        Maximum number of epochs.
    tol : float, default=1e-4
    early_stopping : bool, default=False
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
    random_state : int, RandomState or None, default=None
        Seeds the initial weights, the shuffling and the validation split.
    momentum : float, default=0.9
        For solver="sgd".
    nesterovs_momentum : bool, default=True
        For solver="sgd".
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's moment decays and denominator guard; RMSProp uses ``beta_2`` and ``epsilon``.
    verbose : bool, default=False
        Show a progress bar.
    batchnorm : bool, default=False
        Batch normalisation between each hidden Dense layer and its activation.
    init : str, default="glorot_uniform"
        Weight initialiser (:mod:`sigmoidlab.nn.init`): "standard", "glorot_uniform", "glorot_normal",
        "he_uniform", "he_normal", "lecun_normal" or "normal(STD)".
    dtype : float64 or float32, default=np.float64

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
    coefs_ : list of ndarray
        Weight matrices, ``coefs_[i]`` of shape (units in layer i, units in layer i+1), input side first.
    intercepts_ : list of ndarray
    loss_curve_ : list of float
        The objective per epoch (mean training BCE over the epoch's mini-batches plus the L2 term).
    n_iter_ : int
        Epochs run.
    validation_scores_, best_validation_score_ : list of float, float or None
        Validation accuracy per epoch and its best value (None unless ``early_stopping``).
    n_features_in_, feature_names_in_
    model_ : sigmoidlab.nn.Sequential
        The trained network (``nn.save(model_, path)`` saves it).
    """

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = (100,),
        activation: str | Sequence[str] = "relu",
        *,
        solver: str = "adam",
        alpha: float = 1e-4,
        batch_size: int | str = "auto",
        learning_rate_init: float = 1e-3,
        max_iter: int = 200,
        tol: float = 1e-4,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        random_state: int | np.random.RandomState | None = None,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        verbose: bool = False,
        batchnorm: bool = False,
        init: str = "glorot_uniform",
        dtype: Any = np.float64,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.verbose = verbose
        self.batchnorm = batchnorm
        self.init = init
        self.dtype = dtype

    def _architecture(self) -> dict[str, Any]:
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, numbers.Integral) else list(sizes)
        if not all(isinstance(h, numbers.Integral) and h >= 1 for h in sizes):
            raise ValueError(f"hidden_layer_sizes={self.hidden_layer_sizes!r} must be positive integers")
        names = [self.activation] * len(sizes) if isinstance(self.activation, str) else list(self.activation)
        if len(names) != len(sizes):
            raise ValueError(f"activation={self.activation!r}: {len(names)} activations for {len(sizes)} hidden layers")
        for a in names:
            if a not in nn.ACTIVATIONS:
                raise ValueError(f"activation={a!r}: {nn.ACTIVATIONS.unknown(a)}")
        return {"hidden": sizes, "activation": names, "batchnorm": bool(self.batchnorm), "init": self.init}


class LogisticRegression(_NetClassifier):
    r"""Logistic regression: one sigmoid unit p(y=1|x) = σ(x·w + b), solved to the optimum by default.

    Minimises scikit-learn's objective ½‖w‖² + C·Σᵢ sᵢ·BCE(x_i·w + b, tᵢ) (the intercept b is not penalised;
    sᵢ = ``sample_weight``, 1 by default), in the form solved, divided by C·S with S = Σᵢ sᵢ (= n unweighted):

        J(w, b) = (1/S) Σᵢ sᵢ·BCEᵢ + ‖w‖² / (2·C·S),        ∇J = (1/S) Xᵀ(s ⊙ (σ(z) − t)) + w / (C·S)

    that is mean BCE + (alpha/2n)·‖w‖² of the module docstring with alpha = 1/C. ``solver="lbfgs"`` (the default)
    minimises J over (w, b) with ``scipy.optimize.minimize(method="L-BFGS-B")`` from w = 0, b = 0, with
    scikit-learn's settings (gtol = ``tol`` on J's projected gradient, ftol = 64ε, maxls = 50, at most ``max_iter``
    iterations), so it stops where ``sklearn.linear_model.LogisticRegression(C=C)`` stops and reaches the
    optimum as ``tol`` → 0. J and ∇J come from the engine: the model's forward and backward passes and
    :func:`sigmoidlab.binary_cross_entropy_with_logits`. "adam", "sgd" and "rmsprop" train by mini-batches as
    :class:`MLPClassifier` does (their parameters are ignored by "lbfgs").

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength (> 0; ``np.inf``: no penalty), as in scikit-learn.
    alpha : float or None, default=None
        The same penalty in :class:`MLPClassifier`'s units, alpha = 1/C. When given it replaces the default C;
        given with another C, the two must agree (else ValueError).
    solver : {"lbfgs", "adam", "sgd", "rmsprop"}, default="lbfgs"
    tol : float, default=1e-4
        "lbfgs": stop once every component of ∇J is at most ``tol``. Mini-batch solvers: as for MLPClassifier.
    max_iter : int, default=100
        L-BFGS iterations, or epochs for the mini-batch solvers.
    random_state : int, RandomState or None, default=None
        Mini-batch solvers only (initial weights, shuffling, validation split); "lbfgs" is deterministic.
    verbose : bool, default=False
        A progress bar (mini-batch) or one line per L-BFGS iteration.
    batch_size, learning_rate_init, early_stopping, validation_fraction, n_iter_no_change, momentum,
    nesterovs_momentum, beta_1, beta_2, epsilon
        Mini-batch solvers only, as for :class:`MLPClassifier` (``learning_rate_init`` defaults to 1e-2).
    dtype : float64 or float32, default=np.float64
        Dtype of the model's arithmetic (L-BFGS itself runs in float64).

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
    coef_ : ndarray of shape (1, n_features)
    intercept_ : ndarray of shape (1,)
    n_iter_ : int
        L-BFGS iterations (at most ``max_iter``), or epochs.
    loss_curve_ : list of float
        J after each L-BFGS iteration, or per epoch as for MLPClassifier.
    validation_scores_, best_validation_score_, n_features_in_, feature_names_in_, model_
        As for :class:`MLPClassifier` (the validation attributes are None for "lbfgs").
    """

    _solvers = ("lbfgs", *_SOLVERS)

    def __init__(
        self,
        *,
        C: float = 1.0,
        alpha: float | None = None,
        solver: str = "lbfgs",
        tol: float = 1e-4,
        max_iter: int = 100,
        random_state: int | np.random.RandomState | None = None,
        verbose: bool = False,
        batch_size: int | str = "auto",
        learning_rate_init: float = 1e-2,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        dtype: Any = np.float64,
    ) -> None:
        self.C = C
        self.alpha = alpha
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.verbose = verbose
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.dtype = dtype

    def _alpha(self) -> float:
        """alpha = 1/C from whichever of ``C`` and ``alpha`` was given (both: they must agree)."""
        check_scalar(self.C, "C", numbers.Real, min_val=0.0, include_boundaries="neither")
        if math.isnan(self.C):
            raise ValueError("LogisticRegression: C=nan must be a number > 0")
        if self.alpha is None:
            return 1.0 / self.C
        alpha = super()._alpha()
        if self.C != 1.0 and not math.isclose(alpha, 1.0 / self.C, rel_tol=1e-9):
            raise ValueError(
                f"LogisticRegression: alpha={self.alpha!r} and C={self.C!r} conflict (alpha = 1/C); give only one"
            )
        return alpha

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> LogisticRegression:
        """Train on X (n_samples, n_features) and binary labels y, each sample i counting ``sample_weight[i]``
        times in the loss ("lbfgs" only); return self."""
        X, t = self._validate_fit(X, y)
        if self.solver != "lbfgs":
            if sample_weight is not None:
                raise ValueError(f"LogisticRegression: sample_weight needs solver='lbfgs', not {self.solver!r}")
            return self._fit_minibatch(X, t)
        if self.early_stopping:
            raise ValueError("LogisticRegression: early_stopping=True needs a mini-batch solver, not 'lbfgs'")
        s = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        return self._fit_lbfgs(X, t, s)

    def _fit_lbfgs(self, X: np.ndarray, t: np.ndarray, s: np.ndarray) -> LogisticRegression:
        """Minimise J (class docstring) with L-BFGS-B; J and ∇J from the model's forward/backward and the BCE."""
        model = nn.mlp(X.shape[1], hidden=(), dtype=self.dtype, seed=0)
        values, grads = pack(model.parameters())  # flat views of the parameters: w (n_features), then b
        penalty = np.where(np.arange(values.size) < X.shape[1], self._alpha() / s.sum(), 0.0)  # 1/(C·S) on w only
        X, t, s = X.astype(model.dtype, copy=False), t.astype(model.dtype), s / s.sum()

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            values[:] = theta
            z = model.forward(X)[:, 0]
            loss, dz = binary_cross_entropy_with_logits(z, t, reduction="none", return_grad=True)
            model.backward((s * dz).astype(model.dtype)[:, None], input_grad=False)
            return float(s @ loss) + 0.5 * float(theta @ (penalty * theta)), grads + penalty * theta

        curve: list[float] = []

        def record(intermediate_result: Any) -> None:
            curve.append(float(intermediate_result.fun))
            if self.verbose:
                print(f"LogisticRegression: L-BFGS iteration {len(curve)}, objective {curve[-1]:.10g}")

        # scikit-learn's settings (sklearn.linear_model._logistic), so that both stop at the same point.
        options = {"maxiter": self.max_iter, "maxls": 50, "gtol": self.tol, "ftol": 64 * np.finfo(float).eps}
        result = minimize(
            objective, np.zeros(values.size), method="L-BFGS-B", jac=True, callback=record, options=options
        )
        values[:] = result.x
        model.eval()
        self.model_, self.loss_curve_, self.n_iter_ = model, curve, min(int(result.nit), self.max_iter)
        self.validation_scores_ = self.best_validation_score_ = None
        dense = model.dense_layers()[0]
        self._set_coefficients([dense.W.value.astype(np.float64)], [dense.b.value.astype(np.float64)])
        if result.status != 0:
            warnings.warn(
                f"LogisticRegression: L-BFGS-B stopped after {self.n_iter_} iterations without converging "
                f"({result.message}); increase max_iter or scale the data (e.g. StandardScaler)",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _architecture(self) -> dict[str, Any]:
        return {"hidden": (), "init": "glorot_uniform"}

    def _set_coefficients(self, coefs: list[np.ndarray], intercepts: list[np.ndarray]) -> None:
        self.coef_, self.intercept_ = coefs[0].T, intercepts[0]
