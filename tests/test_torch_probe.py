"""GradientProbe: each finding on a model built to have it and not on its healthy twin; hooks; odd parameters;
the measurements against independent references; the JSON and HTML files."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import sigmoidlab  # noqa: E402
from sigmoidlab.torch import exact_gradients  # noqa: E402
from sigmoidlab.torch.probe import GradientProbe  # noqa: E402
from sigmoidlab.torch.probe_report import SCHEMA_VERSION, GradientFlowError, Report  # noqa: E402


def chain(width: int, depth: int, act: type, n_in: int = 4, scale: float | None = None, seed: int = 0):
    """Linear → act, ``depth`` times, then Linear(→1); weights N(0, scale²/fan_in) when ``scale`` is given."""
    torch.manual_seed(seed)
    layers: list = []
    for i in range(depth):
        linear = torch.nn.Linear(n_in if i == 0 else width, width)
        if scale is not None:
            with torch.no_grad():
                linear.weight.normal_(0, scale / linear.in_features**0.5)
                linear.bias.zero_()
        layers += [linear, act()]
    return torch.nn.Sequential(*layers, torch.nn.Linear(width, 1))


def train(model, steps=20, every=5, lr=0.01, opt=None, batch=64, n_in=4, forward=None, **probe_options):
    """A plain loop (BCE on a fixed random batch) with a probe; returns the report."""
    gen = torch.Generator().manual_seed(1)
    X = torch.randn(batch, n_in, generator=gen)
    y = (X[:, 0] > 0).float()
    opt = opt or torch.optim.SGD(model.parameters(), lr=lr)
    with GradientProbe(model, optimizer=opt, every=every, **probe_options) as probe:
        for _ in range(steps):
            out = forward(model, X) if forward else model(X)
            F.binary_cross_entropy_with_logits(out.reshape(-1), y).backward()
            opt.step()
            opt.zero_grad()
        return probe.report()


# ------------------------------------------------------------------------------------- findings and twins


def test_vanishing_deep_sigmoid_and_not_relu_he_twin():
    sick = train(chain(32, 8, torch.nn.Sigmoid))  # torch's default init is U[±1/√n]: the lab's "standard"
    healthy = train(chain(32, 8, torch.nn.ReLU, scale=2**0.5))  # He
    assert "vanishing" in sick.kinds
    finding = next(f for f in sick.findings if f["kind"] == "vanishing")
    assert finding["evidence"]["ratio_per_layer_median"] < 0.5
    assert finding["layers"][0] == "0"  # the input layer is the one starved
    assert "ReLU" in finding["remedy"]
    assert not {"vanishing", "exploding"} & set(healthy.kinds)
    assert 0.5 < healthy.data["flow"]["median"]["ratio_per_layer"] < 2


def test_exploding_chaotic_tanh_and_not_its_ordered_twin():
    # Deep tanh nets with weight scale σ_w ≫ 1 are in the chaotic phase: the backward signal grows per layer
    # (Poole et al. 2016, Schoenholz et al. 2017) while the forward stays bounded.
    sick = train(chain(64, 10, torch.nn.Tanh, scale=8.0), steps=5, every=1, lr=1e-6)
    healthy = train(chain(64, 10, torch.nn.Tanh, scale=1.0), steps=5, every=1, lr=1e-6)
    assert "exploding" in sick.kinds
    assert next(f for f in sick.findings if f["kind"] == "exploding")["evidence"]["ratio_per_layer_median"] > 1.5
    assert "exploding" not in healthy.kinds and "vanishing" not in healthy.kinds


def test_exploding_from_a_diverging_learning_rate_and_not_a_small_one():
    torch.manual_seed(0)
    sick = train(torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(8, 1)), steps=40, every=2, lr=8.0)
    torch.manual_seed(0)
    healthy = train(torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(8, 1)), steps=40, every=2, lr=0.05)
    assert "exploding" in sick.kinds
    assert "exploding" not in healthy.kinds


def test_saturation_large_weights_and_not_glorot_twin():
    sick = train(chain(32, 2, torch.nn.Sigmoid, scale=30.0), lr=1e-4)
    healthy = train(chain(32, 2, torch.nn.Sigmoid, scale=1.0), lr=1e-4)
    sat = next(f for f in sick.findings if f["kind"] == "saturation")
    assert set(sat["layers"]) == {"1/sigmoid", "3/sigmoid"}
    assert "saturation" not in healthy.kinds


def test_dead_units_negative_bias_and_not_zero_bias_twin():
    def relu_net(bias: float):
        model = chain(32, 2, torch.nn.ReLU, scale=2**0.5)
        with torch.no_grad():
            model[0].bias.fill_(bias)
        return model

    sick, healthy = train(relu_net(-20.0)), train(relu_net(0.0))
    dead = next(f for f in sick.findings if f["kind"] == "dead_units")
    # Layer 1 never fires, so layer 2 sees only its bias (0): z ≤ 0 there too, and it is dead as well.
    assert dead["layers"] == ["1/relu", "3/relu"] and dead["evidence"]["dead_fraction"]["1/relu"] == 1.0
    assert "dead_units" not in healthy.kinds
    assert healthy.sites[0]["dead_fraction"] < 0.5


class Gated(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.value, self.gate, self.out = torch.nn.Linear(4, 16), torch.nn.Linear(4, 16), torch.nn.Linear(16, 1)
        with torch.no_grad():
            self.gate.bias.fill_(7.0)  # where torch's bfloat16 σ' is 0 (from 6.25), the exact one 9e-4

    def forward(self, x):
        return self.out(torch.tanh(self.value(x)) * torch.sigmoid(self.gate(x)))


def bf16_forward(exact: bool):
    def forward(model, X):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            if exact:
                with exact_gradients():
                    return model(X).float()
            return model(X).float()

    return forward


def test_rounding_flush_in_bfloat16_and_gone_under_exact_gradients():
    sick = train(Gated(), forward=bf16_forward(False), lr=1e-3)
    fixed = train(Gated(), forward=bf16_forward(True), lr=1e-3)
    flush = next(f for f in sick.findings if f["kind"] == "rounding_flush")
    assert flush["layers"] == ["(model)/sigmoid"]
    assert flush["evidence"]["sites"]["(model)/sigmoid"]["dtype"] == "bfloat16"
    assert "exact_gradients" in flush["remedy"]
    assert "rounding_flush" not in fixed.kinds
    assert all(s["flush_count"] == 0 for s in fixed.sites)
    # The gates are really saturated too (σ'(7) ≈ 9e-4 < 0.01): the probe says so in both runs.
    assert "saturation" in sick.kinds and "saturation" in fixed.kinds


def test_update_ratio_too_small_and_too_large_and_not_at_a_good_rate():
    def net():
        return chain(32, 1, torch.nn.ReLU, scale=2**0.5)

    small = train(net(), lr=1e-7)
    large = train(net(), steps=10, every=2, lr=5.0)
    # Adam moves every weight by about lr per step, so ‖ΔW‖/‖W‖ ≈ lr·√(fan_in)/gain: about 10^-3.2 for the
    # first layer and 10^-2.3 for the output layer at lr 5e-4 (SGD would update the output layer 100× faster).
    good_net = net()
    good = train(good_net, opt=torch.optim.Adam(good_net.parameters(), lr=5e-4))
    sides = {f["evidence"]["side"] for f in small.findings if f["kind"] == "update_ratio"}
    assert sides == {"small"}
    assert "large" in {f["evidence"]["side"] for f in large.findings if f["kind"] == "update_ratio"}
    assert "update_ratio" not in good.kinds


def test_assert_healthy_raises_with_layers_and_evidence():
    model = chain(32, 8, torch.nn.Sigmoid)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    probe = GradientProbe(model, optimizer=opt, every=1)
    X = torch.randn(32, 4)
    for _ in range(3):
        model(X).sum().backward()
        opt.step()
        opt.zero_grad()
    with pytest.raises(GradientFlowError, match=r"vanishing: the gradient norm changes by ×0\.\d+ per layer") as info:
        probe.assert_healthy()
    assert "Remedy:" in str(info.value) and info.value.findings[0]["kind"] == "vanishing"
    probe.close()
    healthy = GradientProbe(chain(8, 1, torch.nn.ReLU), every=1)
    healthy.assert_healthy()  # no samples, nothing found
    healthy.close()


# ------------------------------------------------------------------------------ measurements vs references


def test_band_fraction_matches_numpy_exact_derivative():
    model = chain(16, 1, torch.nn.Sigmoid, scale=8.0).double()
    X = torch.randn(128, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    report = train(model, steps=1, every=1, lr=0.0, batch=128, forward=lambda m, _: m(X))
    z = (X @ model[0].weight.T + model[0].bias).detach().numpy()
    expected = np.mean(sigmoidlab.sigmoid_grad(z) < sigmoidlab.VANISHING_THRESHOLD)
    assert 0.2 < expected < 0.9
    assert report.history["band_fraction"]["1/sigmoid"][0] == pytest.approx(expected, abs=1e-12)


def test_flush_count_matches_autograd_backward():
    z = torch.tensor([0.0, 2.0, 5.0, 6.0, 6.25, 6.5, 7.0, 9.0, 12.0, 20.0, -3.0, -20.0], dtype=torch.bfloat16)

    class Site(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.shift = torch.nn.Parameter(torch.zeros((), dtype=torch.bfloat16))

        def forward(self, x):
            return torch.sigmoid(x + self.shift)

    model = Site()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    with GradientProbe(model, optimizer=opt, every=1) as probe:
        leaf = z.clone().requires_grad_(True)
        model(leaf).sum().backward()
        opt.step()
        report = probe.report()
    auto = leaf.grad.double().numpy()
    exact = sigmoidlab.sigmoid_grad(z.double().numpy())
    representable = torch.from_numpy(exact).to(torch.bfloat16).double().numpy() != 0
    expected = int(np.sum(representable & ((auto == 0) | (np.abs(auto - exact) > 0.5 * exact))))
    # 0 from 6.25 on (the table of the sigmoidlab.torch issue); at 6.0, y rounds to 1 − 2⁻⁸: y(1 − y) is 58% high.
    assert expected == 7
    assert report.history["flush_count"]["(model)/sigmoid"] == [expected]


def test_grad_weight_and_update_norms_are_the_true_ones():
    model = chain(8, 2, torch.nn.Tanh)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    X = torch.randn(16, 4)
    probe = GradientProbe(model, optimizer=opt, every=1)
    model(X).sum().backward()
    g = model[2].weight.grad.norm().item()
    w = model[2].weight.detach().norm().item()
    opt.step()
    probe.close()
    h = probe.report().history
    assert h["grad_norm"]["2"][0] == pytest.approx(g, rel=1e-6)
    assert h["weight_norm"]["2"][0] == pytest.approx(w, rel=1e-6)
    assert h["update_ratio_log10"]["2"][0] == pytest.approx(np.log10(0.1 * g / w), abs=1e-5)


def test_samples_every_n_steps_and_nothing_in_between(monkeypatch):
    calls = {"norm": 0}
    original = torch._foreach_norm

    def counting(*args, **kwargs):
        calls["norm"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(torch, "_foreach_norm", counting)
    report = train(chain(8, 2, torch.nn.ReLU), steps=25, every=10)
    assert report.history["steps"] == [0, 10, 20]
    assert calls["norm"] == 3 * 3  # gradients, weights, updates: at the 3 samples only
    assert report.data["steps"] == 25


def test_functional_sites_are_named_by_module_and_rank():
    class Block(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = torch.nn.Linear(4, 4), torch.nn.Linear(4, 4)

        def forward(self, x):
            x = F.relu(self.a(x))
            return torch.sigmoid(self.b(x)) * x.tanh() + F.relu(x)

    model = torch.nn.Sequential(Block(), torch.nn.SiLU(), torch.nn.Linear(4, 1))
    report = train(model, steps=2, every=1)
    names = {s["name"]: s["kind"] for s in report.sites}
    assert names == {"0/relu": "relu", "0/sigmoid": "sigmoid", "0/tanh": "tanh", "0/relu#2": "relu", "1/silu": "silu"}


# ------------------------------------------------------------------------------------ hooks and parameters


def hook_state(model, opt):
    from torch.nn.modules import module as mm

    per_module = [
        (
            dict(m._forward_hooks),
            dict(m._forward_pre_hooks),
            dict(m._backward_hooks),
            dict(m._forward_hooks_always_called),
        )
        for m in model.modules()
    ]
    globals_ = (dict(mm._global_forward_hooks), dict(mm._global_forward_pre_hooks))
    return per_module, globals_, dict(opt._optimizer_step_pre_hooks), dict(opt._optimizer_step_post_hooks)


def test_close_restores_every_hook_and_leaves_the_mode():
    model = chain(8, 2, torch.nn.Sigmoid)
    model[1].register_forward_hook(lambda *a: None)  # the user's own hook stays
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = hook_state(model, opt)
    probe = GradientProbe(model, optimizer=opt, every=1)
    assert hook_state(model, opt) != before
    with pytest.raises(RuntimeError):  # a forward that raises half-way, with the mode entered
        model(torch.randn(3, 5))
    model(torch.randn(3, 4)).sum().backward()
    opt.step()
    probe.close()
    probe.close()
    assert hook_state(model, opt) == before
    assert torch._C._len_torch_function_stack() == 0


def test_none_grads_frozen_shared_and_loose_parameters():
    class Odd(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = torch.nn.Linear(4, 6, bias=False)
            self.decode = torch.nn.Linear(6, 4, bias=False)
            self.decode.weight = torch.nn.Parameter(self.embed.weight.T.contiguous())
            self.tied = torch.nn.Linear(6, 4, bias=False)
            self.tied.weight = self.embed.weight  # shared (the same Parameter in two modules)
            self.unused = torch.nn.Linear(4, 4)  # never called: its gradient stays None
            self.frozen = torch.nn.Linear(4, 4)
            self.frozen.requires_grad_(False)
            self.scale = torch.nn.Parameter(torch.ones(()))  # the root's own parameter

        def forward(self, x):
            h = self.embed(self.frozen(x))
            return (self.tied.weight.T @ h.T).T.sum(-1) * self.scale

    model = Odd()
    loose = torch.nn.Parameter(torch.ones(3))  # only the optimiser knows it
    opt = torch.optim.SGD([*model.parameters(), loose], lr=0.01)
    probe = GradientProbe(model, optimizer=opt, every=1)
    x = torch.randn(5, 4)
    (model(x).sum() + (loose**2).sum()).backward()
    grad_embed = model.embed.weight.grad.norm().item()
    opt.step()
    report = probe.report()
    probe.close()
    layers = {row["name"]: row for row in report.layers}
    assert set(layers) == {"(model)", "embed", "decode", "unused", "(optimizer)"}
    assert layers["embed"]["shared_with"] == ["tied.weight"]
    assert layers["embed"]["grad_norm"] == pytest.approx(grad_embed, rel=1e-6)  # both uses, counted once
    assert layers["unused"]["grad_norm"] is None and layers["decode"]["grad_norm"] is None
    assert layers["(optimizer)"]["grad_norm"] == pytest.approx(2 * 3**0.5, rel=1e-6)
    assert report.data["model"]["frozen"] == ["frozen.weight", "frozen.bias"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"every": 0}, "every must be an integer ≥ 1, got 0"),
        ({"threshold": 0.5}, "threshold must be in"),
        ({"limits": {"dead": 1}}, "unknown limits"),
        ({"optimizer": "sgd"}, "optimizer must be a torch.optim"),
    ],
)
def test_bad_arguments_get_one_clear_line(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        GradientProbe(chain(4, 1, torch.nn.ReLU), **kwargs)


# ------------------------------------------------------------------------------------------------- files


def test_json_schema_round_trip_and_html_is_self_contained(tmp_path):
    report = train(chain(16, 4, torch.nn.Sigmoid, scale=6.0), steps=10, every=2)
    report.save_json(tmp_path / "flow.json")
    report.save_html(tmp_path / "flow.html")
    data = json.loads((tmp_path / "flow.json").read_text())
    assert data["schema"] == "sigmoidlab.gradient_probe" and data["schema_version"] == SCHEMA_VERSION == 1
    for key in ("model", "settings", "steps", "healthy", "findings", "layers", "sites", "flow", "history"):
        assert key in data
    for finding in data["findings"]:
        assert set(finding) == {"kind", "layers", "evidence", "message", "remedy"}
    n = len(data["history"]["steps"])
    assert all(len(v) == n for v in data["history"]["grad_norm"].values())
    assert all(len(v) == n for v in data["history"]["band_fraction"].values())
    assert Report.load(tmp_path / "flow.json").findings == report.findings
    (tmp_path / "other.json").write_text(json.dumps({**data, "schema_version": 99}))
    with pytest.raises(ValueError, match="schema_version 99"):
        Report.load(tmp_path / "other.json")
    page = (tmp_path / "flow.html").read_text()
    assert "<svg" in page and "Gradient-flow meter" in page
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", page, re.I)
    assert "http://" not in page and "https://" not in page


def test_print_shows_verdict_and_tables():
    from rich.console import Console

    console = Console(record=True, width=140)
    train(chain(32, 8, torch.nn.Sigmoid)).print(console)
    text = console.export_text()
    assert "vanishing" in text and "activation sites" in text and "15/sigmoid" in text
