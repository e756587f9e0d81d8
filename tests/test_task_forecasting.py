"""The forecasting predictor: forecasts from origins, recursion, save/load, input errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from nlp_rnn.api import load_model
from nlp_rnn.errors import InputError, NlpRnnError
from nlp_rnn.models.forecaster import ForecasterConfig, ForecasterEnsemble, RNNForecaster
from nlp_rnn.series.calendar import fourier_features
from nlp_rnn.series.io import TimeSeries
from nlp_rnn.series.transforms import SeriesTransform
from nlp_rnn.series.windows import WindowGenerator
from nlp_rnn.tasks.forecasting import ForecastingPredictor, ModelInputs, WindowDataset, collate

SEASON = 4


def series(n: int = 60, columns: int = 1) -> TimeSeries:
    rng = np.random.default_rng(0)
    data = {f"c{k}": 10 + rng.normal(size=n).cumsum() + 3 * np.sin(np.arange(n) / 2) for k in range(columns)}
    return TimeSeries(
        frame=pd.DataFrame(data, index=pd.Index(np.arange(2000, 2000 + n))), source="test", step=1
    )


def predictor(
    s: TimeSeries,
    outputs: int = 1,
    features: list[str] | None = None,
    order: int = 1,
    window: int = 6,
    sampling_rate: int = 1,
    fourier_terms: int = 0,
) -> ForecastingPredictor:
    features = features or ["c0"]
    transforms = {name: SeriesTransform(order=order).fit(s.column(name), 40) for name in features}
    frequency = s.freq if fourier_terms else None
    inputs = ModelInputs(
        "c0", features, window, sampling_rate, outputs, transforms, SEASON, fourier_terms, frequency
    )
    torch.manual_seed(0)
    config = ForecasterConfig(hidden_size=5)
    members = [RNNForecaster(config, inputs.input_size, outputs) for _ in range(2)]
    return ForecastingPredictor(ForecasterEnsemble(members), inputs, config, {"time_column": "year"})


def by_hand(p: ForecastingPredictor, s: TimeSeries, origin: int) -> float:
    """One step from ``origin``, computed without forecast_rows."""
    z = p.inputs.transformed(s)
    window = torch.as_tensor(z[origin - p.inputs.window : origin], dtype=torch.float32)[None]
    predicted = p.model.predict(window[:, :: p.inputs.sampling_rate])[0, 0].item()
    transform = p.inputs.transforms["c0"]
    return float(
        transform.invert(np.array([[predicted]]), s.column("c0")[origin - transform.lag : origin][None])[0, 0]
    )


@pytest.mark.parametrize("sampling_rate", [1, 2])
def test_one_step_forecasts_equal_the_computation_by_hand(sampling_rate: int) -> None:
    s = series()
    p = predictor(s, sampling_rate=sampling_rate)
    forecasts = p.forecast_rows(s, np.array([20, 33, 59]), 1)
    assert forecasts.shape == (3, 1)
    for i, origin in enumerate([20, 33, 59]):
        assert forecasts[i, 0] == pytest.approx(by_hand(p, s, origin), rel=1e-6)


@pytest.mark.parametrize("fourier_terms", [0, 2])
def test_recursion_feeds_forecasts_back(fourier_terms: int) -> None:
    s = series()
    p = predictor(s, fourier_terms=fourier_terms)
    two = p.forecast_rows(s, np.array([30]), 2)[0]
    # step 2 equals a one-step forecast from a series whose row 30 is the step-1 forecast
    extended = TimeSeries(frame=s.frame.iloc[:31].copy(), source="test", step=1)
    extended.frame.iloc[30, 0] = two[0]
    assert two[1] == pytest.approx(p.forecast_rows(extended, np.array([31]), 1)[0, 0], rel=1e-5)


def test_direct_model_beyond_its_outputs() -> None:
    s = series(columns=2)
    multivariate = predictor(s, outputs=3, features=["c0", "c1"])
    assert multivariate.forecast_rows(s, np.array([30]), 3).shape == (1, 3)
    with pytest.raises(NlpRnnError, match="other columns' future values"):
        multivariate.forecast_rows(s, np.array([30]), 4)
    univariate = predictor(s, outputs=3)
    assert univariate.forecast_rows(s, np.array([30]), 7).shape == (1, 7)


@pytest.mark.parametrize("fourier_terms", [0, 1])
def test_save_load_forecast_identically(tmp_path: Path, fourier_terms: int) -> None:
    s = series()
    p = predictor(s, outputs=2, fourier_terms=fourier_terms)
    p.save(tmp_path / "model", metrics={"rnn_rmse": 1.0})
    loaded = load_model(tmp_path / "model")
    times, values = loaded.forecast(s, 4)
    assert times == ["2060", "2061", "2062", "2063"]
    np.testing.assert_allclose(values, p.forecast(s, 4)[1], rtol=1e-6)
    assert loaded.reading == {"time_column": "year"}


def test_too_few_rows_and_bad_horizon() -> None:
    s = series()
    p = predictor(s)
    short = TimeSeries(frame=s.frame.iloc[:6], source="short.csv", step=1)
    with pytest.raises(InputError, match=r"short.csv: 6 rows: the model needs the last 7 rows"):
        p.forecast(short, 1)
    with pytest.raises(NlpRnnError, match="horizon must be 1 or more"):
        p.forecast(s, 0)
    with pytest.raises(NlpRnnError, match="needs 7 earlier rows"):
        p.forecast_rows(s, np.array([5]), 1)


def test_window_dataset_and_collate() -> None:
    data = np.arange(30.0).reshape(15, 2)
    dataset = WindowDataset(WindowGenerator(data, data[:, 0], 4, horizon=2))
    assert len(dataset) == 10 and dataset.lengths == [4] * 10
    batch = collate([dataset[0], dataset[1]])
    assert batch["inputs"].shape == (2, 4, 2) and batch["targets"].shape == (2, 2)
    with pytest.raises(NlpRnnError, match="lost to differencing"):
        WindowDataset(WindowGenerator(np.full((10, 1), np.nan), np.zeros(10), 3))


def test_season_features_follow_the_inputs() -> None:
    s = series()
    p = predictor(s, fourier_terms=2, features=["c0"])
    z = p.inputs.transformed(s)
    assert p.inputs.input_size == 1 + 3 and z.shape == (60, 4)  # c0, sin 1, cos 1, cos 2 (season 4)
    places = (np.arange(2000, 2060) + 0) % SEASON  # integer years: the year is the count
    np.testing.assert_allclose(z[:, 1:], fourier_features(places, SEASON, 2), atol=1e-12)
    # one step from each origin equals the window of those rows through the members by hand
    for origin in (20, 59):
        assert p.forecast_rows(s, np.array([origin]), 1)[0, 0] == pytest.approx(
            by_hand(p, s, origin), rel=1e-6
        )


def test_season_features_need_the_training_frequency() -> None:
    s = series()
    p = predictor(s, fourier_terms=1)
    other = TimeSeries(frame=s.frame.iloc[::2], source="other.csv", step=2)
    message = "other.csv: the model's season features count rows of frequency step=1; this series has step=2"
    with pytest.raises(NlpRnnError, match=message):
        p.forecast(other, 1)


def test_model_inputs_written_before_season_features_still_load() -> None:
    s = series()
    data = predictor(s).inputs.to_dict()
    for key in ("season", "fourier_terms", "frequency"):
        del data[key]
    inputs = ModelInputs.from_dict(data)
    assert (inputs.fourier_terms, inputs.input_size) == (0, 1)
