"""The compiled ufuncs: identical results on every path and thread count, ufunc behaviour, fallback, and the
bench command. Their accuracy (every path against mpmath) is tests/test_accuracy.py.
"""

from __future__ import annotations

import importlib
import json
import sys
import warnings

import ml_dtypes
import numpy as np
import pytest

import sigmoidlab as sl
from sigmoidlab.functions import _loader
from sigmoidlab.functions import _reference as ref

pytestmark = pytest.mark.skipif(not _loader.AVAILABLE, reason="compiled kernels not built")

PATHS = _loader.available_kernels() or ("scalar",)
BF16 = np.dtype(ml_dtypes.bfloat16)
UNARY = ("sigmoid", "sigmoid_grad", "sigmoid_second_grad", "log_sigmoid", "softplus", "logit")


@pytest.fixture(params=PATHS)
def path(request):
    previous = _loader.set_kernel(request.param)
    yield request.param
    _loader.set_kernel(previous)


def test_paths_agree_bitwise_and_threads_do_not_change_results():
    """Same operations in the same order on every path: results are identical, as they are split over threads."""
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(0, 30, 300_000), rng.uniform(-800, 800, 100_000)])
    x[rng.integers(0, x.size, 300)] = rng.choice([np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324], 300)
    p = rng.uniform(-0.1, 1.1, 400_000)
    previous = _loader.get_kernel()
    try:
        results = {}
        for k in PATHS:
            _loader.set_kernel(k)
            for threads in (1, 2):
                _loader.set_num_threads(threads)
                results[k, threads] = [getattr(_loader, n)(p if n == "logit" else x) for n in UNARY]
                results[k, threads] += list(_loader.sigmoid_and_grad(x)) + list(_loader.bce_with_logits(x, p))
                results[k, threads] += [
                    _loader.sigmoid_grad_from_output(p),
                    _loader.sigmoid_grad_from_output(p.astype(np.float32)),
                ]
        first = next(iter(results.values()))
        for key, value in results.items():
            for a, b in zip(first, value, strict=True):
                assert np.array_equal(a.view(np.uint8), b.view(np.uint8)), key
    finally:
        _loader.set_kernel(previous)
        _loader.set_num_threads(2)


def test_special_values_exact_and_match_the_reference_path(path):
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 1e308, -1e308])
    p = np.array([0.0, -0.0, 1.0, 0.5, -1.0, 2.0, np.nan, np.inf, -np.inf, 5e-324])
    for name in UNARY:
        inp = p if name == "logit" else x
        with np.errstate(all="ignore"):
            expected = ref.round_to(getattr(ref, name)(ref.to_wide(inp)), np.dtype(np.float64))
        with np.errstate(all="raise"):
            got = getattr(_loader, name)(inp)
        assert np.array_equal(got, expected, equal_nan=True), (name, got, expected)
        assert np.array_equal(np.signbit(got), np.signbit(expected)), (name, "sign of zero", got, expected)
    assert _loader.sigmoid(-720.0) == pytest.approx(2.0305e-313, rel=1e-3)  # the subnormal tail is computed
    assert _loader.sigmoid(-745.0) == 5e-324 and _loader.sigmoid(-746.0) == 0.0


def test_fused_pair_and_bce_match_the_separate_functions(path):
    rng = np.random.default_rng(9)
    for dtype in (np.float64, np.float32, np.float16, BF16):
        x = (rng.normal(0, 20, 5000)).astype(dtype)
        y, g = _loader.sigmoid_and_grad(x)
        assert y.dtype == g.dtype == dtype
        assert np.array_equal(y, _loader.sigmoid(x)) and np.array_equal(g, _loader.sigmoid_grad(x))
    z = np.array([-np.inf, -800.0, -3.0, 0.0, 2.0, 40.0, 800.0, np.inf, np.inf, -np.inf, 1.0])
    t = np.array([0.0, 0.0, 1.0, 0.3, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, np.nan])
    with np.errstate(all="raise"):
        loss, grad = _loader.bce_with_logits(z, t)
    with np.errstate(all="ignore"):
        ref_loss, ref_grad = (
            ref.round_to(r, np.dtype(np.float64)) for r in ref.bce_with_logits(*map(ref.to_wide, (z, t)))
        )
    np.testing.assert_allclose(loss, ref_loss, rtol=4e-16, atol=0)
    np.testing.assert_allclose(grad, ref_grad, rtol=4e-16, atol=0)
    assert loss[0] == 0 and loss[7] == 0 and loss[8] == np.inf and loss[9] == np.inf  # hard targets at ±inf
    assert grad[4] == pytest.approx(float(sl.sigmoid(2.0)) - 1, rel=1e-15)


# ------------------------------------------------------------------------------------------------------------
# ufunc behaviour


def test_they_are_real_ufuncs_with_the_expected_loops():
    for name in UNARY:
        f = getattr(_loader, name)
        assert isinstance(f, np.ufunc) and (f.nin, f.nout) == (1, 1)
        assert {"e->e", "f->f", "d->d"} <= set(f.types)
    assert (
        _loader.sigmoid_grad_from_output.types == _loader.sigmoid.types and _loader.sigmoid_grad_from_output.nout == 1
    )
    assert (_loader.sigmoid_and_grad.nin, _loader.sigmoid_and_grad.nout) == (1, 2)
    assert (_loader.bce_with_logits.nin, _loader.bce_with_logits.nout) == (2, 2)


def test_out_where_dtype_broadcasting_and_strides(path):
    x = np.linspace(-10, 10, 101)
    out = np.full_like(x, -7.0)
    mask = x > 0
    result = _loader.sigmoid(x, out=out, where=mask)
    assert result is out
    assert np.array_equal(out[mask], _loader.sigmoid(x[mask])) and np.all(out[~mask] == -7.0)
    x32 = x.astype(np.float32)
    wide = _loader.sigmoid(x32, dtype=np.float64)
    assert wide.dtype == np.float64 and np.array_equal(wide, _loader.sigmoid(x32.astype(np.float64)))
    assert _loader.sigmoid(x32).dtype == np.float32
    loss, grad = _loader.bce_with_logits(x[:, None], np.array([0.0, 0.5, 1.0]))
    assert loss.shape == grad.shape == (101, 3)
    # σ(z) − 1 = −σ(−z), without the cancellation (BCE takes the careful path, σ the fast one: ≤ 1 ULP apart)
    np.testing.assert_array_max_ulp(grad[:, 2], -_loader.sigmoid(-x), maxulp=1)
    big = np.random.default_rng(1).normal(0, 10, (600, 700))
    for view in (big[::3, ::2], big.T, big[:, 5]):
        assert np.array_equal(_loader.softplus(view), _loader.softplus(np.ascontiguousarray(view)))
    y1, y2 = np.empty_like(x), np.empty_like(x)
    r1, r2 = _loader.sigmoid_and_grad(x, out=(y1, y2))
    assert r1 is y1 and r2 is y2 and np.array_equal(y2, _loader.sigmoid_grad(x))
    assert isinstance(_loader.sigmoid(2.0), np.float64) and isinstance(_loader.sigmoid(np.float16(2)), np.float16)


def test_no_floating_point_warnings_for_any_input(path):
    specials = [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 1e-310, 1e308, -1e308, 745.0, -745.0, 2.0]
    for dtype in (np.float64, np.float32, np.float16, BF16):
        with np.errstate(all="ignore"):
            x = np.array(specials * 3, dtype=np.float64).astype(dtype)
        with np.errstate(all="raise"), warnings.catch_warnings():
            warnings.simplefilter("error")
            for name in UNARY:
                getattr(_loader, name)(x)
            _loader.sigmoid_and_grad(x)
            _loader.bce_with_logits(x, x[::-1])
            _loader.sigmoid_grad_from_output(x)
            _loader.sigmoid(np.float64(-1000.0))


def test_dask_arrays_stay_lazy():
    da = pytest.importorskip("dask.array")
    x = np.linspace(-50, 50, 1000)
    dx = da.from_array(x, chunks=100)
    y = _loader.sigmoid(dx)  # __array_ufunc__ dispatch
    assert isinstance(y, da.Array)
    assert np.array_equal(y.compute(), _loader.sigmoid(x))
    assert isinstance(sl.sigmoid(dx), da.Array)


def test_public_functions_use_the_kernels_and_keep_their_behaviour(path):
    x = np.array([-720.0, -3.0, 0.0, 2.0, 40.0])
    assert np.array_equal(sl.sigmoid(x), _loader.sigmoid(x)) and np.array_equal(
        sl.log_sigmoid(x), _loader.log_sigmoid(x)
    )
    assert sl.sigmoid(np.arange(3)).dtype == np.float64  # integers compute in float64
    assert isinstance(sl.sigmoid(2.0), np.float64)
    out = np.empty(5)
    assert sl.sigmoid_grad(x, out=out) is out and np.array_equal(out, _loader.sigmoid_grad(x))
    y, g = sl.sigmoid_and_grad(x.astype(BF16))
    assert y.dtype == g.dtype == BF16
    with pytest.raises(TypeError, match="sigmoid"):
        sl.sigmoid(np.array([1j]))
    _loss, grad = sl.binary_cross_entropy_with_logits(
        x, np.array([0, 1, 0, 1, 1.0]), reduction="none", return_grad=True
    )
    assert np.array_equal(grad, _loader.bce_with_logits(x, np.array([0, 1, 0, 1, 1.0]))[1])


def test_reference_switch_and_fallback_when_the_extension_is_missing(monkeypatch):
    x = np.array([-720.0, -1.0, 0.5, 30.0])
    with np.errstate(all="ignore"):
        expected = ref.round_to(ref.sigmoid(ref.to_wide(x)), np.dtype(np.float64))
    previous = _loader.set_kernel("reference")
    try:
        assert _loader.get_kernel() == "reference" and np.array_equal(sl.sigmoid(x), expected)
    finally:
        _loader.set_kernel(previous)
    import sigmoidlab._kernels

    monkeypatch.setitem(sys.modules, "sigmoidlab._kernels._ufuncs", None)  # makes the import fail
    monkeypatch.delattr(sigmoidlab._kernels, "_ufuncs")
    try:
        with pytest.warns(RuntimeWarning, match="compiled kernels unavailable"):
            importlib.reload(_loader)
        assert not _loader.AVAILABLE and _loader.sigmoid is None and _loader.get_kernel() == "reference"
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # one warning only, and none from the reference path
            assert np.array_equal(sl.sigmoid(x), expected)
            assert sl.sigmoid_and_grad(0.0) == (0.5, 0.25)
    finally:
        monkeypatch.undo()
        importlib.reload(_loader)
    assert _loader.AVAILABLE and _loader.get_kernel() in PATHS


# ------------------------------------------------------------------------------------------------------------
# The benchmark command


def test_bench_quick_writes_markdown_and_json(tmp_path):
    from sigmoidlab._kernels import cpu
    from sigmoidlab.cli import main

    args = ["bench", "--quick", "--sizes", "1000", "--repeats", "2", "--kernel", "all", "--after-torch", "3000"]
    assert main([*args, "--out", str(tmp_path)]) == 0
    md = (tmp_path / "kernels.md").read_text()
    data = json.loads((tmp_path / "kernels.json").read_text())
    machine = data["machine"]
    assert machine["cores"] >= 1 and "avx2" in machine["flags"] and "avx512bw" in machine["flags"]
    assert machine["cpu"] == cpu.cpu_model() and machine["vector_extensions"] == cpu.vector_extensions()
    assert cpu.cpu_model() in md and "vector extensions: " in md
    assert machine["kernels"] == list(PATHS[::-1])  # --kernel all: each path, the best first
    rows = data["results"]
    assert {r["op"] for r in rows} == {"sigmoid", "sigmoid_grad", "sigmoid_and_grad"}
    assert {r["dtype"] for r in rows} == {"float32", "float64"}
    ours = [r for r in rows if r["kernel"]]
    assert {r["kernel"] for r in ours} == set(PATHS) and all(f"sigmoidlab ({k})" in md for k in PATHS)
    assert all(r["seconds"] > 0 and r["gbps"] > 0 and r["roofline_fraction"] > 0 for r in ours)
    assert all(r["calls_per_block"] >= 2 for r in rows) and "np.copyto" in md
    best = [r for r in ours if r["kernel"] == PATHS[-1]]
    assert all(r["sigmoidlab_speedup"] == 1.0 for r in best)  # the speed-up column is relative to the best path
    after = data["after_torch"]
    assert {(r["omp_wait_policy"], r["dtype"], r["n"]) for r in after} == {
        (p, d, 3000) for p in ("PASSIVE", "default") for d in ("float32", "float64")
    }
    assert all(r["alone_s"] > 0 and r["slowdown"] == r["after_torch_s"] / r["alone_s"] for r in after)
    assert "right after torch.sigmoid" in md
    memory = data["memory"]
    assert {m["op"] for m in memory} == {"sigmoid", "sigmoid_and_grad"} and "peak memory" in md
    assert all(m["peak_bytes"] >= m["output_bytes"] == 8000 * (1 + (m["op"] == "sigmoid_and_grad")) for m in memory)


def test_bench_one_path_without_torch_section_and_bad_kernel(tmp_path, capsys):
    from sigmoidlab.cli import main

    args = ["bench", "--sizes", "200", "--dtypes", "float64", "--repeats", "1", "--kernel", "scalar"]
    assert main([*args, "--after-torch", "none", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "kernels.json").read_text())
    assert data["machine"]["kernels"] == ["scalar"] and data["after_torch"] is None
    assert {r["kernel"] for r in data["results"] if r["kernel"]} == {"scalar"}
    assert _loader.get_kernel() in PATHS  # the bench restores the active path
    capsys.readouterr()
    assert main(["bench", "--kernel", "avx9000"]) == 2
    err = capsys.readouterr().err
    assert "--kernel='avx9000'" in err and len(err.strip().splitlines()) == 1


def test_bench_times_in_alternating_blocks_after_an_untimed_call():
    from sigmoidlab.cli.bench import time_in_blocks

    log: list[str] = []
    impls = {"a": (lambda: log.append("a"), lambda: log.append("setup a")), "b": (lambda: log.append("b"), None)}
    medians, calls = time_in_blocks(impls, repeats=3)
    assert set(medians) == {"a", "b"} and all(t > 0 for t in medians.values())
    runs = []  # the log as (item, repetitions)
    for item in log:
        if runs and runs[-1][0] == item:
            runs[-1][1] += 1
        else:
            runs.append([item, 1])
    block = [["setup a", 1], ["a", calls["a"] + 1], ["b", calls["b"] + 1]]
    assert runs == [["setup a", 1], ["a", 2], ["b", 2], *block * 3]  # warm-up round, then 3 alternating rounds
    assert calls["a"] >= 2 and calls["b"] >= 2
