"""Season features: each row's place in its season from its time stamp, and the sine/cosine pairs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nlp_rnn.errors import NlpRnnError
from nlp_rnn.series.calendar import check_fourier_terms, first_place, fourier_features, fourier_width
from nlp_rnn.series.io import TimeSeries


def dated(start: str, freq: str, rows: int = 5) -> TimeSeries:
    index = pd.date_range(start, periods=rows, freq=freq)
    return TimeSeries(frame=pd.DataFrame({"y": np.arange(rows, dtype=float)}, index=index), source="s.csv")


@pytest.mark.parametrize(
    ("start", "freq", "season", "place"),
    [
        ("1958-03-01", "MS", 12, 2),  # March: January is 0
        ("1958-03-31", "ME", 12, 2),  # month ends count the same months
        ("2001-07-01", "QS", 4, 2),  # the third quarter
        ("2024-01-03", "D", 7, 6),  # a Wednesday: days count from Thursday 1970-01-01 (0)
        ("2024-01-02 05:00", "h", 24, 5),  # the hour of the day
        ("2024-01-03", "B", 5, 4),  # business days from Thursday 0: Friday 1, Monday 2, ..., Wednesday 4
    ],
)
def test_first_place_from_dates(start: str, freq: str, season: int, place: int) -> None:
    assert first_place(dated(start, freq), season) == place


def test_first_place_from_integer_times() -> None:
    index = pd.Index(np.arange(1703, 1800, 2))
    series = TimeSeries(frame=pd.DataFrame({"y": np.zeros(len(index))}, index=index), source="s", step=2)
    assert first_place(series, 11) == (1703 // 2) % 11


def test_a_place_follows_the_time_not_the_row() -> None:
    """The same month has the same place whichever row of whichever file it is."""
    early, late = dated("1990-01-01", "MS", 30), dated("1991-05-01", "MS", 3)
    assert (first_place(early, 12) + 16) % 12 == first_place(late, 12)


def test_multiples_of_a_period_are_an_error() -> None:
    with pytest.raises(NlpRnnError, match=r"s.csv: season features .* this series has 2MS"):
        first_place(dated("2000-01-01", "2MS"), 6)


def test_fourier_features_by_hand() -> None:
    places = np.array([0, 3, 6])
    features = fourier_features(places, 12, 2)  # sin 1, cos 1, sin 2, cos 2
    expected = [[0, 1, 0, 1], [1, 0, 0, -1], [0, -1, 0, 1]]
    np.testing.assert_allclose(features, expected, atol=1e-12)
    assert fourier_features(np.zeros((2, 3)), 12, 2).shape == (2, 3, 4)
    assert fourier_features(places, 12, 0).shape == (3, 0)


def test_the_sine_of_the_highest_harmonic_is_left_out() -> None:
    assert fourier_width(12, 6) == 11 and fourier_width(12, 5) == 10 and fourier_width(7, 3) == 6
    features = fourier_features(np.arange(12), 12, 6)
    assert features.shape == (12, 11)
    np.testing.assert_allclose(features[:, -1], [1, -1] * 6, atol=1e-12)  # cos(pi p)
    # the 11 columns and a constant span every pattern of a season of 12: full rank
    assert np.linalg.matrix_rank(np.c_[features, np.ones(12)]) == 12


def test_check_fourier_terms() -> None:
    check_fourier_terms(1, 0)
    check_fourier_terms(12, 6)
    with pytest.raises(NlpRnnError, match="needs a season of 2 rows or more; this series' season is 1"):
        check_fourier_terms(1, 1)
    with pytest.raises(NlpRnnError, match="7 pairs is more than a season of 12 rows has \\(at most 6"):
        check_fourier_terms(12, 7)
