"""Transforms: differencing of any order, exact inversion, training-only scaling, domain errors."""

from __future__ import annotations

import numpy as np
import pytest

from nlp_rnn.errors import NlpRnnError
from nlp_rnn.series.transforms import SeriesTransform, difference_polynomial


def test_difference_polynomials() -> None:
    np.testing.assert_array_equal(difference_polynomial(1, 0, 1), [1, -1])
    np.testing.assert_array_equal(difference_polynomial(2, 0, 1), [1, -2, 1])
    np.testing.assert_array_equal(difference_polynomial(0, 1, 4), [1, 0, 0, 0, -1])
    np.testing.assert_array_equal(difference_polynomial(1, 1, 3), [1, -1, 0, -1, 1])


def test_differences_match_numpy() -> None:
    y = np.random.default_rng(0).normal(size=40).cumsum()
    t = SeriesTransform(order=2, scaling="none").fit(y, 30)
    np.testing.assert_allclose(t.forward(y)[2:], np.diff(y, n=2))
    assert np.isnan(t.forward(y)[:2]).all()
    s = SeriesTransform(order=1, seasonal_order=1, period=4, scaling="none").fit(y, 30)
    seasonal = y[4:] - y[:-4]
    np.testing.assert_allclose(s.forward(y)[5:], np.diff(seasonal))


@pytest.mark.parametrize("value", ["none", "log", "sqrt"])
@pytest.mark.parametrize(
    ("order", "seasonal_order", "period"),
    [(0, 0, 1), (1, 0, 1), (2, 0, 1), (0, 1, 12), (1, 1, 12), (2, 1, 4)],
)
@pytest.mark.parametrize("scaling", ["standard", "minmax", "none"])
def test_inversion_is_exact(value: str, order: int, seasonal_order: int, period: int, scaling: str) -> None:
    rng = np.random.default_rng(order * 10 + seasonal_order)
    y = 50 + np.abs(rng.normal(size=80).cumsum()) + 5 * np.sin(np.arange(80) * 2 * np.pi / 12)
    t = SeriesTransform(
        value=value, order=order, seasonal_order=seasonal_order, period=period, scaling=scaling
    ).fit(y, 60)
    z = t.forward(y)
    origins, horizon, lag = np.array([30, 45, 70]), 6, t.lag
    future = z[origins[:, None] + np.arange(horizon)]  # the true model-scale values ...
    history = y[origins[:, None] + np.arange(-lag, 0)] if lag else np.empty((3, 0))
    restored = t.invert(future, history)  # ... give back the true original values
    np.testing.assert_allclose(restored, y[origins[:, None] + np.arange(horizon)], rtol=1e-10)


def test_scaling_is_fitted_on_the_training_rows_only() -> None:
    y = np.arange(50.0) ** 1.5
    a = SeriesTransform(order=1).fit(y, 30)
    changed = y.copy()
    changed[30:] *= 100
    b = SeriesTransform(order=1).fit(changed, 30)
    assert (a.center, a.scale) == (b.center, b.scale)
    np.testing.assert_allclose(a.forward(y)[1:30].mean(), 0, atol=1e-12)


def test_domain_and_constant_errors() -> None:
    with pytest.raises(NlpRnnError, match="log needs positive values"):
        SeriesTransform(value="log").fit(np.array([1.0, 0.0, 2.0]), 3)
    with pytest.raises(NlpRnnError, match="sqrt needs values of 0 or more"):
        SeriesTransform(value="sqrt").fit(np.array([1.0, -1.0, 2.0]), 3)
    with pytest.raises(NlpRnnError, match="constant over the training span"):
        SeriesTransform().fit(np.full(10, 3.0), 8)
    with pytest.raises(NlpRnnError, match="constant over the training span"):
        SeriesTransform(order=1).fit(np.arange(10.0), 8)  # a straight line: constant differences
    with pytest.raises(NlpRnnError, match="fitted"):
        SeriesTransform().forward(np.arange(3.0))
    with pytest.raises(NlpRnnError, match="season of 2 or more"):
        SeriesTransform(seasonal_order=1, period=1).fit(np.arange(10.0), 8)


def test_round_trip_through_a_dict() -> None:
    y = np.random.default_rng(1).normal(size=30).cumsum()
    t = SeriesTransform(value="none", order=1, scaling="minmax").fit(y, 20)
    np.testing.assert_array_equal(SeriesTransform.from_dict(t.to_dict()).forward(y), t.forward(y))
