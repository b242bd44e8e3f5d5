"""exact_gradients(): what it reaches (and what it cannot), with autocast, GradScaler, torch.compile, fused kernels."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import sigmoidlab.torch as st  # noqa: E402
import torch_accuracy as T  # noqa: E402  (benchmarks/ is on sys.path: tests/conftest.py)

# bfloat16 inputs where torch's σ' (from 6.25) or tanh' (from 3.47) is exactly 0 or far off, and a few others.
X = np.array([-9.0, -7.0, -4.0, -0.5, 0.0, 0.75, 3.5, 5.0, 6.25, 7.0, 12.0, 40.0], dtype=T.DTYPES["bfloat16"])

ENTRY_POINTS = {
    "torch.sigmoid": ("sigmoid", torch.sigmoid),
    "Tensor.sigmoid": ("sigmoid", torch.Tensor.sigmoid),
    "F.sigmoid": ("sigmoid", F.sigmoid),
    "torch.special.expit": ("sigmoid", torch.special.expit),
    "nn.Sigmoid": ("sigmoid", torch.nn.Sigmoid()),
    "torch.tanh": ("tanh", torch.tanh),
    "Tensor.tanh": ("tanh", torch.Tensor.tanh),
    "F.tanh": ("tanh", F.tanh),
    "nn.Tanh": ("tanh", torch.nn.Tanh()),
}


def exact_bf16(name: str, x: np.ndarray = X) -> np.ndarray:
    return T.correctly_rounded(name, 1, x, T.DTYPES["bfloat16"])


def grad_of(f, x: np.ndarray = X, mode=None) -> tuple[torch.Tensor, np.ndarray]:
    leaf = T.to_torch(x).clone().requires_grad_(True)
    if mode is None:
        y = f(leaf * 1)  # a non-leaf input, as inside a model
    else:
        with mode:
            y = f(leaf * 1)
    (g,) = torch.autograd.grad(y.sum(), leaf)
    return y.detach(), T.to_numpy(g)


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_every_entry_point_gets_the_exact_gradient_and_keeps_torchs_forward(entry: str) -> None:
    name, f = ENTRY_POINTS[entry]
    y_plain, g_plain = grad_of(f)
    y_mode, g_mode = grad_of(f, mode=st.exact_gradients())
    assert torch.equal(y_mode, y_plain)
    np.testing.assert_array_equal(g_mode, exact_bf16(name))
    assert (g_plain == 0).sum() >= 3  # torch flushes at 6.25, 7, 12, 40 (σ) or 4, 5, ... (tanh)


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_in_place_variants_are_reached_and_left_alone_without_autograd(name: str) -> None:
    method, function = getattr(torch.Tensor, name + "_"), getattr(torch, name + "_")
    for f in (method, function):
        _, g = grad_of(lambda t, f=f: f(t), mode=st.exact_gradients())
        np.testing.assert_array_equal(g, exact_bf16(name))
    t = T.to_torch(X).clone()
    with st.exact_gradients():
        out = method(t)
    assert out is t and torch.equal(t, getattr(torch, name)(T.to_torch(X)))
    leaf = T.to_torch(X).clone().requires_grad_(True)
    with st.exact_gradients(), pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        method(leaf)  # as torch says without the mode


def test_silu_and_log_sigmoid_only_when_asked() -> None:
    for kwargs, fixed in [({}, False), ({"silu": True, "log_sigmoid": True}, True)]:
        for name, f in [("silu", F.silu), ("silu", torch.nn.SiLU()), ("log_sigmoid", F.logsigmoid)]:
            y = None
            with st.exact_gradients(**kwargs):
                y = f(T.to_torch(X).clone().requires_grad_(True) * 1)
            assert ("Function" in type(y.grad_fn).__name__) == fixed, (name, kwargs, y.grad_fn)
    _, g = grad_of(lambda t: F.silu(t, inplace=True), mode=st.exact_gradients(silu=True))
    np.testing.assert_array_equal(g, exact_bf16("silu"))


def test_out_argument_and_non_float_input_go_to_torch() -> None:
    x = T.to_torch(X)
    out = torch.empty_like(x)
    with st.exact_gradients():
        result = torch.sigmoid(x, out=out)
        ints = torch.tanh(torch.arange(3))
    assert result is out and torch.equal(out, torch.sigmoid(x))
    assert torch.equal(ints, torch.tanh(torch.arange(3)))


@pytest.mark.parametrize(
    "module",
    [torch.nn.LSTM(3, 4), torch.nn.GRU(3, 4), torch.nn.RNN(3, 4), torch.nn.LSTMCell(3, 4), torch.nn.GRUCell(3, 4)],
    ids=["LSTM", "GRU", "RNN", "LSTMCell", "GRUCell"],
)
def test_recurrent_modules_are_fused_aten_ops_the_mode_cannot_reach(module: torch.nn.Module) -> None:
    torch.manual_seed(0)
    x = 4 * torch.randn(5, 2, 3) if not isinstance(module, torch.nn.RNNCellBase) else 4 * torch.randn(2, 3)

    def weight_grads(mode) -> list[torch.Tensor]:
        module.zero_grad()
        if mode is None:
            out = module(x)
        else:
            with mode:
                out = module(x)
        (out[0] if isinstance(out, tuple) else out).sum().backward()
        return [p.grad.clone() for p in module.parameters()]

    for plain, moded in zip(weight_grads(None), weight_grads(st.exact_gradients()), strict=True):
        assert torch.equal(plain, moded)  # unchanged: torch.lstm & co. never call torch.sigmoid / torch.tanh


class Gate(torch.nn.Module):
    """A gated unit written with torch.sigmoid/torch.tanh: what the mode reaches in a model."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.linear(x)
        gate, cand = z.chunk(2, dim=-1)
        return torch.sigmoid(gate) * torch.tanh(cand)


def _gate_model() -> tuple[Gate, torch.Tensor]:
    torch.manual_seed(0)
    model = Gate()
    with torch.no_grad():
        model.linear.weight.mul_(12)  # pre-activations of ±10 or so: deep in bfloat16's flush range
    return model, torch.randn(64, 4)


def _preactivation_grads(model: Gate, x: torch.Tensor, mode: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(z, ∂out.sum()/∂z) under bfloat16 autocast, z the Linear's output."""
    seen = {}

    def keep(module: torch.nn.Module, inputs: tuple, z: torch.Tensor) -> None:
        z.retain_grad()
        seen["z"] = z

    handle = model.linear.register_forward_hook(keep)
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16), st.exact_gradients() if mode else _nothing():
            out = model(x)
        assert out.dtype == torch.bfloat16
        out.float().sum().backward()
    finally:
        handle.remove()
    return seen["z"].detach(), seen["z"].grad


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_autocast_bfloat16_on_cpu() -> None:
    model, x = _gate_model()
    z, ours = _preactivation_grads(model, x, mode=True)
    _, theirs = _preactivation_grads(model, x, mode=False)
    gate, cand = z.double().chunk(2, dim=-1)  # the exact ∂/∂z for these bfloat16 pre-activations
    s, t = torch.sigmoid(gate), torch.tanh(cand)
    want = torch.cat([s * (1 - s) * t, s * 4 / (torch.exp(cand) + torch.exp(-cand)) ** 2], dim=-1)
    assert ours.dtype == torch.bfloat16
    assert ((ours.double() - want).abs() <= 2.0**-6 * want.abs()).all()
    flushed = (theirs == 0) & (want != 0)
    assert flushed.double().mean() > 0.2  # torch's autograd gives 0 to a fifth of these units or more


def test_grad_scaler_with_float16_autocast_on_cpu_unscales_to_the_exact_gradient() -> None:
    model, x = _gate_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**12)
    with torch.autocast("cpu", dtype=torch.float16), st.exact_gradients():
        out = model(x)
    assert out.dtype == torch.float16
    scaler.scale(out.float().sum()).backward()
    scaler.unscale_(opt)
    unscaled = model.linear.weight.grad.clone()
    scaler.step(opt)
    scaler.update()
    assert scaler.get_scale() == 2.0**12  # no inf/NaN found: the step was taken
    model.zero_grad()
    with torch.autocast("cpu", dtype=torch.float16), st.exact_gradients():
        model(x).float().sum().backward()
    torch.testing.assert_close(unscaled, model.linear.weight.grad, rtol=2e-3, atol=0)
    model.zero_grad()
    with torch.autocast("cpu", dtype=torch.float16):
        model(x).float().sum().backward()
    assert not torch.equal(model.linear.weight.grad, unscaled)  # torch's own float16 backward differs


def test_gradcheck_and_gradgradcheck_through_the_mode() -> None:
    model = Gate().double()
    x = (3 * torch.randn(5, 4, dtype=torch.float64)).requires_grad_(True)

    def f(t: torch.Tensor) -> torch.Tensor:
        with st.exact_gradients():
            return model(t)

    assert torch.autograd.gradcheck(f, (x,))
    assert torch.autograd.gradgradcheck(f, (x,))


def test_compile_fullgraph_with_the_mode_outside_and_inside() -> None:
    model, x = _gate_model()
    model, x = model.to(torch.bfloat16), x.to(torch.bfloat16)

    def inside(t: torch.Tensor) -> torch.Tensor:
        with st.exact_gradients():
            return model(t)

    def weight_grad(f, mode: bool) -> torch.Tensor:
        model.zero_grad()
        if mode:
            with st.exact_gradients():
                out = f(x)
        else:
            out = f(x)
        out.float().sum().backward()
        return model.linear.weight.grad.clone()

    want = weight_grad(model, mode=True)
    assert not torch.equal(weight_grad(model, mode=False), want)  # torch's own backward differs
    outside = weight_grad(torch.compile(model, fullgraph=True, backend="aot_eager"), mode=True)
    torch.testing.assert_close(outside, want, rtol=0, atol=0)
    within = weight_grad(torch.compile(inside, fullgraph=True, backend="aot_eager"), mode=False)
    torch.testing.assert_close(within, want, rtol=0, atol=0)


@pytest.mark.slow  # inductor compiles C++ (seconds; the first time on a machine, much longer)
def test_inductor_compiles_the_exact_backward_in_one_graph() -> None:
    def f(t: torch.Tensor) -> torch.Tensor:
        return (st.sigmoid(t) + st.tanh(t)).sum()

    compiled = torch.compile(f, fullgraph=True)
    for dtype_name in ("bfloat16", "float32"):
        x = T.to_torch(X.astype(T.DTYPES[dtype_name])).clone().requires_grad_(True)
        compiled(x).backward()
        want = T.evaluate("sigmoidlab.torch", "sigmoid", 1, X.astype(T.DTYPES[dtype_name])).astype(np.float64)
        want += T.evaluate("sigmoidlab.torch", "tanh", 1, X.astype(T.DTYPES[dtype_name])).astype(np.float64)
        np.testing.assert_allclose(T.to_numpy(x.grad).astype(np.float64), want, rtol=2.0**-7, atol=0)
        assert (x.grad[torch.isfinite(x.grad)] != 0).all()


@pytest.mark.slow
def test_fused_kernels_match_the_eager_formulas() -> None:
    previous = st.set_fused(True)
    try:
        for dtype_name in ("bfloat16", "float32"):
            x = X.astype(T.DTYPES[dtype_name])
            got = T.evaluate("sigmoidlab.torch", "sigmoid", 1, x)
            np.testing.assert_array_equal(got, T.correctly_rounded("sigmoid", 1, x, T.DTYPES[dtype_name]))
    finally:
        st.set_fused(previous)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_fused_half_backward_equals_the_correctly_rounded_table_times_g(dtype: torch.dtype) -> None:
    """The fused half-precision backward (float32 arithmetic where it was verified, else the table) on every
    input value, in 1-d and 2-d layouts, against round(g·round(f'(x))) from the mpmath-checked table."""
    from sigmoidlab.torch import functional

    values = functional._all_values(dtype, torch.device("cpu"))
    x = values.repeat(17)  # 1,114,112 elements: above FUSE_FROM, so "auto" fuses
    g = (torch.randn(x.shape, generator=torch.Generator().manual_seed(1)) * 3).to(dtype)
    for name in ("sigmoid", "tanh", "log_sigmoid", "silu"):
        table = functional._table(name, dtype, x.device)
        want = (g.float() * table.repeat(17).float()).to(dtype)
        for shape in (x.shape, (1024, -1)):
            got = functional._first(name, g.reshape(shape), x.reshape(shape)).reshape(-1)
            same = (got == want) | (got.isnan() & want.isnan())
            assert bool(same.all()), (name, dtype, shape, x[~same][:4].tolist())
    verified = {n for n in ("sigmoid", "tanh", "log_sigmoid") if functional._verified[(n, dtype, x.device)]}
    # float32 arithmetic rounds right on all of bfloat16 for these three (checked input by input at first use);
    # float16 has 8 more bits, and a few of its values land too near a midpoint: it keeps the table.
    assert verified == ({"sigmoid", "tanh", "log_sigmoid"} if dtype == torch.bfloat16 else set())
