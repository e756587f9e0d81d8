"""An exponential moving average (EMA) of a model's weights, for validation and the saved model.

After every optimizer update the average moves towards the current weights::

    average <- average + (1 - d) * (weights - average),   d = min(decay, (1 + n) / (10 + n))

where n counts the updates averaged so far: the ramp keeps the first updates from being
dominated by the initial weights (the usual warm-up of TensorFlow's ExponentialMovingAverage).
The average smooths the noise of the last updates, which steadies dev scores selected on small
dev sets. Only trainable floating-point parameters are averaged; buffers and frozen tensors
are the model's own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn


class WeightAverage:
    """The EMA of ``model``'s trainable parameters; :meth:`applied` swaps it in temporarily."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"the averaging decay must lie strictly between 0 and 1, got {decay}")
        self.decay = decay
        self.params = [p for p in model.parameters() if p.requires_grad and p.is_floating_point()]
        self.average = [p.detach().clone() for p in self.params]
        self.updates = 0

    def update(self) -> None:
        """Fold the current weights into the average (call after each optimizer step)."""
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        with torch.no_grad():
            torch._foreach_lerp_(self.average, [p.detach() for p in self.params], 1.0 - decay)
        self.updates += 1

    @contextlib.contextmanager
    def applied(self) -> Iterator[None]:
        """Run the block with the averaged weights in the model, then put the trained ones back."""
        # Copied into the parameters themselves (not their .data), so that their version counters
        # move and caches keyed on them (the tagger's form cache, the BiLSTM's prepared inference
        # weights) see the swap.
        with torch.no_grad():
            trained = [p.detach().clone() for p in self.params]
            torch._foreach_copy_(self.params, self.average)
        try:
            yield
        finally:
            with torch.no_grad():
                torch._foreach_copy_(self.params, trained)

    def state_dict(self) -> dict[str, Any]:
        """Tensors and plain values only (loadable with ``weights_only=True``)."""
        return {"decay": self.decay, "updates": self.updates, "average": [a.clone() for a in self.average]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        average: list[Tensor] = state["average"]
        if len(average) != len(self.average) or any(
            a.shape != b.shape for a, b in zip(average, self.average, strict=True)
        ):
            raise ValueError("the saved weight average does not fit the model's trainable parameters")
        with torch.no_grad():
            for target, saved in zip(self.average, average, strict=True):
                target.copy_(saved)
        self.updates = int(state["updates"])
