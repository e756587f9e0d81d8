"""Reading series: CSV cells, time stamps, regularity, missing values, resampling, built-ins."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nlp_rnn.errors import ConfigError, InputError, NlpRnnError
from nlp_rnn.series.io import load_series, season_of


def write(tmp_path: Path, text: str, name: str = "s.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_integer_times_and_values(tmp_path: Path) -> None:
    path = write(tmp_path, "year,value,label\n2000,1.5,a\n2002,2.5,b\n2004,4,c\n")
    series = load_series(path, time_column="year")
    assert list(series.frame.columns) == ["value"]  # the text column is not numeric
    assert series.step == 2 and series.freq == "step=2" and series.season() == 1
    np.testing.assert_array_equal(series.column("value"), [1.5, 2.5, 4.0])
    assert series.future_times(2) == ["2006", "2008"]


def test_monthly_dates_get_their_frequency_and_season(tmp_path: Path) -> None:
    rows = "".join(f"2020-{m:02d}-01,{m}\n" for m in range(1, 13))
    series = load_series(write(tmp_path, "date,x\n" + rows), time_column="date")
    assert series.freq == "MS" and series.season() == 12
    assert series.future_times(2) == ["2021-01-01", "2021-02-01"]


def test_non_numeric_cell_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "t,x\n1,1.0\n2,oops\n3,2.0\n")
    with pytest.raises(InputError, match=r"s\.csv:3: column 'x': 'oops' is not a number"):
        load_series(path, columns=["x"], time_column="t")


def test_irregular_integer_steps_name_the_row(tmp_path: Path) -> None:
    path = write(tmp_path, "t,x\n1,1\n2,2\n3,3\n5,4\n")
    with pytest.raises(InputError, match=r":5: irregular time steps: 3 -> 5 where the series steps by 1"):
        load_series(path, time_column="t")


def test_irregular_dates_name_the_row_and_suggest_resample(tmp_path: Path) -> None:
    path = write(tmp_path, "d,x\n2020-01-01,1\n2020-01-02,2\n2020-01-03,3\n2020-01-05,4\n")
    with pytest.raises(InputError, match=r":5: irregular time stamps: 2020-01-05 .* resample"):
        load_series(path, time_column="d")


@pytest.mark.parametrize(("times", "what"), [("1,2,2", "repeats"), ("1,3,2", "goes back")])
def test_repeated_or_backward_times(tmp_path: Path, times: str, what: str) -> None:
    rows = "".join(f"{t},{i}\n" for i, t in enumerate(times.split(",")))
    with pytest.raises(InputError, match=f":4: time column 't' {what}"):
        load_series(write(tmp_path, "t,x\n" + rows), time_column="t")


def test_missing_values_interpolated_and_ends_trimmed(tmp_path: Path) -> None:
    path = write(tmp_path, "t,x\n1,\n2,2\n3,NA\n4,6\n5,\n")
    series = load_series(path, time_column="t")
    np.testing.assert_allclose(series.column("x"), [2.0, 4.0, 6.0])
    assert series.filled == 1 and list(series.frame.index) == [2, 3, 4]


def test_missing_values_error_policy(tmp_path: Path) -> None:
    path = write(tmp_path, "t,x\n1,1\n2,\n3,3\n")
    with pytest.raises(InputError, match=r":3: missing value at 2 \(1 missing in all\)"):
        load_series(path, time_column="t", missing="error")


def test_resample_weekly_to_monthly_with_an_empty_month(tmp_path: Path) -> None:
    rows = "2020-01-04,1\n2020-01-18,3\n2020-03-07,5\n2020-03-21,7\n2020-04-04,9\n"
    series = load_series(write(tmp_path, "d,x\n" + rows), time_column="d", resample="MS")
    # January's mean 2, March's 6, April's 9; February has no reading: interpolated in time
    np.testing.assert_allclose(series.column("x"), [2.0, 2.0 + 4.0 * 31 / 60, 6.0, 9.0])
    assert series.freq == "MS" and series.filled == 1


def test_missing_column_and_missing_file(tmp_path: Path) -> None:
    path = write(tmp_path, "t,x\n1,1\n2,2\n3,3\n")
    with pytest.raises(InputError, match="no column 'y'; the columns are t, x"):
        load_series(path, columns=["y"], time_column="t")
    with pytest.raises(InputError, match="no time column 'when'"):
        load_series(path, time_column="when")
    with pytest.raises(InputError, match="no such file"):
        load_series(tmp_path / "absent.csv")
    with pytest.raises(InputError, match="empty"):
        load_series(write(tmp_path, "", "empty.csv"))


def test_builtin_series() -> None:
    sunspots = load_series("statsmodels:sunspots")
    assert len(sunspots) == 309 and sunspots.step == 1 and int(sunspots.frame.index[0]) == 1700
    co2 = load_series("statsmodels:co2", resample="MS")
    assert len(co2) == 526 and co2.filled == 5 and co2.season() == 12
    with pytest.raises(ConfigError, match="unknown series statsmodels:nile"):
        load_series("statsmodels:nile")


def test_row_numbers_when_there_is_no_time_column(tmp_path: Path) -> None:
    series = load_series(write(tmp_path, "x\n3\n4\n5\n"))
    assert list(series.frame.index) == [0, 1, 2] and series.future_times(1) == ["3"]
    with pytest.raises(NlpRnnError, match="no column 'z'"):
        series.column("z")


@pytest.mark.parametrize(
    ("freq", "season"),
    [
        ("MS", 12),
        ("ME", 12),
        ("QS", 4),
        ("W-SUN", 52),
        ("D", 7),
        ("B", 5),
        ("h", 24),
        ("YS", 1),
        ("step=1", 1),
    ],
)
def test_season_of(freq: str, season: int) -> None:
    assert season_of(freq) == season
