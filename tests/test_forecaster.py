"""The RNN forecaster and its ensemble: shapes, parameter counts, loss, the mean of members."""

from __future__ import annotations

import pytest
import torch

from nlp_rnn.models.forecaster import ForecasterConfig, ForecasterEnsemble, RNNForecaster


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("horizon", [1, 4])
def test_shapes_and_loss(cell: str, horizon: int) -> None:
    model = RNNForecaster(ForecasterConfig(cell=cell, hidden_size=8), features=3, horizon=horizon)
    batch = {"inputs": torch.randn(5, 12, 3), "targets": torch.randn(5, horizon)}
    output = model(batch)
    assert output["predictions"].shape == (5, horizon) and output["loss"].ndim == 0
    assert "loss" not in model({"inputs": batch["inputs"]})


def test_parameter_count_of_a_keras_sized_lstm() -> None:
    # Keras LSTM(16) on 1 feature + Dense(1): 4*(1*16 + 16*16 + 16) + 17 = 1,169; PyTorch keeps a
    # second bias vector per gate (4 * 16 more)
    model = RNNForecaster(ForecasterConfig(cell="lstm", hidden_size=16), features=1, horizon=1)
    assert sum(p.numel() for p in model.parameters()) == 1169 + 64


def test_stacked_sizes() -> None:
    model = RNNForecaster(ForecasterConfig(hidden_size=[16, 8]), features=2, horizon=3)
    assert model.encoder.layer_sizes == [16, 8] and model.head.in_features == 8


def test_ensemble_is_the_mean_of_its_members() -> None:
    torch.manual_seed(0)
    members = [RNNForecaster(ForecasterConfig(hidden_size=4), 1, 2) for _ in range(3)]
    ensemble = ForecasterEnsemble(members)
    x = torch.randn(6, 10, 1)
    with torch.no_grad():
        expected = torch.stack([m.eval().predict(x) for m in members]).mean(0)
    torch.testing.assert_close(ensemble.predict(x), expected)
    assert not ensemble.training
    with pytest.raises(ValueError, match="at least one member"):
        ForecasterEnsemble([])
