"""The benchmark's written output: Markdown tables for benchmarks/results/ and the README's summary tables."""

from __future__ import annotations


def _fmt_time(t: float) -> str:
    return f"{t * 1e6:.1f} µs" if t < 1e-3 else f"{t * 1e3:.2f} ms"


def _get(rows: list[dict], op: str, dtype: str, n: int, impl_prefix: str) -> dict | None:
    return next(
        (r for r in rows if (r["op"], r["dtype"], r["n"]) == (op, dtype, n) and r["impl"].startswith(impl_prefix)),
        None,
    )


def summary(data: dict) -> list[str]:
    """The README's target figures, read off the largest size measured, for each kernel path."""
    rows = data["results"]
    n_max, n_min = max(r["n"] for r in rows), min(r["n"] for r in rows)
    lines = []
    for kernel in data["machine"]["kernels"]:
        ours_name = f"sigmoidlab ({kernel})"
        for dtype in data["config"]["dtypes"]:
            ours, torch_row = (
                _get(rows, "sigmoid", dtype, n_max, ours_name),
                _get(rows, "sigmoid", dtype, n_max, "torch"),
            )
            if not ours:
                continue
            text = f"- `{kernel}`, {dtype}, n={n_max:,}: forward σ at {ours['roofline_fraction']:.2f} of np.copyto"
            if torch_row:
                text += f", {torch_row['seconds'] / ours['seconds']:.2f}× torch.sigmoid"
            for op in ("sigmoid_grad", "sigmoid_and_grad"):
                r = _get(rows, op, dtype, n_max, ours_name)
                if r:
                    text += f"; {op} at {r['roofline_fraction']:.2f} of its roofline"
            small, scipy_row = (
                _get(rows, "sigmoid", dtype, n_min, ours_name),
                _get(rows, "sigmoid", dtype, n_min, "scipy"),
            )
            if small and scipy_row:
                text += f"; n={n_min:,}: {scipy_row['seconds'] / small['seconds']:.2f}× scipy.special.expit"
            lines.append(text)
    for op in ("sigmoid", "sigmoid_and_grad"):
        mem = [m for m in data.get("memory", []) if m["op"] == op]
        if mem:
            parts = ", ".join(f"{m['impl']} {m['peak_bytes'] / 2**20:,.1f} MiB" for m in mem)
            lines.append(
                f"- peak memory of {op} returning new float64 arrays, n={mem[0]['n']:,} "
                f"(output {mem[0]['output_bytes'] / 2**20:,.1f} MiB): {parts}"
            )
    return lines


_ANCHORS = (("torch", "torch (2 threads)"), ("numexpr", "numexpr"), ("scipy", "scipy.special"), ("numpy", "NumPy"))
_OP_LABELS = {"sigmoid": "σ", "sigmoid_grad": "σ' from x", "sigmoid_and_grad": "(σ, σ') fused"}


def _cell(row: dict | None, ours: dict) -> str:
    if row is None:
        return "–"
    ratio = row["seconds"] / ours["seconds"]
    return f"{row['roofline_fraction']:.2f} ({ratio:.2f}× {'slower' if ratio >= 1 else 'faster'})"


def readme_summary(data: dict) -> str:
    """Two titled tables for the README: the roofline fractions at the largest size, and σ against torch and
    SciPy at every size (tools/readme_tables.py copies them)."""
    rows, m = data["results"], data["machine"]
    n_max = max(r["n"] for r in rows)
    kernel = m["kernels"][0] if m["kernels"] else "-"
    ours_name = f"sigmoidlab ({kernel})"
    head = [f"**Of the copy roofline at {n_max:,} elements, `out=` given ({m['cpu']}, path `{kernel}`)**", ""]
    head += ["| op | dtype | sigmoidlab | " + " | ".join(label for _, label in _ANCHORS) + " |"]
    head += ["|---|---|---:|" + "---:|" * len(_ANCHORS)]
    for op, label in _OP_LABELS.items():
        for dtype in data["config"]["dtypes"]:
            ours = _get(rows, op, dtype, n_max, ours_name)
            if ours:
                cells = [_cell(_get(rows, op, dtype, n_max, prefix), ours) for prefix, _ in _ANCHORS]
                head.append(f"| {label} | {dtype} | **{ours['roofline_fraction']:.2f}** | " + " | ".join(cells) + " |")
    sizes = sorted({r["n"] for r in rows})
    table = ["", f"**σ per call, `out=` given: time and how many times slower the anchor is ({m['cpu']})**", ""]
    table += ["| n | dtype | sigmoidlab | torch (2 threads) | scipy.special.expit |", "|---:|---|---:|---:|---:|"]
    for n in sizes:
        for dtype in data["config"]["dtypes"]:
            ours = _get(rows, "sigmoid", dtype, n, ours_name)
            if ours:
                cells = [_get(rows, "sigmoid", dtype, n, prefix) for prefix in ("torch", "scipy")]
                text = [
                    f"{_fmt_time(c['seconds'])} ({c['seconds'] / ours['seconds']:.2f}×)" if c else "–" for c in cells
                ]
                table.append(f"| {n:,} | {dtype} | {_fmt_time(ours['seconds'])} | " + " | ".join(text) + " |")
    return "\n".join(head + table) + "\n"


def machine_line(m: dict) -> str:
    extensions = ", ".join(m.get("vector_extensions") or []) or "none detected"
    torch_part = f", torch {m['torch']}" if "torch" in m else ""
    return (
        f"Machine: {m['cpu']}, {m['cores']} cores; vector extensions: {extensions}. Kernel path(s) measured: "
        f"{', '.join(f'`{k}`' for k in m['kernels'])} (this CPU runs {', '.join(m['kernels_available'])}); "
        f"{m['threads']} threads, split from {m['parallel_min_bytes']:,} bytes of output; NumPy {m['numpy']}"
        f"{torch_part}; OMP_WAIT_POLICY={m.get('omp_wait_policy', 'default')} for the table (idle OpenMP workers "
        "of torch sleep instead of spinning on the cores the next implementation needs)."
    )


def after_torch_lines(rows: list[dict] | None) -> list[str]:
    if not rows:
        return []
    out = [
        "",
        "σ right after a torch call: each sigmoidlab call preceded by one torch.sigmoid call on the same size, "
        "against sigmoidlab's steady state (median of the repetitions), in a child process per OpenMP wait policy.",
        "",
        "| dtype | n | OMP_WAIT_POLICY | sigmoidlab alone | right after torch.sigmoid | slowdown | torch.sigmoid |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r['dtype']} | {r['n']:,} | {r['omp_wait_policy']} | {_fmt_time(r['alone_s'])} | "
            f"{_fmt_time(r['after_torch_s'])} | {r['slowdown']:.2f}× | {_fmt_time(r['torch_s'])} |"
        )
    return out


def to_markdown(data: dict) -> str:
    m = data["machine"]
    load = m.get("load_average") or {}
    out = [
        "# sigmoidlab kernel benchmark",
        "",
        machine_line(m),
        "",
        f"Load average (1/5/15 min) before the run {load.get('before')}, after {load.get('after')}: "
        "other work on the machine slows absolute times; the ratios, measured interleaved, are what counts.",
        "",
        f"Median of {data['config']['repeats']} rounds of alternating blocks (per implementation: one untimed call, "
        f"then timed calls filling ≥ {data['config']['block_seconds'] * 1e3:g} ms, at least 2), outputs "
        "preallocated. Roofline = `np.copyto` time scaled to the op's traffic (1 read + 1 write for σ and σ', "
        "1 read + 2 writes for the pair). Speed-up = that implementation's time / sigmoidlab's "
        f"(`{m['kernels'][0] if m['kernels'] else '-'}`).",
        "",
        *summary(data),
        *after_torch_lines(data.get("after_torch")),
        "",
        "| op | dtype | n | implementation | time | GB/s | of roofline | sigmoidlab speed-up |",
        "|---|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in data["results"]:
        speed = "" if r["sigmoidlab_speedup"] is None else f"{r['sigmoidlab_speedup']:.2f}×"
        out.append(
            f"| {r['op']} | {r['dtype']} | {r['n']:,} | {r['impl']} | {_fmt_time(r['seconds'])} | "
            f"{r['gbps']:.1f} | {r['roofline_fraction']:.2f} | {speed} |"
        )
    return "\n".join(out) + "\n"
