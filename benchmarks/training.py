"""Training speed: sigmoidlab.nn vs a PyTorch CPU loop vs scikit-learn's MLPClassifier.

Small case (the README's case): 2-16-16-1 sigmoid MLP, Adam lr 1e-2, batch 64, 50 epochs on 10,000
``make_moons(noise=0.2)`` points, float32. Wide case: 64-256-256-1 sigmoid MLP on 50,000 points (two moons
embedded in 64 dimensions by a fixed random rotation, plus noise), fewer epochs, vs PyTorch. Repetitions are
interleaved (ours, torch, sklearn, ours, ...) and the median is reported, with each run's final accuracy on the
training set. Also our per-step time split into forward (incl. loss), backward and optimiser step.

    python benchmarks/training.py [--quick] [--reps 3] [--out benchmarks/results/training]

writes ``OUT.md`` and ``OUT.json``.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import platform
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from sklearn.datasets import make_moons

from sigmoidlab import nn
from sigmoidlab._atomic import write_text

LR, BATCH = 1e-2, 64


def small_data(n: int) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_moons(n, noise=0.2, random_state=0)
    return X.astype(np.float32), y


def wide_data(n: int, d: int = 64) -> tuple[np.ndarray, np.ndarray]:
    X2, y = make_moons(n, noise=0.2, random_state=1)
    rng = np.random.default_rng(1)
    rotation, _ = np.linalg.qr(rng.standard_normal((d, d)))
    X = np.hstack([X2, 0.5 * rng.standard_normal((n, d - 2))]) @ rotation
    return X.astype(np.float32), y


def run_ours(X, y, hidden, epochs, seed):
    model = nn.mlp(X.shape[1], hidden, activation="sigmoid", dtype=np.float32, seed=seed)
    opt = nn.Adam(model.parameters(), lr=LR)
    t = time.perf_counter()
    nn.fit(model, X, y, optimizer=opt, epochs=epochs, batch_size=BATCH, seed=seed, progress=False)
    elapsed = time.perf_counter() - t
    return elapsed, float(np.mean((model.predict_proba(X) > 0.5) == y))


def run_torch(X, y, hidden, epochs, seed, threads):
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    sizes = [X.shape[1], *hidden]
    layers = []
    for a, b in itertools.pairwise(sizes):
        layers += [torch.nn.Linear(a, b), torch.nn.Sigmoid()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-1], 1))
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    tX, ty = torch.from_numpy(X), torch.from_numpy(y.astype(np.float32)).reshape(-1, 1)
    t = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(tX))
        Xe, ye = tX[perm], ty[perm]
        for i in range(0, len(Xe), BATCH):
            opt.zero_grad()
            loss = loss_fn(model(Xe[i : i + BATCH]), ye[i : i + BATCH])
            loss.backward()
            opt.step()
    elapsed = time.perf_counter() - t
    with torch.no_grad():
        acc = float(((model(tX) > 0).numpy().ravel() == y).mean())
    return elapsed, acc


def run_sklearn(X, y, hidden, epochs, seed):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(
        hidden_layer_sizes=hidden,
        activation="logistic",
        solver="adam",
        batch_size=BATCH,
        learning_rate_init=LR,
        max_iter=epochs,
        tol=0,
        n_iter_no_change=epochs,
        random_state=seed,
    )
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    elapsed = time.perf_counter() - t
    return elapsed, float(clf.score(X, y))


def step_breakdown(X, y, hidden, steps):
    """Median per-step seconds of forward+loss, backward and optimiser step, over ``steps`` mini-batches."""
    model = nn.mlp(X.shape[1], hidden, activation="sigmoid", dtype=np.float32, seed=0)
    opt, loss = nn.Adam(model.parameters(), lr=LR), nn.BCEWithLogits()
    Y = y.astype(np.float32).reshape(-1, 1)
    parts: dict[str, list[float]] = {"forward": [], "backward": [], "optimiser": []}
    clock = time.perf_counter
    for s in range(steps):
        i = (s * BATCH) % (len(X) - BATCH)
        xb, yb = X[i : i + BATCH], Y[i : i + BATCH]
        t0 = clock()
        loss.forward(model.forward(xb), yb)
        t1 = clock()
        model.backward(loss.backward())
        t2 = clock()
        opt.step()
        t3 = clock()
        parts["forward"].append(t1 - t0)
        parts["backward"].append(t2 - t1)
        parts["optimiser"].append(t3 - t2)
    return {k: statistics.median(v) for k, v in parts.items()}


def benchmark(name, X, y, hidden, epochs, reps, runners):
    results = {k: {"seconds": [], "accuracy": []} for k in runners}
    for rep in range(reps):
        for key, fn in runners.items():
            seconds, acc = fn(X, y, hidden, epochs, rep)
            results[key]["seconds"].append(seconds)
            results[key]["accuracy"].append(acc)
    steps = epochs * -(-len(X) // BATCH)
    return {
        "case": name,
        "architecture": "-".join(map(str, [X.shape[1], *hidden, 1])),
        "n_samples": len(X),
        "epochs": epochs,
        "steps": steps,
        "results": {
            k: {
                "median_s": statistics.median(v["seconds"]),
                "step_us": 1e6 * statistics.median(v["seconds"]) / steps,
                "accuracy": statistics.median(v["accuracy"]),
                "runs_seconds": v["seconds"],
                "runs_accuracy": v["accuracy"],
            }
            for k, v in results.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repetition: a smoke run in seconds")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/results/training", help="output path without extension")
    args = parser.parse_args()
    reps = 1 if args.quick else max(1, args.reps)
    small_n, small_epochs = (2000, 3) if args.quick else (10_000, 50)
    wide_n, wide_epochs = (2000, 1) if args.quick else (50_000, 5)

    # PyTorch's intra-op threads cost more than they give on tiny matrices (here 2 threads were ~2.7x slower
    # per step than 1 on the small net), so it runs both ways and each case is compared with its faster one.
    torch_runs = {f"pytorch, {t} thread{'s' * (t > 1)}": functools.partial(run_torch, threads=t) for t in (1, 2)}
    runners = {"sigmoidlab": run_ours, **torch_runs, "sklearn": run_sklearn}
    cases = [benchmark("small", *small_data(small_n), (16, 16), small_epochs, reps, runners)]
    wide_runners = {k: v for k, v in runners.items() if k != "sklearn"}
    cases.append(benchmark("wide", *wide_data(wide_n), (256, 256), wide_epochs, reps, wide_runners))
    breakdown = {
        "small": step_breakdown(*small_data(small_n), (16, 16), 200 if args.quick else 3000),
        "wide": step_breakdown(*wide_data(wide_n), (256, 256), 20 if args.quick else 500),
    }
    import torch

    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or platform.platform()}",
        "versions": {"numpy": np.__version__, "torch": torch.__version__, "sklearn": __import__("sklearn").__version__},
        "quick": args.quick,
        "repetitions": reps,
        "cases": cases,
        "step_breakdown_us": {k: {p: 1e6 * s for p, s in v.items()} for k, v in breakdown.items()},
    }

    table = Table(title="Training: sigmoid MLP, Adam lr 1e-2, batch 64, float32 (median of interleaved runs)")
    for col in ("case", "library", "time (s)", "µs/step", "vs sigmoidlab", "train accuracy"):
        table.add_column(col, justify="left" if col in ("case", "library") else "right")
    md = [
        "# Training benchmark",
        "",
        f"Machine: {report['machine']}. {reps} interleaved repetition(s), medians."
        + (" QUICK RUN (small sizes)." if args.quick else ""),
        "",
        "| case | library | time (s) | µs/step | time / sigmoidlab's | train accuracy |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for case in cases:
        ours = case["results"]["sigmoidlab"]["median_s"]
        label = f"{case['architecture']}, {case['n_samples']:,} pts, {case['epochs']} epochs"
        for lib, r in case["results"].items():
            row = [
                label,
                lib,
                f"{r['median_s']:.2f}",
                f"{r['step_us']:.0f}",
                f"{r['median_s'] / ours:.2f}×",
                f"{r['accuracy']:.3f}",
            ]
            table.add_row(*row)
            md.append("| " + " | ".join(row) + " |")
    md += [
        "",
        "Our step time, split (µs, median over steps):",
        "",
        "| case | forward + loss | backward | optimiser |",
        "|---|---:|---:|---:|",
    ]
    for case, parts in report["step_breakdown_us"].items():
        md.append(f"| {case} | {parts['forward']:.1f} | {parts['backward']:.1f} | {parts['optimiser']:.1f} |")
    console = Console()
    console.print(table)
    console.print({k: {p: round(v, 1) for p, v in d.items()} for k, d in report["step_breakdown_us"].items()})
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out.with_suffix(".md"), "\n".join(md) + "\n")
    write_text(out.with_suffix(".json"), json.dumps(report, indent=2) + "\n")
    console.print(f"wrote {out.with_suffix('.md')} and {out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
