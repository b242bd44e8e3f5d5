"""``GradientFlowCallback``: the gradient-flow probe as a PyTorch Lightning callback (extra ``[lightning]``).

    from sigmoidlab.torch.lightning import GradientFlowCallback
    callback = GradientFlowCallback(every=10, dirpath="flow")     # writes flow/gradient_flow.{json,html} at the end
    trainer = pl.Trainer(callbacks=[callback]); trainer.fit(model)
    callback.report.print()

Lightning runs the backward inside ``optimizer.step(closure)``, so an optimiser step pre-hook would fire before
the gradients exist; the callback drives the probe from ``on_before_optimizer_step`` instead (after the
closure, and after the precision plugin's unscale under AMP) and finishes each sample in ``on_train_batch_end``.
Lightning calls ``training_step`` rather than the module itself, so activation sites are observed from
``on_train_batch_start`` to ``on_before_backward``.
With ``fail_on_unhealthy=True`` the fit ends with :class:`~sigmoidlab.torch.probe_report.GradientFlowError`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

try:
    import lightning.pytorch as pl
except ModuleNotFoundError:
    try:
        import pytorch_lightning as pl
    except ModuleNotFoundError:
        raise ImportError(
            "sigmoidlab.torch.lightning needs PyTorch Lightning: pip install 'sigmoidlab[lightning]'"
        ) from None

from .probe import GradientProbe
from .probe_report import GradientFlowError, Report


class GradientFlowCallback(pl.Callback):
    """Attach a :class:`~sigmoidlab.torch.probe.GradientProbe` to the LightningModule being fitted.

    ``every`` and ``probe_options`` go to the probe; ``dirpath`` (optional) receives ``gradient_flow.json`` and
    ``gradient_flow.html`` when the fit ends; ``report`` holds the last report.
    """

    def __init__(
        self,
        every: int = 10,
        dirpath: str | os.PathLike | None = None,
        fail_on_unhealthy: bool = False,
        **probe_options: Any,
    ) -> None:
        super().__init__()
        self.every, self.dirpath, self.fail_on_unhealthy = every, dirpath, fail_on_unhealthy
        self.probe_options = probe_options
        self.probe: GradientProbe | None = None
        self.report: Report | None = None
        self._stepped = False

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        optimizer = trainer.optimizers[0] if trainer.optimizers else None
        self.probe = GradientProbe(pl_module, every=self.every, **self.probe_options)
        self.probe.optimizer = optimizer  # for GradScaler bookkeeping only: the callback drives the steps

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        if self.probe is not None:  # Lightning calls training_step, not the module: observe around it
            self.probe.begin_forward()

    def on_before_backward(self, trainer: Any, pl_module: Any, loss: Any) -> None:
        if self.probe is not None:
            self.probe.end_forward()

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        if self.probe is not None:
            self.probe.before_step()
            self._stepped = True

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.probe is not None and self._stepped:  # with gradient accumulation, only batches that stepped
            self.probe.after_step()
            self._stepped = False

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        self._finish()
        if self.fail_on_unhealthy and self.report is not None and not self.report.healthy:
            raise GradientFlowError(self.report)

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self._finish()

    def _finish(self) -> None:
        if self.probe is None:
            return
        self.report = self.probe.report()
        self.probe.close()
        self.probe = None
        if self.dirpath is not None and trainer_is_zero():
            path = Path(self.dirpath)
            path.mkdir(parents=True, exist_ok=True)
            self.report.save_json(path / "gradient_flow.json")
            self.report.save_html(path / "gradient_flow.html")


def trainer_is_zero() -> bool:
    """Whether this process is rank 0 (or not distributed): only it writes files."""
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0
