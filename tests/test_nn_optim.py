"""Optimisers step by step against torch.optim, in float64."""

import numpy as np
import pytest
import torch

from sigmoidlab import nn

CONFIGS = [
    (nn.SGD, torch.optim.SGD, {"lr": 0.1}),
    (nn.SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9}),
    (nn.SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    (nn.SGD, torch.optim.SGD, {"lr": 0.05, "weight_decay": 0.1}),
    (nn.Adam, torch.optim.Adam, {"lr": 0.01}),
    (nn.Adam, torch.optim.Adam, {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.01}),
    (nn.RMSProp, torch.optim.RMSprop, {"lr": 0.01}),
    (nn.RMSProp, torch.optim.RMSprop, {"lr": 0.005, "alpha": 0.9, "momentum": 0.5, "weight_decay": 0.01}),
]


def _step_both(params, tparams, opt, topt, rng):
    """One step of both optimisers on the same random gradients."""
    for p, tp in zip(params, tparams, strict=True):
        g = rng.standard_normal(p.shape)
        p.grad = g
        tp.grad = torch.from_numpy(g.copy())
    opt.step()
    topt.step()


def _assert_same_values(params, tparams):
    for p, tp in zip(params, tparams, strict=True):
        np.testing.assert_allclose(p.value, tp.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("ours", "theirs", "kwargs"), CONFIGS, ids=[f"{o.__name__}-{k}" for o, _, k in CONFIGS])
def test_optimizer_matches_torch_step_by_step(ours, theirs, kwargs):
    rng = np.random.default_rng(7)
    model = nn.mlp(3, (5,), activation="tanh", dtype=np.float64, seed=1)
    params = model.parameters()
    tparams = [torch.tensor(p.value.copy(), requires_grad=True) for p in params]
    opt, topt = ours(params, **kwargs), theirs(tparams, **kwargs)
    for _ in range(25):
        _step_both(params, tparams, opt, topt, rng)
        _assert_same_values(params, tparams)


@pytest.mark.parametrize(
    ("ours", "theirs", "kwargs"),
    [
        (nn.SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9}),
        (nn.Adam, torch.optim.Adam, {"lr": 0.01}),
        (nn.RMSProp, torch.optim.RMSprop, {"lr": 0.01}),
    ],
    ids=["SGD", "Adam", "RMSProp"],
)
def test_weight_decay_on_chosen_parameters_matches_torch_param_groups(ours, theirs, kwargs):
    # decay=[the weight matrices]: an L2 penalty on the weights only, as torch.optim does with two param groups.
    rng = np.random.default_rng(3)
    model = nn.mlp(3, (5,), activation="tanh", dtype=np.float64, seed=1)
    params = model.parameters()
    weights = [layer.W for layer in model.dense_layers()]
    tparams = [torch.tensor(p.value.copy(), requires_grad=True) for p in params]
    decayed = [tp for p, tp in zip(params, tparams, strict=True) if any(p is w for w in weights)]
    others = [tp for p, tp in zip(params, tparams, strict=True) if all(p is not w for w in weights)]
    opt = ours(params, weight_decay=0.1, decay=weights, **kwargs)
    topt = theirs([{"params": decayed, "weight_decay": 0.1}, {"params": others, "weight_decay": 0.0}], **kwargs)
    for _ in range(10):
        _step_both(params, tparams, opt, topt, rng)
    _assert_same_values(params, tparams)


def test_optimizer_updates_parameters_in_place_through_the_flat_buffer():
    model = nn.mlp(2, (3,), dtype=np.float64, seed=0)
    W = model.layers[0].W.value  # the array the layer computes with
    opt = nn.SGD(model.parameters(), lr=1.0)
    model.layers[0].W.grad = np.ones_like(W)
    before = W.copy()
    opt.step()
    np.testing.assert_array_equal(model.layers[0].W.value, before - 1)
    assert model.layers[0].W.value is W
    # a second optimiser on the same model shares the buffers instead of re-packing
    assert nn.Adam(model.parameters()).values is opt.values


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: nn.SGD(p, lr=-1), "lr"),
        (lambda p: nn.SGD(p, lr=0.1, nesterov=True), "nesterov"),
        (lambda p: nn.Adam(p, betas=(1.0, 0.9)), "betas"),
        (lambda p: nn.RMSProp(p, alpha=1.5), "alpha"),
        (lambda p: nn.SGD(p, lr=float("nan")), "lr"),
        (lambda p: nn.Adam([], lr=0.1), "no parameters"),
    ],
)
def test_optimizer_validation(make, match):
    with pytest.raises(ValueError, match=match):
        make(nn.mlp(2, (3,), seed=0).parameters())


def test_parameter_assignment_keeps_shape():
    p = nn.mlp(2, (3,), seed=0).parameters()[0]
    with pytest.raises(ValueError, match="shape"):
        p.value = np.zeros((3, 3))


# --- L1 and L2 penalties (weight_decay = λ₂, l1 = λ₁, on the parameters in `decay`) ------------------------------


def _penalised_objective(model, loss, weights, l2, l1):
    """J = L + (λ₂/2)·Σ w² + λ₁·Σ |w| over the chosen weights: the objective the optimisers claim to minimise."""
    data = loss.forward(model.forward(X_PEN), Y_PEN)
    return data + sum(0.5 * l2 * float(np.sum(w.value**2)) + l1 * float(np.sum(np.abs(w.value))) for w in weights)


X_PEN = np.random.default_rng(5).standard_normal((32, 3))
Y_PEN = (X_PEN[:, 0] * X_PEN[:, 1] > 0).astype(float)


@pytest.mark.parametrize(("l2", "l1"), [(0.3, 0.0), (0.0, 0.05), (0.3, 0.05)])
def test_penalties_follow_the_finite_difference_gradient_of_the_penalised_objective(l2, l1):
    model = nn.mlp(3, (4,), activation="tanh", dtype=np.float64, seed=2)
    weights = [layer.W for layer in model.dense_layers()]
    assert min(np.abs(w.value).min() for w in weights) > 1e-4  # away from |w|'s kink at 0
    loss, lr = nn.BCEWithLogits(), 1e-3
    opt = nn.SGD(model.parameters(), lr=lr, weight_decay=l2, l1=l1, decay=weights)
    loss.forward(model.forward(X_PEN), Y_PEN)
    model.backward(loss.backward())
    before = opt.values.copy()
    opt.step()
    applied = (before - opt.values) / lr  # the gradient the step followed
    np.copyto(opt.values, before)
    numeric, eps = np.empty_like(before), 1e-6
    for i in range(before.size):
        values = []
        for sign in (1, -1):
            opt.values[i] = before[i] + sign * eps
            values.append(_penalised_objective(model, loss, weights, l2, l1))
        opt.values[i] = before[i]
        numeric[i] = (values[0] - values[1]) / (2 * eps)
    np.testing.assert_allclose(applied, numeric, rtol=1e-6, atol=1e-8)
    # The biases were not penalised: their step is the data gradient alone.
    bias = np.concatenate([np.full(p.value.size, p.name.endswith(".b")) for p in model.parameters()])
    assert bias.any()
    np.testing.assert_allclose(applied[bias], opt.grads[bias], rtol=1e-12)


@pytest.mark.parametrize(("ours", "theirs", "kwargs"), CONFIGS[1:3] + CONFIGS[5:6] + CONFIGS[7:8], ids=repr)
def test_l1_with_every_optimiser_matches_torch_on_the_penalised_gradient(ours, theirs, kwargs):
    # Reference: torch.optim with weight_decay on the weights' param group and λ₁·sign(w) added to their gradients.
    kwargs = {k: v for k, v in kwargs.items() if k != "weight_decay"}
    rng = np.random.default_rng(11)
    model = nn.mlp(3, (5,), activation="tanh", dtype=np.float64, seed=1)
    params, weights = model.parameters(), [layer.W for layer in model.dense_layers()]
    tparams = [torch.tensor(p.value.copy(), requires_grad=True) for p in params]
    chosen = [any(p is w for w in weights) for p in params]
    decayed = [tp for tp, c in zip(tparams, chosen, strict=True) if c]
    others = [tp for tp, c in zip(tparams, chosen, strict=True) if not c]
    opt = ours(params, weight_decay=0.05, l1=0.02, decay=weights, **kwargs)
    topt = theirs([{"params": decayed, "weight_decay": 0.05}, {"params": others, "weight_decay": 0.0}], **kwargs)
    for _ in range(10):
        for p, tp, c in zip(params, tparams, chosen, strict=True):
            g = rng.standard_normal(p.shape)
            p.grad = g
            tp.grad = torch.from_numpy(g + 0.02 * np.sign(tp.detach().numpy()) if c else g.copy())
        opt.step()
        topt.step()
    _assert_same_values(params, tparams)


def test_penalty_validation():
    params = nn.mlp(2, (3,), seed=0).parameters()
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="l1 must be a finite number ≥ 0"):
            nn.Adam(params, l1=bad)
