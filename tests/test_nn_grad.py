"""Gradients of sigmoidlab.nn: central finite differences and PyTorch autograd as references (float64)."""

import numpy as np
import pytest
import torch

from sigmoidlab import nn

RNG = np.random.default_rng(1234)
X = RNG.standard_normal((8, 5))
Y = (RNG.random(8) > 0.5).astype(float)

SINGLE_LAYERS = {
    "Dense": lambda: nn.Dense(5, 3, dtype=np.float64, seed=0),
    "Sigmoid": nn.Sigmoid,
    "Tanh": nn.Tanh,
    "ReLU": nn.ReLU,
    "LeakyReLU": lambda: nn.LeakyReLU(0.1),
    "Identity": nn.Identity,
    "BatchNorm1d": lambda: nn.BatchNorm1d(5),
    "BatchNorm1d-eval": lambda: _trained_bn().eval(),
    "Dropout-eval": lambda: nn.Dropout(0.3).eval(),
}


def _trained_bn():
    bn = nn.BatchNorm1d(5)
    bn.gamma.value = RNG.uniform(0.5, 2, 5)
    bn.beta.value = RNG.standard_normal(5)
    for _ in range(3):
        bn.forward(RNG.standard_normal((16, 5)) * 2 + 1)
    return bn


@pytest.mark.parametrize("name", SINGLE_LAYERS)
def test_gradcheck_every_layer(name):
    layer = SINGLE_LAYERS[name]()
    errors = gradcheck_of(layer, X)
    assert set(errors) == {*(p.name for p in layer.parameters()), "input"}
    assert max(errors.values()) < 1e-6, errors


def gradcheck_of(layer, x, **kw):
    # ReLU's kink: keep inputs away from 0 so finite differences do not straddle it.
    x = np.where(np.abs(x) < 1e-3, 0.5, x)
    return nn.gradcheck(layer, x, **kw)


@pytest.mark.parametrize("loss", [nn.BCEWithLogits(), nn.BCEWithLogits(pos_weight=3.0), nn.MSE()], ids=repr)
@pytest.mark.parametrize("targets", ["hard", "soft"])
def test_gradcheck_losses_and_composite_models(loss, targets):
    y = Y if targets == "hard" else RNG.random(8)
    model = nn.mlp(5, hidden=(6, 4), activation=["sigmoid", "tanh"], batchnorm=True, dtype=np.float64, seed=3)
    errors = nn.gradcheck(model, X, y, loss=loss)
    assert len(errors) == len(model.parameters()) + 1
    assert max(errors.values()) < 1e-6, errors


def test_gradcheck_detects_a_wrong_backward():
    class Wrong(nn.Sigmoid):
        def backward(self, g):
            return 1.1 * super().backward(g)

    assert nn.gradcheck(Wrong(), X)["input"] > 0.05


def test_gradcheck_refuses_float32():
    with pytest.raises(ValueError, match="float64"):
        nn.gradcheck(nn.mlp(5, (3,), seed=0), X.astype(np.float32))


def to_torch(model):
    """The same network in PyTorch, sharing the weight values (Linear stores Wᵀ)."""
    mods = []
    for layer in model.layers:
        if isinstance(layer, nn.Dense):
            lin = torch.nn.Linear(layer.in_features, layer.out_features, dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(layer.W.value.T.copy()))
                lin.bias.copy_(torch.from_numpy(layer.b.value))
            mods.append(lin)
        elif isinstance(layer, nn.BatchNorm1d):
            bn = torch.nn.BatchNorm1d(layer.num_features, eps=layer.eps, momentum=layer.momentum, dtype=torch.float64)
            with torch.no_grad():
                bn.weight.copy_(torch.from_numpy(layer.gamma.value))
                bn.bias.copy_(torch.from_numpy(layer.beta.value))
            mods.append(bn)
        else:
            mods.append(
                {
                    "sigmoid": torch.nn.Sigmoid(),
                    "tanh": torch.nn.Tanh(),
                    "relu": torch.nn.ReLU(),
                    "leaky_relu": torch.nn.LeakyReLU(getattr(layer, "negative_slope", 0.01)),
                    "identity": torch.nn.Identity(),
                }[layer.kind]
            )
    return torch.nn.Sequential(*mods)


def torch_grads(tmodel):
    out = []
    for mod in tmodel:
        if isinstance(mod, torch.nn.Linear):
            out += [mod.weight.grad.numpy().T, mod.bias.grad.numpy()]
        elif isinstance(mod, torch.nn.BatchNorm1d):
            out += [mod.weight.grad.numpy(), mod.bias.grad.numpy()]
    return out


def rel(a, b):
    # Relative to the array's scale; the floor covers the bias of a Dense followed by batch norm, whose true
    # gradient is exactly 0 (both sides hold rounding noise of ~1e-17 there).
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-4)


CASES = [
    (depth, act, bn)
    for depth in (1, 2, 4)
    for act in ("sigmoid", "tanh", "relu", "leaky_relu", "identity")
    for bn in (False, True)
]


@pytest.mark.parametrize(("depth", "activation", "batchnorm"), CASES)
def test_gradients_equal_pytorch_autograd(depth, activation, batchnorm):
    seed = CASES.index((depth, activation, batchnorm))
    rng = np.random.default_rng(seed)
    n_in, hidden = 7, tuple(rng.integers(3, 12, depth))
    model = nn.mlp(
        n_in, hidden, activation=activation, batchnorm=batchnorm, init="glorot_normal", dtype=np.float64, seed=seed
    )
    for p in model.parameters():  # non-trivial biases and batch-norm affine parameters
        if p.name.endswith(("b", "beta", "gamma")):
            p.value = p.value + rng.uniform(-0.5, 0.5, p.shape)
    x, y = rng.standard_normal((32, n_in)) * 2, (rng.random(32) > 0.5).astype(float)
    tmodel = to_torch(model).train()
    tx = torch.from_numpy(x).requires_grad_(True)
    tloss = torch.nn.functional.binary_cross_entropy_with_logits(tmodel(tx).reshape(-1), torch.from_numpy(y))
    tloss.backward()

    loss = nn.BCEWithLogits()
    model.train()
    value = loss.forward(model.forward(x), y)
    grad_x = model.backward(loss.backward())
    assert value == pytest.approx(tloss.item(), rel=1e-13)
    assert rel(grad_x, tx.grad.numpy()) < 1e-10
    for p, expected in zip(model.parameters(), torch_grads(tmodel), strict=True):
        assert rel(p.grad, expected) < 1e-10, p.name
    for layer, mod in zip(model.layers, tmodel, strict=True):  # running statistics follow PyTorch's update
        if isinstance(layer, nn.BatchNorm1d):
            np.testing.assert_allclose(layer.running_mean, mod.running_mean.numpy(), rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(layer.running_var, mod.running_var.numpy(), rtol=1e-12)


def test_eval_mode_matches_pytorch_with_running_statistics():
    model = nn.mlp(4, (6,), batchnorm=True, dtype=np.float64, seed=5)
    tmodel = to_torch(model).train()
    rng = np.random.default_rng(0)
    for _ in range(4):
        xb = rng.standard_normal((16, 4)) + 1
        model.train().forward(xb)
        tmodel(torch.from_numpy(xb))
    x = rng.standard_normal((10, 4))
    expected = tmodel.eval()(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(model.eval().forward(x), expected, rtol=1e-12)


def test_sigmoid_layer_backprop_flushes_in_the_tail_like_y_times_one_minus_y():
    # The documented cost of reusing the output: σ'(x) from y = σ(x) is exactly 0 once y rounds to 1.
    # σ is correctly rounded, so y rounds to 1 from x ≈ 17.33 (float32) and x ≈ 37.43 (float64) on.
    for dtype, x_flush in ((np.float32, 17.4), (np.float64, 37.5)):
        layer = nn.Sigmoid()
        layer.forward(np.array([[x_flush]], dtype=dtype))
        assert layer.backward(np.ones((1, 1), dtype=dtype))[0, 0] == 0
