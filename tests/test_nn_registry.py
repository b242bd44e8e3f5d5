"""The engine's vocabulary: every spelling the front ends use resolves in nn's registries, one factory each."""

import re

import numpy as np
import pytest

from sigmoidlab import nn

# Every spelling in use by a front end when the registries were introduced (estimators, lab/grid.py,
# web/schema.py, cli): the registries must accept all of them, mapped to these canonical names.
FRONT_END_ACTIVATIONS = {
    "logistic": "sigmoid",  # scikit-learn's name (estimators, `sigmoidlab train --activation`)
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
    "leaky_relu": "leaky_relu",
    "identity": "identity",
    "linear": "identity",  # the playground's (and TensorFlow Playground's) name
}
FRONT_END_INITS = {
    "standard": "standard",
    "glorot": "glorot_uniform",  # the lab's short names
    "he": "he_normal",
    "glorot_uniform": "glorot_uniform",
    "glorot_normal": "glorot_normal",
    "he_uniform": "he_uniform",
    "he_normal": "he_normal",
    "lecun_normal": "lecun_normal",
}
FRONT_END_OPTIMIZERS = {"sgd": "sgd", "momentum": "momentum", "adam": "adam", "rmsprop": "rmsprop"}
FRONT_END_LOSSES = {"bce": "bce", "bce_with_logits": "bce", "mse": "mse"}


@pytest.mark.parametrize(
    ("registry", "spellings"),
    [
        (nn.ACTIVATIONS, FRONT_END_ACTIVATIONS),
        (nn.INITIALIZERS, FRONT_END_INITS),
        (nn.OPTIMIZERS, FRONT_END_OPTIMIZERS),
        (nn.LOSSES, FRONT_END_LOSSES),
    ],
    ids=["activations", "inits", "optimizers", "losses"],
)
def test_every_front_end_spelling_resolves_to_one_canonical_name(registry, spellings):
    for spelling, name in spellings.items():
        assert spelling in registry
        assert registry.canonical(spelling) == name
        assert registry.get(spelling) is registry.get(name)
    assert set(registry.spellings()) >= set(spellings)
    assert set(registry.names()) == set(spellings.values())
    assert list(registry) == list(registry.names())  # iteration: canonical names only
    assert all(alias not in registry.names() for alias in registry.aliases())


def test_activation_classes_and_their_names():
    assert nn.ACTIVATIONS.get("logistic") is nn.Sigmoid
    assert nn.ACTIVATIONS["linear"] is nn.Identity
    for name, cls in nn.ACTIVATIONS.items():
        assert cls.kind == name and issubclass(cls, nn.Activation)
    assert nn.ACTIVATIONS.names() == ("sigmoid", "tanh", "relu", "leaky_relu", "identity")


@pytest.mark.parametrize(
    ("registry", "name", "message"),
    [
        (nn.ACTIVATIONS, "softmax", "unknown activation 'softmax': expected one of sigmoid, tanh, relu, leaky_relu"),
        (nn.INITIALIZERS, "zeros", "unknown init 'zeros': expected one of standard, glorot_uniform"),
        (nn.OPTIMIZERS, "lbfgs", "unknown optimizer 'lbfgs': expected one of sgd, momentum, adam, rmsprop"),
        (nn.LOSSES, "hinge", "unknown loss 'hinge': expected one of bce, mse"),
        (nn.LOSSES, None, "unknown loss None"),
    ],
)
def test_unknown_names_raise_one_line_listing_the_valid_ones(registry, name, message):
    assert name not in registry
    with pytest.raises(ValueError, match=message) as info:
        registry.get(name)
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match=message):
        registry.canonical(name)


def test_a_registry_refuses_aliases_that_shadow_or_point_nowhere():
    with pytest.raises(ValueError, match="shadow"):
        nn.Registry("thing", {"a": 1, "b": 2}, {"a": "b"})
    with pytest.raises(ValueError, match="unknown"):
        nn.Registry("thing", {"a": 1}, {"c": "d"})


def test_mlp_accepts_aliases_and_builds_the_same_network():
    X = np.random.default_rng(0).standard_normal((16, 3))
    a = nn.mlp(3, (5, 4), activation=["logistic", "linear"], init="he", dtype=np.float64, seed=2)
    b = nn.mlp(3, (5, 4), activation=["sigmoid", "identity"], init="he_normal", dtype=np.float64, seed=2)
    assert [type(layer) for layer in a.layers] == [type(layer) for layer in b.layers]
    assert [layer.kind for layer in a.layers if layer.kind] == ["sigmoid", "identity"]
    np.testing.assert_array_equal(a.forward(X), b.forward(X))
    assert a.config() == b.config()  # the canonical init name is what a model file records
    with pytest.raises(ValueError, match="unknown activation 'softmax'"):
        nn.mlp(3, (5,), activation="softmax")


def test_initializer_factory_takes_aliases_normal_std_and_callables():
    assert nn.get_initializer("glorot") is nn.init.glorot_uniform
    assert nn.get_initializer("he") is nn.init.he_normal
    assert nn.get_initializer("normal(0.5)").__name__ == "normal(0.5)"
    assert nn.get_initializer(nn.init.standard) is nn.init.standard
    assert nn.Dense(2, 3, init="glorot").init == "glorot_uniform"
    for bad in ("zeros", "normal(-1)", "normal(x)"):
        with pytest.raises(ValueError, match=re.escape(f"unknown init '{bad}'") + ".*normal\\(STD\\)"):
            nn.get_initializer(bad)


def _steps(opt, params, n=5):
    rng = np.random.default_rng(1)
    for _ in range(n):
        for p in params:
            p.grad = rng.standard_normal(p.shape)
        opt.step()
    return np.concatenate([p.value.ravel() for p in params])


@pytest.mark.parametrize(
    ("name", "options", "direct"),
    [
        ("sgd", {}, lambda p: nn.SGD(p, lr=0.1)),
        ("momentum", {}, lambda p: nn.SGD(p, lr=0.1, momentum=0.9)),
        ("momentum", {"momentum": 0.5, "nesterov": True}, lambda p: nn.SGD(p, lr=0.1, momentum=0.5, nesterov=True)),
        ("adam", {"betas": (0.8, 0.99)}, lambda p: nn.Adam(p, lr=0.1, betas=(0.8, 0.99))),
        ("rmsprop", {"alpha": 0.9, "l1": 0.01}, lambda p: nn.RMSProp(p, lr=0.1, alpha=0.9, l1=0.01)),
    ],
)
def test_make_optimizer_builds_what_the_name_means(name, options, direct):
    m1, m2 = (nn.mlp(3, (4,), dtype=np.float64, seed=0) for _ in range(2))
    ours = nn.make_optimizer(name, m1.parameters(), lr=0.1, **options)
    theirs = direct(m2.parameters())
    assert type(ours) is type(theirs)
    np.testing.assert_array_equal(_steps(ours, m1.parameters()), _steps(theirs, m2.parameters()))


def test_make_optimizer_defaults_and_bad_options():
    params = nn.mlp(2, (3,), seed=0).parameters()
    assert nn.make_optimizer("adam", params).lr == nn.Adam(params).lr  # lr None: the class's default
    with pytest.raises(ValueError, match="make_optimizer\\('adam'\\): unknown option 'momentum'; Adam takes lr, betas"):
        nn.make_optimizer("adam", params, momentum=0.9)
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        nn.make_optimizer("lbfgs", params)


def test_make_loss_and_make_activation():
    assert isinstance(nn.make_loss("bce_with_logits"), nn.BCEWithLogits)
    assert nn.make_loss("bce", pos_weight=2.0).pos_weight == 2.0
    assert isinstance(nn.make_loss("mse"), nn.MSE)
    with pytest.raises(ValueError, match="make_loss\\('mse'\\): unknown option 'pos_weight'; MSE takes none"):
        nn.make_loss("mse", pos_weight=2.0)
    layer = nn.make_activation("leaky_relu", negative_slope=0.2)
    assert isinstance(layer, nn.LeakyReLU) and layer.negative_slope == 0.2
    assert isinstance(nn.make_activation("logistic"), nn.Sigmoid)


def test_fit_takes_loss_and_optimizer_names():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((64, 2)), rng.integers(0, 2, 64)
    m1, m2 = (nn.mlp(2, (4,), dtype=np.float64, seed=0) for _ in range(2))
    h1 = nn.fit(m1, X, y, loss="mse", optimizer="rmsprop", epochs=3, progress=False)
    h2 = nn.fit(m2, X, y, loss=nn.MSE(), optimizer=nn.RMSProp(m2.parameters()), epochs=3, progress=False)
    assert h1.history == h2.history
    np.testing.assert_array_equal(m1.predict_proba(X), m2.predict_proba(X))
