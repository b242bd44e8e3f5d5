r"""``GradientProbe``: where the gradients of a PyTorch model vanish, explode, saturate or are flushed by rounding.

    probe = GradientProbe(model, optimizer=opt, every=10)   # or: with GradientProbe(...) as probe:
    for batch in loader:
        loss = ...; loss.backward(); opt.step(); opt.zero_grad()   # the loop is unchanged
    report = probe.report()       # .findings, .print(), .save_json(path), .save_html(path)
    probe.assert_healthy()        # raises GradientFlowError naming the layers and the evidence
    probe.close()                 # removes every hook it added

**What is measured**, every ``every`` optimiser steps (step 0 included), from an optimiser step pre-hook (after
``GradScaler.step`` has unscaled the gradients) and the matching post-hook: per parameterised layer (a module's
own parameters), the Frobenius norms of its weight matrices' gradient and value, and log₁₀(‖ΔW‖/‖W‖) of the
update; per activation call site in the forward passes of that step (modules and functional calls, see
:mod:`._probe_sites`), the vanishing-band fraction with the exact derivative, the dead-unit fraction (ReLU,
over the last ``window`` samples) and the rounding-flush count. What the findings make of it:
:mod:`.probe_report`.

**Cost.** Between samples: a step counter in each optimiser hook and one flag test in two forward hooks on the
model. At a sample: ``torch._foreach_norm`` over the gradients and weights, a copy of the weights for ΔW (into
buffers kept between samples), the site statistics as device tensors, and one host read (``.tolist()``) of
everything once the step is done.

**Compatibility.** ``torch.autocast`` + ``GradScaler``: gradients are read after unscaling (when the scaler has
not unscaled them, e.g. ``optimizer.step()`` called directly, pass ``scaler=`` and they are divided by its scale).
``torch.compile``: the hooks do nothing while Dynamo traces (no graph break); gradient, weight and update
statistics are unaffected, activation sites inside a compiled forward are not observed. ``DistributedDataParallel``
(pass the wrapped or the inner model): gradients are read after the all-reduce, and with ``torch.distributed``
initialised the site counts are summed over ranks (one all-reduce per sample), so every rank's report is that of
the global batch. Closure-based optimisers (LBFGS) run the backward inside ``step``: drive the probe with
:meth:`GradientProbe.before_step` / :meth:`GradientProbe.after_step` instead (as the Lightning callback does).

**Parameters.** Layers are named by module path (``"(model)"`` for the root's own parameters); a parameter shared
by several modules (tied weights) belongs to the first and is listed as shared by the others; frozen parameters
(``requires_grad=False`` at construction) are listed, not measured; optimiser parameters outside the model form
the layer ``"(optimizer)"``; a gradient that is ``None`` at a sample is recorded as missing.
"""

from __future__ import annotations

import collections
import contextlib
from dataclasses import dataclass, field
from typing import Any

import torch

from ..functions import VANISHING_THRESHOLD
from . import _probe_sites as sites
from .probe_report import LIMITS, GradientFlowError, Report, build_report

__all__ = ["GradientFlowError", "GradientProbe", "Report"]


@dataclass
class _Layer:
    name: str
    params: list[tuple[str, torch.nn.Parameter]]
    weights: list[int]  # indices into the probe's parameter list: the matrices (ndim ≥ 2), or all if none
    module: bool = True  # False for "(model)" and "(optimizer)": kept out of the depth fit
    shared_with: list[str] = field(default_factory=list)


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside DistributedDataParallel / DataParallel, so that names match a single-process run."""
    wrappers = (torch.nn.parallel.DistributedDataParallel, torch.nn.DataParallel)
    return model.module if isinstance(model, wrappers) else model


def _discover(model: torch.nn.Module, optimizer: Any) -> tuple[list[_Layer], list[str]]:
    layers: list[_Layer] = []
    owner: dict[int, _Layer] = {}
    frozen: list[str] = []
    flat: list[torch.nn.Parameter] = []
    for mname, module in model.named_modules():
        own = []
        for pname, p in module._parameters.items():
            full = f"{mname}.{pname}" if mname else pname
            if p is None:
                continue
            if id(p) in owner:
                owner[id(p)].shared_with.append(full)
            elif not p.requires_grad:
                frozen.append(full)
            else:
                own.append((full, p))
        if own:
            layer = _new_layer(mname or "(model)", own, flat, module=bool(mname))
            layers.append(layer)
            owner.update({id(p): layer for _, p in own})
    loose = []
    for g, group in enumerate(getattr(optimizer, "param_groups", [])):
        loose += [(f"param_groups[{g}][{i}]", p) for i, p in enumerate(group["params"]) if id(p) not in owner]
    loose = [(n, p) for n, p in loose if p.requires_grad]
    if loose:
        layers.append(_new_layer("(optimizer)", loose, flat, module=False))
    return layers, frozen


def _new_layer(name: str, own: list, flat: list, module: bool) -> _Layer:
    start = len(flat)
    flat.extend(p for _, p in own)
    matrices = [start + i for i, (_, p) in enumerate(own) if p.dim() >= 2]
    return _Layer(name, own, matrices or list(range(start, len(flat))), module)


class GradientProbe:
    """Watch a model's gradient flow during training; see the module docstring.

    Parameters
    ----------
    model : torch.nn.Module
        The model (DDP-wrapped or not).
    optimizer : torch.optim.Optimizer, optional
        Its optimiser: the probe hooks its ``step``. Without one, call :meth:`before_step` after the backward
        and :meth:`after_step` after the update yourself.
    every : int
        Sample every this many optimiser steps (step 0 included).
    scaler : torch.amp.GradScaler, optional
        Only needed when the optimiser may step on gradients the scaler has not unscaled.
    threshold : float
        The vanishing threshold t (σ' < t), :data:`sigmoidlab.functions.VANISHING_THRESHOLD` by default.
    window : int
        Samples over which a ReLU unit must never be positive to count as dead.
    max_elements : int
        Elements per activation call the site statistics look at (the first ones of the flattened tensor).
    limits : dict, optional
        Overrides of :data:`sigmoidlab.torch.probe_report.LIMITS`, the thresholds of the findings.
    activations : bool
        Observe activation call sites (the TorchFunctionMode); False keeps only the parameter statistics.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer | None = None,
        *,
        every: int = 10,
        scaler: Any = None,
        threshold: float = VANISHING_THRESHOLD,
        window: int = 5,
        max_elements: int = 1 << 18,
        limits: dict | None = None,
        activations: bool = True,
    ) -> None:
        _check_arguments(model, optimizer, every, threshold, window, max_elements, limits)
        self.model, self.optimizer, self.scaler = model, optimizer, scaler
        self.every, self.threshold, self.window, self.max_elements = int(every), float(threshold), window, max_elements
        self.limits = {**LIMITS, **(limits or {})}
        self._inner = _unwrap(model)
        self._layers, self._frozen = _discover(self._inner, optimizer)
        self._params = [p for layer in self._layers for _, p in layer.params]
        self._module_names = {id(m): n or "(model)" for n, m in self._inner.named_modules(remove_duplicate=False)}
        self._step = 0
        self._armed = True  # the forwards before the next step are observed (step 0 is sampled)
        self._pending: dict | None = None  # what before_step measured, until after_step
        self._site_info: dict[str, dict] = {}
        self._site_stats: dict[str, sites.SiteStats] = {}
        self._alive: dict[str, collections.deque] = {}
        self._windows: collections.deque = collections.deque(maxlen=window)  # (layout, alive counts)
        self._unit_sites: dict = {}
        self._copies: list[torch.Tensor] = []  # the weight copies for ΔW, reused between samples
        self._samples: list[dict] = []
        self._call_order: dict[str, int] = {}
        self._stack: list[list] = []
        self._depth = 0
        self._mode = sites.SiteMode(self._on_call) if activations else None
        self._global: list[Any] = []
        self._handles = [
            self._inner.register_forward_pre_hook(self._forward_begin),
            self._inner.register_forward_hook(self._forward_end, always_call=True),
        ]
        if optimizer is not None:
            self._handles.append(optimizer.register_step_pre_hook(lambda *_: self.before_step()))
            self._handles.append(optimizer.register_step_post_hook(lambda *_: self.after_step()))
        self.closed = False

    # ------------------------------------------------------------------------------------------- public API

    def __enter__(self) -> GradientProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def steps(self) -> int:
        """Optimiser steps seen so far."""
        return self._step

    def report(self) -> Report:
        """The findings, the per-layer and per-site tables and their history (:class:`.probe_report.Report`)."""
        return build_report(self._describe(), self._samples)

    def assert_healthy(self) -> None:
        """Raise :class:`GradientFlowError` (naming each finding's layers and evidence) unless the report is healthy."""
        report = self.report()
        if report.findings:
            raise GradientFlowError(report)

    def close(self) -> None:
        """Remove every hook this probe added and leave any forward it was observing; idempotent."""
        self._leave_forward()
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self.closed = True

    # ------------------------------------------------------------------------------------- optimiser side

    def before_step(self) -> None:
        """Call after the backward (and any unscale), before the update: reads the gradients on sampled steps."""
        self._leave_forward()  # a forward that raised may have left the mode entered
        if self._step % self.every or self.closed:
            return
        present = [i for i, p in enumerate(self._params) if p.grad is not None and not p.grad.is_sparse]
        if not present:
            self._pending = {"present": [], "grad": [], "weight": [], "before": []}
            return
        with torch.no_grad():
            weights = [self._params[i].detach() for i in present]
            grads = torch._foreach_norm([self._params[i].grad for i in present])
            scale = self._unscaled_factor()
            if scale is not None:
                grads = torch._foreach_mul(grads, scale)
            self._pending = {
                "present": present,
                "grad": grads,
                "weight": torch._foreach_norm(weights),
                "before": self._copy_weights(weights),  # for ΔW
            }

    def _copy_weights(self, weights: list[torch.Tensor]) -> list[torch.Tensor]:
        """A copy of the weights, into buffers kept between samples: a fresh large CPU allocation is a new
        mapping whose first touch page-faults, which costs more than the copy itself."""
        kept = self._copies
        if len(kept) != len(weights) or any(
            k.shape != w.shape or k.dtype != w.dtype or k.device != w.device for k, w in zip(kept, weights, strict=True)
        ):
            self._copies = [w.clone() for w in weights]
            return self._copies
        torch._foreach_copy_(kept, weights)
        return kept

    def after_step(self) -> None:
        """Call after the update: finishes a sample (one host read) and counts the step."""
        if self._pending is not None and not self.closed:
            self._finish_sample(self._pending)
        self._pending = None
        self._step += 1
        self._armed = self._step % self.every == 0

    def _unscaled_factor(self) -> torch.Tensor | None:
        """1/scale when ``scaler`` is given, enabled, and has not unscaled this optimiser's gradients."""
        scaler = self.scaler
        if scaler is None or not scaler.is_enabled() or getattr(scaler, "_scale", None) is None:
            return None
        state = scaler._per_optimizer_states.get(id(self.optimizer), {})
        if getattr(state.get("stage"), "name", "READY") != "READY":
            return None
        return scaler._scale.double().reciprocal().float()

    def _finish_sample(self, pending: dict) -> None:
        present = pending["present"]
        host = []
        if present:
            with torch.no_grad():
                now = [self._params[i].detach() for i in present]
                before = pending["before"]
                torch._foreach_sub_(before, now)  # ΔW (negated: same norm) in place on the copy
                host = [_stack_wide([*pending["grad"], *pending["weight"], *torch._foreach_norm(before)])]
        names, site_vector = self._site_vector()
        device = host[0].device if host else (site_vector.device if site_vector is not None else None)
        parts = host + ([site_vector.to(device)] if site_vector is not None else [])
        values = torch.cat([p.to(parts[0].dtype) for p in parts]).tolist() if parts else []  # the one host read
        n = len(present)
        sample = {"step": self._step, "grad": [None] * len(self._params), "weight": [None] * len(self._params)}
        sample["update"] = [None] * len(self._params)
        for k, key in enumerate(("grad", "weight", "update")):
            for j, i in enumerate(present):
                sample[key][i] = values[k * n + j]
        sample["sites"] = self._unpack_sites(names, values[3 * n :])
        self._samples.append(sample)

    # -------------------------------------------------------------------------------------- activation side

    def _forward_begin(self, module: torch.nn.Module, args: Any) -> None:
        if torch.compiler.is_compiling():  # traced by Dynamo: add nothing to the graph
            return
        self.begin_forward()

    def _forward_end(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        if torch.compiler.is_compiling():
            return
        self.end_forward()

    def begin_forward(self) -> None:
        """Start observing activation sites, if the coming step is sampled; the model's forward pre-hook calls
        it, and loops that never call the model itself (Lightning's ``training_step``) call it around theirs."""
        if not self._armed or self._mode is None or not torch.is_grad_enabled() or self.closed:
            return
        self._depth += 1
        if self._depth > 1:
            return
        mm = torch.nn.modules.module
        self._global = [
            mm.register_module_forward_pre_hook(self._enter_module),
            mm.register_module_forward_hook(self._leave_module, always_call=True),
        ]
        self._stack = [[self._module_names[id(self._inner)], {}]]
        self._mode.__enter__()

    def end_forward(self) -> None:
        """The end of what :meth:`begin_forward` began."""
        if self._depth == 0:
            return
        self._depth -= 1
        if self._depth == 0:
            self._leave_forward()

    def _leave_forward(self) -> None:
        if self._global:
            for handle in self._global:
                handle.remove()
            self._global = []
            with contextlib.suppress(Exception):
                self._mode.__exit__(None, None, None)
        self._depth = 0
        self._stack = []

    def _enter_module(self, module: torch.nn.Module, args: Any) -> None:
        name = self._module_names.get(id(module), "?")
        self._call_order.setdefault(name, len(self._call_order))
        self._stack.append([name, {}])

    def _leave_module(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        if len(self._stack) > 1:
            self._stack.pop()

    def _on_call(self, kind: str, x: torch.Tensor, y: torch.Tensor | None) -> None:
        if not self._stack:
            return
        module, counter = self._stack[-1]
        rank = counter[kind] = counter.get(kind, 0) + 1
        key = f"{module}/{kind}" + (f"#{rank}" if rank > 1 else "")
        if key not in self._site_info:
            self._site_info[key] = {"name": key, "module": module, "kind": kind, "dtype": str(x.dtype).split(".")[-1]}
        stats = self._site_stats.setdefault(key, sites.SiteStats(kind, self._site_info[key]["dtype"]))
        sites.measure(stats, x, y, self.threshold, self.max_elements)

    def _site_vector(self) -> tuple[list[tuple[str, int, list[int]]], torch.Tensor | None]:
        """Every site's counts and alive units as one float64 vector (summed over ranks when distributed), in a
        handful of ops whatever the number of sites. Layout: the device counts (band, flush) in one stack, the
        host counts in one tensor, every site's alive flags, then the dead fractions; ``names`` gives per site
        (key, units, positions of its pairs, band, flush, checked)."""
        items, self._site_stats = list(self._site_stats.items()), {}
        if not items:
            return [], None
        counts = [v for _, s in items for v in (s.pairs, s.band, s.flush, s.flush_checked)]
        dev = [v for v in counts if isinstance(v, torch.Tensor)]
        host = [v for v in counts if not isinstance(v, torch.Tensor)]
        seen = {"dev": 0, "host": len(dev)}
        where = []
        for v in counts:  # each count's position in the vector
            slot = "dev" if isinstance(v, torch.Tensor) else "host"
            where.append(seen[slot])
            seen[slot] += 1
        alive = [s.alive for _, s in items if s.alive is not None]
        device = next((t.device for t in alive + dev if t.device.type != "cpu"), torch.device("cpu"))
        wide = torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64
        parts = [_stack_wide(dev).to(device)] if dev else []
        parts.append(torch.tensor(host, dtype=wide, device=device))
        if alive:
            parts.append((torch.cat([a.to(device) for a in alive]) > 0).to(wide))  # a unit is alive: its max z > 0
        vector = torch.cat(parts)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(vector)
        names = [
            (key, s.alive.numel() if s.alive is not None else 0, where[4 * k : 4 * k + 4])
            for k, (key, s) in enumerate(items)
        ]
        return names, self._with_dead(names, vector)

    def _with_dead(self, names: list, vector: torch.Tensor) -> torch.Tensor:
        """Append, per site with units, the fraction of units never positive over the last ``window`` samples:
        1 − mean(min(max over the window of the alive counts, 1)) (counts: summed over ranks). When the last
        samples all had the same sites (the usual case) this is one max over the window for all units and one
        index_add for the per-site sums; else site by site."""
        offset, layout = 4 * len(names), tuple((key, units) for key, units, _ in names if units)
        if not layout:
            return vector
        segment = vector[offset : offset + sum(units for _, units in layout)]
        self._windows.append((layout, segment))
        position = offset
        for key, units in layout:
            window = self._alive.setdefault(key, collections.deque(maxlen=self.window))
            window.append(vector[position : position + units])
            position += units
        history = len(self._windows)
        if all(lay == layout for lay, _ in self._windows) and all(len(self._alive[k]) == history for k, _ in layout):
            union = segment if history == 1 else torch.stack([seg for _, seg in self._windows]).amax(dim=0)
            site, scale = self._site_of_unit(layout, segment)
            sums = torch.zeros_like(scale).index_add_(0, site, union.clamp(max=1))
            return torch.cat([vector, torch.addcmul(torch.ones_like(scale), sums, scale)])
        return self._with_dead_per_site(layout, vector)

    def _site_of_unit(self, layout: tuple, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(s, −1/units) per unit u of site s, cached: index_add by s and 1 + sums·(−1/units) are the dead fractions."""
        key = (layout, like.dtype, like.device)
        if self._unit_sites.get("key") != key:
            units = torch.tensor([u for _, u in layout], device=like.device)
            site = torch.repeat_interleave(torch.arange(len(layout), device=like.device), units)
            self._unit_sites = {"key": key, "value": (site, -1 / units.to(like.dtype))}
        return self._unit_sites["value"]

    def _with_dead_per_site(self, layout: tuple, vector: torch.Tensor) -> torch.Tensor:
        dead = []
        for key, _ in layout:
            window = self._alive[key]
            union = torch.stack([w for w in window if w.shape == window[-1].shape]).amax(dim=0)
            dead.append(1 - union.clamp(max=1).mean())
        return torch.cat([vector, torch.stack(dead)])

    def _unpack_sites(self, names: list, values: list[float]) -> dict:
        out = {}
        for key, _, where in names:
            pairs, band, flush, checked = (values[i] for i in where)
            out[key] = {"pairs": int(pairs), "band": int(band), "flush": int(flush), "checked": int(checked)}
        offset = 4 * len(names) + sum(units for _, units, _ in names)
        for key, units, _ in names:
            if units:
                out[key]["dead"] = values[offset]
                offset += 1
        return out

    # ------------------------------------------------------------------------------------------- describing

    def _describe(self) -> dict:
        order = self._call_order
        layers = sorted(
            enumerate(self._layers),
            key=lambda il: order.get(il[1].name, len(order) + il[0]) if il[1].module else len(order) + il[0],
        )
        model = self._inner
        return {
            "model": {
                "class": type(model).__name__,
                "parameters": sum(p.numel() for p in model.parameters()),
                "trainable": sum(p.numel() for p in self._params),
                "frozen": list(self._frozen),
                "batchnorm": any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()),
            },
            "settings": {
                "every": self.every,
                "threshold": self.threshold,
                "window": self.window,
                "limits": self.limits,
            },
            "steps": self._step,
            "layers": [
                {
                    "name": layer.name,
                    "in_depth_fit": layer.module and all(self._params[i].dim() >= 2 for i in layer.weights),
                    "parameters": [
                        {"name": n, "shape": list(p.shape), "dtype": str(p.dtype).split(".")[-1]}
                        for n, p in layer.params
                    ],
                    "weights": layer.weights,
                    "shared_with": list(layer.shared_with),
                }
                for _, layer in layers
            ],
            "sites": list(self._site_info.values()),
        }


def _stack_wide(tensors: list[torch.Tensor]) -> torch.Tensor:
    """0-d tensors as one float64 vector (float32 on MPS, which has no float64): one stack and one cast when
    they share a dtype and a device (the usual case), else a cast each."""
    first = tensors[0]
    wide = torch.float32 if first.device.type == "mps" else torch.float64
    if all(t.dtype == first.dtype and t.device == first.device for t in tensors):
        return torch.stack(tensors).to(wide)
    return torch.stack([t.to(first.device, wide) for t in tensors])


def _check_arguments(model, optimizer, every, threshold, window, max_elements, limits) -> None:
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"GradientProbe: model must be a torch.nn.Module, got {type(model).__name__}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"GradientProbe: optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    for name, value in (("every", every), ("window", window), ("max_elements", max_elements)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"GradientProbe: {name} must be an integer ≥ 1, got {value!r}")
    if not 0 < threshold <= 0.25:
        raise ValueError(f"GradientProbe: threshold must be in (0, 0.25], got {threshold}")
    unknown = set(limits or {}) - set(LIMITS)
    if unknown:
        raise ValueError(f"GradientProbe: unknown limits {sorted(unknown)}; known: {sorted(LIMITS)}")
