"""What GradientProbe(every=10) costs per training step: interleaved blocks with and without the probe.

Models: a 64-256-256-1 ReLU MLP (batch 128) and a small LSTM (1→32, 50 steps, batch 64), SGD, CPU. Each round
runs a block of ``--steps`` steps without the probe and one with it (order alternating), each block timed as a
whole; the overhead is the ratio of the medians. Writes benchmarks/results/probe_overhead.{json,md}.

    python benchmarks/probe_overhead.py [--rounds 15] [--steps 100] [--threads 1]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import time
from pathlib import Path

import torch

from sigmoidlab._kernels.cpu import cpu_model
from sigmoidlab.torch.probe import GradientProbe

F = torch.nn.functional
RESULTS = Path(__file__).resolve().parent / "results"


class Recall(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = torch.nn.LSTM(1, 32, batch_first=True)
        self.head = torch.nn.Linear(32, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.lstm(x)[0][:, -1])


def setups() -> dict:
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(
        torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 1)
    )
    X = torch.randn(128, 64)
    seq = torch.randn(64, 50, 1)
    return {
        "mlp_64_256_256_1": (mlp, X, (X[:, 0] > 0).float()),
        "lstm_1_32_T50": (Recall(), seq, (seq[:, 0, 0] > 0).float()),
    }


def block(model, X, y, opt, steps: int, probe: bool) -> float:
    p = GradientProbe(model, optimizer=opt, every=10) if probe else None
    start = time.perf_counter()
    for _ in range(steps):
        F.binary_cross_entropy_with_logits(model(X).squeeze(1), y).backward()
        opt.step()
        opt.zero_grad()
    elapsed = time.perf_counter() - start
    if p is not None:
        p.close()
    return elapsed / steps


def measure(rounds: int, steps: int) -> dict:
    out = {}
    for name, (model, X, y) in setups().items():
        opt = torch.optim.SGD(model.parameters(), lr=1e-3)
        block(model, X, y, opt, steps, True)  # warm-up: allocator, first-call costs
        plain, probed = [], []
        for r in range(rounds):
            for with_probe in (r % 2 == 0, r % 2 == 1):
                (probed if with_probe else plain).append(block(model, X, y, opt, steps, with_probe))
        mp, mq = statistics.median(plain), statistics.median(probed)
        out[name] = {"plain_ms": 1e3 * mp, "probe_ms": 1e3 * mq, "overhead": mq / mp - 1, "rounds": rounds}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = measure(args.rounds, args.steps)
    meta = {"cpu": cpu_model(), "threads": args.threads, "steps_per_block": args.steps, "torch": torch.__version__}
    with contextlib.suppress(OSError):  # not on every platform
        meta["load_average"] = [round(v, 2) for v in os.getloadavg()]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "probe_overhead.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    lines = [
        "# GradientProbe overhead (every=10)",
        "",
        f"CPU: {meta['cpu']}, {args.threads} thread(s), torch {meta['torch']}, load average at the end "
        f"{meta.get('load_average', '?')}; medians of {args.rounds} interleaved blocks of {args.steps} steps.",
        "",
        "| model | step without probe (ms) | with probe (ms) | overhead |",
        "|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(f"| {name} | {r['plain_ms']:.3f} | {r['probe_ms']:.3f} | {100 * r['overhead']:+.1f}% |")
    (RESULTS / "probe_overhead.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
