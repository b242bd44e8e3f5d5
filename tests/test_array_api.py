"""Arrays of other libraries: torch tensors are computed in torch, Dask arrays stay lazy.

torch: the result is a tensor of the input's dtype, shape and device, close to the NumPy result, and
differentiable (autograd of sigmoid_grad is sigmoid_second_grad). Dask: the result is a lazy dask array whose
compute() equals the NumPy result bit for bit. Binary cross-entropy with either, reductions included.
"""

from __future__ import annotations

import dask
import dask.array as da
import ml_dtypes
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import sigmoidlab as sl

pytestmark = pytest.mark.usefixtures("strict_fp")

UNARY = ["sigmoid", "sigmoid_grad", "sigmoid_grad_from_output", "sigmoid_second_grad", "log_sigmoid", "softplus"]
UNARY += ["logit"]
TORCH_TO_NUMPY = {torch.float64: np.float64, torch.float32: np.float32, torch.float16: np.float16}
TORCH_TO_NUMPY[torch.bfloat16] = ml_dtypes.bfloat16


def _values(name: str) -> np.ndarray:
    """The function's domain across the range, with the special values."""
    if name in ("logit", "sigmoid_grad_from_output"):
        inside = np.concatenate([np.linspace(0, 1, 101), [1e-30, 1 - 1e-7]])
        return np.concatenate([inside, [-0.5, 1.5, np.nan, np.inf, -np.inf]])
    return np.concatenate([np.linspace(-100, 100, 201), [0.0, -0.0, 1e-30, -1e-30, np.inf, -np.inf, np.nan]])


def _to_torch(x: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    with np.errstate(under="ignore"):  # 1e-30 is 0 in float16
        return torch.from_numpy(x.astype(np.float32)).to(dtype)


def _from_torch(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float64).numpy()


# ------------------------------------------------------------------------------------------------- torch


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("name", UNARY)
def test_torch_tensors_are_computed_in_torch_close_to_numpy(name, dtype):
    f = getattr(sl, name)
    x = _to_torch(_values(name), dtype).reshape(-1, 1)
    result = f(x)
    assert isinstance(result, torch.Tensor)
    assert result.dtype == dtype and result.device == x.device and result.shape == x.shape
    ours = f(x.to(torch.float32).numpy().astype(TORCH_TO_NUMPY[dtype])).astype(np.float64)
    got = _from_torch(result)
    # In the tensor's own precision: a few roundings of its epsilon, and the flush of its subnormals.
    info = torch.finfo(dtype)
    np.testing.assert_allclose(got, ours, rtol=8 * info.eps, atol=info.tiny, equal_nan=True)


def test_torch_zero_d_and_integer_tensors():
    assert sl.sigmoid(torch.tensor(0.0)).shape == () and sl.sigmoid(torch.tensor(0.0)).item() == 0.5
    for dtype in (torch.int32, torch.int64, torch.bool):
        result = sl.sigmoid(torch.tensor([0, 1], dtype=dtype))
        assert result.dtype == torch.float64  # as for NumPy input: integers and bools compute in float64
        assert result.tolist() == [0.5, float(sl.sigmoid(1.0))]


@pytest.mark.parametrize("name", UNARY)
def test_torch_rejects_complex_and_out(name):
    f = getattr(sl, name)
    with pytest.raises(TypeError, match=rf"{name}\(\).*complex64"):
        f(torch.zeros(3, dtype=torch.complex64))
    with pytest.raises(TypeError, match="out="):
        f(torch.zeros(3), out=np.zeros(3))


@pytest.mark.parametrize("name", [*UNARY, "sigmoid_and_grad"])
def test_torch_keeps_the_array_api_path_dtype_and_device(name):
    """A tensor is computed by torch (autograd flows), never converted to NumPy, though NumPy could convert it."""
    for dtype in (torch.float64, torch.float32, torch.bfloat16):
        x = torch.linspace(0.1, 0.9, 7, dtype=dtype, requires_grad=dtype == torch.float64)
        results = getattr(sl, name)(x)
        for result in results if isinstance(results, tuple) else (results,):
            assert isinstance(result, torch.Tensor) and result.dtype == dtype and result.device == x.device
            assert result.requires_grad == x.requires_grad


@pytest.mark.parametrize("keywords", [{"where": True}, {"dtype": np.float32}, {"out": (None,)}], ids=str)
def test_torch_rejects_ufunc_keywords_naming_them(keywords):
    with pytest.raises(TypeError, match=rf"sigmoid\(\): {next(iter(keywords))}= is only supported for NumPy"):
        sl.sigmoid(torch.zeros(3), **keywords)


def test_torch_bce_pos_weight_one_and_python_scalars():
    rng = np.random.default_rng(8)
    z = torch.tensor(rng.normal(0, 5, 20), dtype=torch.float32)
    t = torch.tensor(rng.uniform(0, 1, 20), dtype=torch.float32)
    loss, grad = sl.binary_cross_entropy_with_logits(z, t, return_grad=True)
    for pos_weight in (1.0, torch.ones(20, dtype=torch.float32)):
        weighted = sl.binary_cross_entropy_with_logits(z, t, pos_weight=pos_weight, return_grad=True)
        assert torch.equal(weighted[0], loss) and torch.equal(weighted[1], grad)
    loss = sl.binary_cross_entropy_with_logits(z, 1.0, pos_weight=2.0)  # Python scalars: weak, as in torch
    expected = F.binary_cross_entropy_with_logits(z, torch.ones_like(z), pos_weight=torch.tensor(2.0))
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, expected)


@pytest.mark.parametrize(
    ("name", "derivative"),
    [
        ("sigmoid", sl.sigmoid_grad),
        ("sigmoid_grad", sl.sigmoid_second_grad),
        ("log_sigmoid", lambda x: sl.sigmoid(-x)),
        ("softplus", sl.sigmoid),
        ("logit", lambda p: 1 / (p * (1 - p))),
    ],
)
def test_torch_autograd_flows_through_and_agrees_with_the_derivatives(name, derivative):
    x = np.linspace(0.01, 0.99, 41) if name == "logit" else np.linspace(-40, 40, 41)
    xt = torch.tensor(x, requires_grad=True)
    getattr(sl, name)(xt).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), derivative(x), rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_torch_bce_matches_torch_and_numpy(reduction, dtype):
    rng = np.random.default_rng(2)
    z = torch.tensor(rng.normal(0, 4, (50, 2)), dtype=dtype, requires_grad=True)
    t = torch.tensor(rng.uniform(0, 1, (50, 2)), dtype=dtype)
    w = torch.tensor([0.5, 2.0], dtype=dtype)
    loss, grad = sl.binary_cross_entropy_with_logits(z, t, reduction=reduction, pos_weight=w, return_grad=True)
    assert isinstance(loss, torch.Tensor) and loss.dtype == dtype and grad.dtype == dtype
    expected = F.binary_cross_entropy_with_logits(z, t, pos_weight=w, reduction=reduction)
    (expected_grad,) = torch.autograd.grad(expected, z, torch.ones_like(expected))
    rtol = 8 * torch.finfo(dtype).eps
    torch.testing.assert_close(loss, expected.detach(), rtol=rtol, atol=rtol * 10)
    torch.testing.assert_close(grad, expected_grad, rtol=rtol, atol=rtol)
    ours = sl.binary_cross_entropy_with_logits(
        z.detach().numpy(), t.numpy(), reduction=reduction, pos_weight=w.numpy(), return_grad=True
    )
    np.testing.assert_allclose(_from_torch(loss), ours[0], rtol=rtol)
    np.testing.assert_allclose(_from_torch(grad), ours[1], rtol=rtol, atol=rtol)


def test_torch_bce_with_infinite_logits_is_never_nan():
    z = torch.tensor([np.inf, -np.inf, np.inf, -np.inf])
    t = torch.tensor([1.0, 0.0, 0.0, 1.0])
    loss, grad = sl.binary_cross_entropy_with_logits(z, t, reduction="none", return_grad=True)
    assert loss.tolist() == [0.0, 0.0, np.inf, np.inf] and grad.tolist() == [0.0, 0.0, 1.0, -1.0]


# -------------------------------------------------------------------------------------------------- Dask


def _counting_dask(x: np.ndarray, chunks: int) -> tuple[da.Array, list]:
    """A dask array over ``x`` that records every non-empty block it produces, to prove laziness."""
    produced: list = []

    def produce(block: np.ndarray) -> np.ndarray:
        if block.size:
            produced.append(block.shape)
        return block

    lazy = da.from_array(x, chunks=chunks).map_blocks(produce, dtype=x.dtype, meta=np.empty((0,), x.dtype))
    return lazy, produced


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, ml_dtypes.bfloat16], ids=str)
@pytest.mark.parametrize("name", UNARY)
def test_dask_arrays_stay_lazy_and_compute_the_numpy_result(name, dtype):
    f = getattr(sl, name)
    with np.errstate(under="ignore"):  # 1e-30 is 0 in float16
        x = _values(name).astype(dtype)
    lazy, produced = _counting_dask(x, chunks=50)
    result = f(lazy)
    assert isinstance(result, da.Array) and produced == []
    assert result.dtype == np.dtype(dtype) and result.chunks == lazy.chunks
    computed = result.compute(scheduler="synchronous")
    assert produced, "compute() must evaluate the blocks"
    assert computed.dtype == np.dtype(dtype)
    assert np.array_equal(computed, f(x), equal_nan=True)


def test_dask_integer_input_computes_in_float64_and_complex_is_rejected():
    result = sl.sigmoid(da.arange(4, chunks=2))
    assert result.dtype == np.float64
    assert np.array_equal(result.compute(), sl.sigmoid(np.arange(4)))
    with pytest.raises(TypeError, match=r"sigmoid\(\).*complex128"):
        sl.sigmoid(da.zeros(4, dtype=complex, chunks=2))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_dask_bce_is_lazy_and_matches_numpy(reduction):
    rng = np.random.default_rng(4)
    z_np, t_np, w = rng.normal(0, 5, (300, 2)), rng.uniform(0, 1, 300)[:, None], np.array([1.0, 3.0])
    z, produced = _counting_dask(z_np, chunks=64)
    for t in (t_np, da.from_array(t_np, chunks=100)):  # the targets may be NumPy or Dask
        loss, grad = sl.binary_cross_entropy_with_logits(z, t, reduction=reduction, pos_weight=w, return_grad=True)
        assert isinstance(loss, da.Array) and isinstance(grad, da.Array) and produced == []
        expected_loss, expected_grad = sl.binary_cross_entropy_with_logits(
            z_np, t_np, reduction=reduction, pos_weight=w, return_grad=True
        )
        computed_loss, computed_grad = dask.compute(loss, grad, scheduler="synchronous")
        produced.clear()
        assert computed_grad.shape == expected_grad.shape == (300, 2)
        if reduction == "none":
            assert np.array_equal(computed_loss, expected_loss) and np.array_equal(computed_grad, expected_grad)
        else:  # Dask sums block by block, NumPy pairwise: the same sum up to its rounding
            np.testing.assert_allclose(computed_loss, expected_loss, rtol=1e-14)
            np.testing.assert_allclose(computed_grad, expected_grad, rtol=1e-15)


@pytest.mark.parametrize("name", UNARY)
def test_dask_ufunc_keywords_stay_lazy_and_compute_the_numpy_result(name):
    f = getattr(sl, name)
    x = _values(name)
    where = np.arange(x.size) % 3 != 0
    lazy, produced = _counting_dask(x, chunks=50)
    narrow = f(lazy, dtype=np.float32)
    out = da.full(x.shape, -7.0, chunks=50)
    masked = f(lazy, where=da.from_array(where, chunks=50), out=out)
    assert isinstance(narrow, da.Array) and isinstance(masked, da.Array) and produced == []
    assert narrow.dtype == np.float32 and narrow.chunks == lazy.chunks
    assert np.array_equal(narrow.compute(scheduler="synchronous"), f(x, dtype=np.float32), equal_nan=True)
    expected = f(x, where=where, out=np.full(x.shape, -7.0))
    assert np.array_equal(masked.compute(scheduler="synchronous"), expected, equal_nan=True)


def test_dask_sigmoid_and_grad_and_bce_with_python_scalars():
    x = np.linspace(-30, 30, 101, dtype=np.float32)
    lazy, produced = _counting_dask(x, chunks=25)
    y, g = sl.sigmoid_and_grad(lazy, dtype=np.float64)
    loss, grad = sl.binary_cross_entropy_with_logits(lazy, 1.0, "none", 2.0, return_grad=True)
    assert all(isinstance(a, da.Array) for a in (y, g, loss, grad)) and produced == []
    assert np.array_equal(y.compute(), sl.sigmoid(x, dtype=np.float64)) and g.dtype == np.float64
    expected = sl.binary_cross_entropy_with_logits(x, 1.0, "none", 2.0, return_grad=True)
    assert loss.dtype == grad.dtype == np.float32  # the scalars stay weak, as for NumPy input
    assert np.array_equal(loss.compute(), expected[0]) and np.array_equal(grad.compute(), expected[1])
