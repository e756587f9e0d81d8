"""The RNN forecaster: many-to-one over windows of a (multivariate) series.

A window of ``L`` steps of ``F`` features goes through a stacked recurrent encoder; the last
layer's state at the last step goes through dropout and a linear layer with one output per
forecast step (``horizon`` outputs: the direct multi-step strategy; 1 for one step ahead, or for
the recursive strategy, which feeds each forecast back as the next input). Windows all have the
same length, so the encoder runs its fused kernel on the full batch with no padding.

:class:`ForecasterEnsemble` averages the forecasts of members trained from different seeds,
the cheapest large gain on series of a few hundred rows, where one network's forecast varies
with its initialisation.
"""

from __future__ import annotations

from typing import Literal

import pydantic
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nlp_rnn.config import Schema
from nlp_rnn.models.encoder import RNNEncoder


class ForecasterConfig(Schema):
    """The architecture of :class:`RNNForecaster` (the ``model:`` section of a train_forecaster stage)."""

    cell: Literal["rnn", "lstm", "gru"] = pydantic.Field("gru", description="recurrent cell")
    hidden_size: int | list[int] = pydantic.Field(
        32, description="units per layer, or one size per layer ([64, 32])"
    )
    num_layers: int = pydantic.Field(1, ge=1, description="stacked layers when hidden_size is one number")
    dropout: float = pydantic.Field(0.0, ge=0, lt=1, description="dropout between recurrent layers")
    output_dropout: float = pydantic.Field(0.1, ge=0, lt=1, description="dropout on the last state")


class RNNForecaster(nn.Module):
    """``forward({"inputs": B x L x F, "targets": B x H}) -> {"loss", "predictions": B x H}``."""

    def __init__(self, config: ForecasterConfig, features: int, horizon: int) -> None:
        super().__init__()
        self.config, self.features, self.horizon = config, features, horizon
        self.encoder = RNNEncoder(
            features,
            config.hidden_size,
            cell=config.cell,
            num_layers=config.num_layers,
            dropout=config.dropout,
            output_dropout=config.output_dropout,
        )
        self.head = nn.Linear(self.encoder.output_size, horizon)

    def predict(self, inputs: Tensor) -> Tensor:
        """B x L x F -> B x H."""
        return self.head(self.encoder(inputs).last)  # B x H

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        predictions = self.predict(batch["inputs"])  # B x H
        output = {"predictions": predictions}
        if "targets" in batch:
            output["loss"] = F.mse_loss(predictions, batch["targets"])
        return output


class ForecasterEnsemble(nn.Module):
    """Members with one architecture; the forecast is their mean."""

    def __init__(self, members: list[RNNForecaster]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    @classmethod
    def build(cls, config: ForecasterConfig, features: int, horizon: int, members: int) -> ForecasterEnsemble:
        """``members`` freshly initialised forecasters (to load saved weights into)."""
        return cls([RNNForecaster(config, features, horizon) for _ in range(members)])

    @torch.no_grad()
    def predict(self, inputs: Tensor) -> Tensor:
        """B x L x F -> B x H, the members' mean (eval mode)."""
        self.eval()
        return torch.stack([member.predict(inputs) for member in self.members]).mean(dim=0)
