"""ADF/KPSS reports and the choice of the differencing order on series whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from nlp_rnn.errors import NlpRnnError
from nlp_rnn.series.stationarity import choose_order, seasonal_difference, stationarity_report


def noise(n: int = 400, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=n)


def test_white_noise_is_stationary_and_a_random_walk_is_not() -> None:
    assert stationarity_report(noise()).stationary
    walk = stationarity_report(noise().cumsum())
    assert not walk.stationary and walk.adf_pvalue > 0.05
    assert "not stationary" in walk.summary()


@pytest.mark.parametrize("integrations", [0, 1, 2])
def test_choose_order_finds_the_integration_order(integrations: int) -> None:
    x = noise()
    for _ in range(integrations):
        x = x.cumsum()
    order, reports = choose_order(x, max_order=3)
    assert order == integrations and len(reports) == integrations + 1 and reports[-1].stationary


def test_seasonal_difference() -> None:
    x = np.tile([1.0, 5.0, 3.0], 5) + np.arange(15)
    np.testing.assert_array_equal(seasonal_difference(x, 3, 1), np.full(12, 3.0))


def test_constant_and_short_series() -> None:
    with pytest.raises(NlpRnnError, match="constant"):
        stationarity_report(np.full(50, 2.0))
    with pytest.raises(NlpRnnError, match="too few"):
        stationarity_report(np.arange(5.0))
