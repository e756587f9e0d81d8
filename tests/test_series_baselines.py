"""Naive, seasonal naive and ARIMA forecasts from each origin, and forecast metrics."""

from __future__ import annotations

import numpy as np
import pytest

from nlp_rnn.errors import NlpRnnError
from nlp_rnn.series.baselines import (
    ArimaSearch,
    arima_forecasts,
    choose_arima,
    naive_forecasts,
    origins_of,
    seasonal_naive_forecasts,
)
from nlp_rnn.series.metrics import forecast_errors, mae, mase_scale, rmse


def test_naive_and_seasonal_naive() -> None:
    y = np.arange(20.0)
    origins = origins_of(10, 20, 3)
    np.testing.assert_array_equal(origins, np.arange(10, 18))
    np.testing.assert_array_equal(naive_forecasts(y, origins, 3)[0], [9, 9, 9])
    # season 2: rows 10, 11, 12 from origin 10 repeat rows 8, 9, then 8 again (a season further back)
    np.testing.assert_array_equal(seasonal_naive_forecasts(y, origins, 3, 2)[0], [8, 9, 10 - 2])
    with pytest.raises(NlpRnnError, match="shorter than the horizon"):
        origins_of(10, 12, 3)
    with pytest.raises(NlpRnnError, match="full season"):
        seasonal_naive_forecasts(y, np.array([2]), 1, 4)


def ar2(n: int = 300, seed: int = 0) -> np.ndarray:
    rng, y = np.random.default_rng(seed), np.zeros(n)
    for t in range(2, n):
        y[t] = 0.6 * y[t - 1] - 0.3 * y[t - 2] + rng.normal()
    return y + 10


def test_arima_by_aic_finds_an_ar2_and_forecasts_one_step() -> None:
    y = ar2()
    choice = choose_arima(y[:250], 0, 0, 1, ArimaSearch(max_p=3, max_q=1))
    assert choice.order[0] >= 2 and choice.trend == "c" and len(choice.tried) == 8
    origins = origins_of(250, 300, 1)
    one_step = arima_forecasts(choice, y, origins, 1)
    assert rmse(y[origins], one_step[:, 0]) < rmse(y[origins], naive_forecasts(y, origins, 1)[:, 0])


def test_arima_one_step_forecasts_follow_the_fitted_equation() -> None:
    y = ar2()
    choice = choose_arima(y[:250], 0, 0, 1, ArimaSearch(max_p=2, max_q=0))
    assert choice.order == (2, 0, 0)
    origins = origins_of(250, 300, 1)
    one_step = arima_forecasts(choice, y, origins, 1)
    mean, a1, a2 = choice.result.params[:3]  # const, ar.L1, ar.L2: the AR equation by hand
    expected = mean + a1 * (y[origins - 1] - mean) + a2 * (y[origins - 2] - mean)
    np.testing.assert_allclose(one_step[:, 0], expected, rtol=1e-6)


def test_arima_multi_step_matches_one_step_at_step_one() -> None:
    y = ar2(200, 1)
    choice = choose_arima(y[:150], 0, 0, 1, ArimaSearch(max_p=2, max_q=0))
    origins = origins_of(150, 200, 4)
    steps = arima_forecasts(choice, y, origins, 4)
    assert steps.shape == (len(origins), 4)
    np.testing.assert_allclose(steps[:, 0], arima_forecasts(choice, y, origins, 1)[:, 0], rtol=1e-8)


def test_metrics() -> None:
    actual, predicted = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 3.0, 1.0, 4.0])
    assert rmse(actual, predicted) == pytest.approx(np.sqrt(5 / 4))
    assert mae(actual, predicted) == pytest.approx(0.75)
    train = np.array([1.0, 3.0, 2.0, 6.0])
    assert mase_scale(train) == pytest.approx((2 + 1 + 4) / 3)
    assert mase_scale(train, season=2) == pytest.approx((1 + 3) / 2)
    errors = forecast_errors(actual, predicted, scale=0.5)
    assert errors["mase"] == pytest.approx(1.5)
    with pytest.raises(NlpRnnError, match="repeats itself"):
        mase_scale(np.ones(5))
    with pytest.raises(NlpRnnError, match="actual values against"):
        rmse(actual, predicted[:2])
