"""The probe's per-layer gain against the NumPy lab's, on the lab's deep sigmoid MLP with the same init and data."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from sigmoidlab import nn  # noqa: E402
from sigmoidlab.lab.analysis import decay, hidden_rows  # noqa: E402
from sigmoidlab.lab.runner import build_model, load_data  # noqa: E402
from sigmoidlab.torch import demo  # noqa: E402
from sigmoidlab.torch.probe import GradientProbe  # noqa: E402


def lab_decay(lab_model, X: np.ndarray, y: np.ndarray) -> dict:
    """The lab's numbers for one forward/backward of ``lab_model`` on (X, y): the rows its runner records, the
    hidden ones selected by its analysis, then its decay fit (sigmoidlab.lab.analysis.decay)."""
    loss = nn.BCEWithLogits()
    with nn.observing(lab_model):
        loss.forward(lab_model.forward(X), y)
        lab_model.backward(loss.backward())
        stats = lab_model.stats()
    rows = hidden_rows({"layers": [{**s, "step": 0} for s in stats]}, 0)
    return decay(rows, "sigmoid", False)


def probe_first_sample(model: torch.nn.Module, X: np.ndarray, y: np.ndarray) -> dict:
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with GradientProbe(model, optimizer=opt, every=1) as probe:
        out = model(torch.from_numpy(X)).squeeze(1)
        F.binary_cross_entropy_with_logits(out, torch.from_numpy(y)).backward()
        opt.step()
        data = probe.report().data
    return {"ratio_per_layer": data["history"]["ratio_per_layer"][0], **data["flow"]["first"]}


def test_gain_equals_the_lab_in_float64():
    # Same weights (copied from nn.mlp for the lab's seed), same 256 probe points, float64 in both engines: the
    # gradient norms differ only by summation order (~1e-15 relative), and the fitted slope is linear in their
    # logarithms, so 1e-9 is a loose bound that still catches any difference in layers, norms or fit.
    config = demo.lab_config("sigmoid", "standard", depth=8)
    X, _, y, _ = load_data(config)
    lab_model = nn.mlp(2, hidden=(32,) * 8, activation="sigmoid", init="standard", dtype=np.float64, seed=0)
    model = demo.torch_twin(lab_model)
    expected = lab_decay(lab_model, X[:256], y[:256].astype(float))
    got = probe_first_sample(model, X[:256], y[:256].astype(float))
    assert expected["ratio_per_layer"] < 0.5  # it does vanish
    for key in ("ratio_per_layer", "input_over_top", "bound"):
        assert got[key] == pytest.approx(expected[key], rel=1e-9)


def test_demo_sigmoid_mlp_is_vanishing_with_the_lab_gain():
    # The demo's own run (float32, the lab's build_model for the lab's config) against the lab on the demo's
    # first batch. float32 norms carry ~1e-6 relative rounding per layer; through 8 layers and a least-squares
    # slope that stays below 1e-4 relative, so 1e-3 is safe and still far below any real difference (a different
    # init or batch moves the gain by 10% or more).
    config, _, X, y = demo.lab_setup("sigmoid", "standard", epochs=1)
    first = next(demo.batches(len(X), config.batch_size, 1, config.seed)).numpy()
    lab_model = build_model(config, X.shape[1])
    expected = lab_decay(lab_model, X[first], y[first])
    report = demo.train_lab_mlp("sigmoid", "standard", epochs=1, every=4)
    assert "vanishing" in report.kinds
    gain = report.history["ratio_per_layer"][0]
    assert gain == pytest.approx(expected["ratio_per_layer"], rel=1e-3)
    assert report.data["flow"]["first"]["bound"] == pytest.approx(expected["bound"], rel=1e-5)
