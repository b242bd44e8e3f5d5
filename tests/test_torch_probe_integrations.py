"""GradientProbe with autocast + GradScaler, torch.compile, DistributedDataParallel, Lightning, and the CLI demo."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import sigmoidlab.cli.probe  # noqa: E402, F401  (registers probe-demo until cli/__init__ lists "probe")
from sigmoidlab.torch.probe import GradientProbe  # noqa: E402


def mlp(seed: int = 0) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(4, 16), torch.nn.Sigmoid(), torch.nn.Linear(16, 16), torch.nn.ReLU(),
        torch.nn.Linear(16, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1),
    )  # fmt: skip


def data(n: int = 32, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 4, generator=gen) * 3
    return X, (X[:, 0] > 0).float()


# ------------------------------------------------------------------------------------ autocast + GradScaler


def amp_run(mode: str) -> tuple[list[float], list[float]]:
    """Probe gradient norms (first sample) and the true unscaled ones, for three ways of stepping."""
    model, (X, y) = mlp(), data()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**12)
    probe = GradientProbe(model, optimizer=opt, every=1, scaler=scaler if mode == "direct" else None)
    with torch.autocast("cpu", dtype=torch.float16):
        loss = F.binary_cross_entropy_with_logits(model(X).squeeze(1).float(), y)
    scaler.scale(loss).backward()
    truth = [(p.grad.norm() / scaler.get_scale()).item() for p in model.parameters() if p.dim() == 2]
    if mode == "step":
        scaler.step(opt)  # unscales, then steps
    elif mode == "unscale_first":
        scaler.unscale_(opt)  # as before clipping
        scaler.step(opt)
    else:
        opt.step()  # the scaler never unscaled: the probe divides by its scale
    if mode != "direct":
        scaler.update()
    probe.close()
    names = [layer["name"] for layer in probe.report().layers]
    return [probe.report().history["grad_norm"][n][0] for n in names], truth


@pytest.mark.parametrize("mode", ["step", "unscale_first", "direct"])
def test_gradients_are_read_unscaled_under_autocast_and_gradscaler(mode):
    got, truth = amp_run(mode)
    assert got == pytest.approx(truth, rel=1e-5)  # the same float16 gradients, divided by 2^12 exactly


def test_sites_under_autocast_see_the_low_precision_dtype():
    model, (X, y) = mlp(), data()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with GradientProbe(model, optimizer=opt, every=1) as probe:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(X)
        F.binary_cross_entropy_with_logits(out.squeeze(1).float(), y).backward()
        opt.step()
        sites = {s["name"]: s["dtype"] for s in probe.report().sites}
    assert sites == {"1/sigmoid": "bfloat16", "3/relu": "bfloat16", "5/tanh": "bfloat16"}


# ------------------------------------------------------------------------------------------- torch.compile


def test_compile_adds_no_graph_break_and_gradients_are_still_read():
    model, (X, y) = mlp(), data()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    probe = GradientProbe(model, optimizer=opt, every=2)
    explained = torch._dynamo.explain(model)(X)
    assert explained.graph_break_count == 0 and explained.graph_count == 1
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, backend="eager")  # fullgraph: a graph break would raise
    for _ in range(4):
        F.binary_cross_entropy_with_logits(compiled(X).squeeze(1), y).backward()
        opt.step()
        opt.zero_grad()
    report = probe.report()
    probe.close()
    torch._dynamo.reset()
    assert report.history["steps"] == [0, 2]
    assert all(v[0] is not None and v[0] > 0 for v in report.history["grad_norm"].values())
    assert report.sites == []  # inside a compiled forward activation sites are not observed (documented)


# --------------------------------------------------------------------------------------------------- DDP


def _ddp_worker(rank: int, port: int, out: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        torch.set_num_threads(1)
        model = torch.nn.parallel.DistributedDataParallel(mlp())
        report = _train_steps(model, rank)
        if rank == 0:
            report.save_json(out)
    finally:
        dist.destroy_process_group()


def _train_steps(model: torch.nn.Module, rank: int | None) -> object:
    X, y = data(64)
    if rank is not None:  # each rank its half of the global batch
        X, y = X[rank * 32 : (rank + 1) * 32], y[rank * 32 : (rank + 1) * 32]
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with GradientProbe(model, optimizer=opt, every=2) as probe:
        for _ in range(5):
            F.binary_cross_entropy_with_logits(model(X).squeeze(1), y).backward()
            opt.step()
            opt.zero_grad()
        return probe.report()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_ddp_rank0_report_equals_single_process_on_the_global_batch(tmp_path):
    out = str(tmp_path / "rank0.json")
    torch.multiprocessing.spawn(_ddp_worker, args=(_free_port(), out), nprocs=2, join=True)
    ddp = json.loads(Path(out).read_text())["history"]
    single = _train_steps(mlp(), None).history
    assert ddp["steps"] == single["steps"] == [0, 2, 4]
    for key in ("grad_norm", "weight_norm", "update_ratio_log10"):
        for layer, values in single[key].items():
            assert ddp[key][layer] == pytest.approx(values, rel=1e-5), (key, layer)
    assert set(ddp["band_fraction"]) == {"1/sigmoid", "3/relu", "5/tanh"}
    for key in ("band_fraction", "dead_fraction", "flush_count"):  # counts summed over the ranks
        assert set(ddp[key]) == set(single[key])
        for site, values in single[key].items():
            assert ddp[key][site] == pytest.approx(values, abs=1e-9), (key, site)


# ---------------------------------------------------------------------------------------------- Lightning


def test_lightning_callback_samples_every_n_steps(tmp_path):
    pl = pytest.importorskip("pytorch_lightning")
    from sigmoidlab.torch.lightning import GradientFlowCallback

    X, y = data(64)

    class Module(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = mlp()

        def training_step(self, batch, batch_idx):
            xb, yb = batch
            return F.binary_cross_entropy_with_logits(self.net(xb).squeeze(1), yb)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.05)

    module = Module()
    reference = mlp()  # the same init: its gradient on the first batch is what the first sample must hold
    F.binary_cross_entropy_with_logits(reference(X[:16]).squeeze(1), y[:16]).backward()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=16)
    callback = GradientFlowCallback(every=3, dirpath=tmp_path)
    trainer = pl.Trainer(
        max_steps=7, callbacks=[callback], logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, accelerator="cpu", devices=1,
    )  # fmt: skip
    trainer.fit(module, loader)
    history = callback.report.history
    assert history["steps"] == [0, 3, 6]
    assert history["grad_norm"]["net.0"][0] == pytest.approx(reference[0].weight.grad.norm().item(), rel=1e-5)
    assert {s["name"] for s in callback.report.sites} == {"net.1/sigmoid", "net.3/relu", "net.5/tanh"}
    assert (tmp_path / "gradient_flow.json").exists() and (tmp_path / "gradient_flow.html").exists()
    assert module._forward_hooks == {} and module._forward_pre_hooks == {}


# ---------------------------------------------------------------------------------------------------- CLI


def test_probe_demo_quick_writes_reports_with_the_expected_verdicts(tmp_path, capsys):
    from sigmoidlab.cli import main

    assert main(["probe-demo", "--out", str(tmp_path), "--quick"]) == 0
    verdicts = json.loads((tmp_path / "summary.json").read_text())
    assert "vanishing" in verdicts["sigmoid_mlp"]["kinds"]
    assert verdicts["relu_he_mlp"]["kinds"] == []
    assert "rounding_flush" in verdicts["gated_bf16"]["kinds"]
    assert "rounding_flush" not in verdicts["gated_bf16_exact"]["kinds"]
    for name in verdicts:
        assert (tmp_path / f"{name}.json").exists() and (tmp_path / f"{name}.html").exists()
    assert "sigmoid_mlp" in capsys.readouterr().out


def test_probe_demo_without_torch_fails_with_the_install_hint(monkeypatch, capsys):
    import sys

    from sigmoidlab.cli import main

    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ModuleNotFoundError
    for name in [m for m in sys.modules if m.startswith("sigmoidlab.torch")]:
        monkeypatch.delitem(sys.modules, name)
    assert main(["probe-demo", "--out", os.devnull + "x", "--quick"]) == 2
    assert "pip install 'sigmoidlab[torch]'" in capsys.readouterr().err
