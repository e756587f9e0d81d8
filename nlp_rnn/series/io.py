"""Reading a time series: a CSV file, a series statsmodels ships, or a Hugging Face Hub dataset.

Sources (``load_series(source, ...)``):

* ``statsmodels:sunspots`` (yearly sunspot numbers, 1700-2008, column ``SUNACTIVITY``) and
  ``statsmodels:co2`` (weekly Mauna Loa CO2 in ppm, 1958-2001, column ``co2``, with gaps; read it
  with ``resample: MS`` for the monthly series);
* a CSV file path: a header row, one row per time step;
* ``hf:owner/name[:config]``: the ``train`` split of a Hub dataset (needs a network).

Checks, each an :class:`~nlp_rnn.errors.InputError` naming the file and CSV line (the header is
line 1): a named column that is missing, a non-numeric cell, an unparsable, repeated or
backwards timestamp, and irregular steps (the first row where the step changes). Missing values
follow ``missing``: ``interpolate`` (the default: linear in time between the neighbours; missing
values before the first or after the last observation are dropped from the ends) or ``error``.
With ``resample`` (a pandas frequency such as ``MS``), rows are first aggregated into regular
bins; bins with no observation count as missing.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from nlp_rnn.errors import ConfigError, InputError, NlpRnnError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

BUILTIN_PREFIX = "statsmodels:"
HUB_PREFIX = "hf:"
BUILTIN_SERIES = ("sunspots", "co2")
MISSING_POLICIES = ("interpolate", "error")
NA_STRINGS = frozenset({"", "na", "n/a", "nan", "null", "none"})
FIRST_DATA_LINE = 2  # CSV line of the first row after the header

MissingPolicy = Literal["interpolate", "error"]


@dataclass(frozen=True)
class TimeSeries:
    """A regular series: ``frame`` has one float column per variable and the time as its index.

    The index is a ``DatetimeIndex`` with ``freq`` set, or integer times (years, step numbers)
    ``step`` apart. ``filled`` counts the values the missing-value policy filled in.
    """

    frame: pd.DataFrame
    source: str
    step: int | None = None  # integer times only
    filled: int = 0

    @property
    def freq(self) -> str:
        """The pandas frequency alias (``MS``, ``YS-JAN``), or ``"step=N"`` for integer times."""
        if self.step is not None:
            return f"step={self.step}"
        return str(self.frame.index.freqstr)

    def __len__(self) -> int:
        return len(self.frame)

    def column(self, name: str) -> np.ndarray:
        """One variable as float64 (n,)."""
        if name not in self.frame.columns:
            raise NlpRnnError(
                f"{self.source}: no column {name!r}; it has {', '.join(map(str, self.frame.columns))}"
            )
        return self.frame[name].to_numpy(dtype=np.float64)

    def time_labels(self) -> list[str]:
        """The time stamps as text: integers, ISO dates, or ISO date-times when any has a time of day."""
        return time_labels(self.frame.index)

    def future_times(self, count: int) -> list[str]:
        """The ``count`` time stamps after the last one, as text (ISO dates or integers)."""
        return times_after(self.frame.index, count, self.step)

    def season(self) -> int:
        """The usual seasonal period of this frequency: 12 for monthly data, 1 for yearly or integer times."""
        return season_of(self.freq)


def season_of(freq: str) -> int:
    """12 for monthly, 4 quarterly, 52 weekly, 7 daily (5 business days), 24 hourly, else 1."""
    import pandas as pd

    if freq.startswith("step="):
        return 1
    name = pd.tseries.frequencies.to_offset(freq).rule_code.split("-")[0].upper()
    for prefixes, period in ((("M", "BM", "SM"), 12), (("Q", "BQ"), 4), (("W",), 52), (("B",), 5)):
        if any(name.startswith(prefix) for prefix in prefixes):
            return period
    return {"D": 7, "H": 24}.get(name, 1)


def times_after(index: pd.Index, count: int, step: int | None) -> list[str]:
    """``count`` time stamps continuing ``index`` (integers ``step`` apart, or its pandas frequency)."""
    import pandas as pd

    if step is not None:
        last = int(index[-1])
        return [str(last + step * k) for k in range(1, count + 1)]
    return time_labels(pd.date_range(index[-1], periods=count + 1, freq=index.freq)[1:])


def time_labels(index: pd.Index) -> list[str]:
    """Integers as they are; dates as ``YYYY-MM-DD`` (``YYYY-MM-DDTHH:MM:SS`` if any has a time of day)."""
    if index.dtype.kind != "M":
        return [str(int(t)) for t in index]
    daily = bool((index == index.normalize()).all())
    return list(index.strftime("%Y-%m-%d" if daily else "%Y-%m-%dT%H:%M:%S"))


def load_series(
    source: str | os.PathLike[str],
    *,
    columns: list[str] | None = None,
    time_column: str | None = None,
    resample: str | None = None,
    aggregate: Literal["mean", "sum", "last"] = "mean",
    missing: MissingPolicy = "interpolate",
) -> TimeSeries:
    """Read a series (see the module docstring); ``columns`` default to every numeric column."""
    source = str(source)
    if missing not in MISSING_POLICIES:
        raise ConfigError(f"missing: {missing!r}; choose one of {', '.join(MISSING_POLICIES)}")
    if source.startswith(BUILTIN_PREFIX):
        frame, builtin_time = _builtin(source.removeprefix(BUILTIN_PREFIX))
        time_column = time_column or builtin_time
    elif source.startswith(HUB_PREFIX):
        from nlp_rnn.data.catalog import load_hub

        frame = load_hub(source, "train").to_pandas().astype(str)
    else:
        frame = _read_csv(Path(source))
    lines = np.arange(len(frame)) + FIRST_DATA_LINE  # row i is line i + 2 of a CSV file
    return build_series(frame, source, lines, columns, time_column, resample, aggregate, missing)


def build_series(
    raw: pd.DataFrame,
    source: str,
    lines: np.ndarray,
    columns: list[str] | None,
    time_column: str | None,
    resample: str | None,
    aggregate: str,
    missing: MissingPolicy,
) -> TimeSeries:
    """Check and convert a frame of cells into a regular :class:`TimeSeries` (``lines``: CSV lines)."""
    import pandas as pd

    names = [str(c) for c in raw.columns]
    if time_column is not None and time_column not in names:
        raise InputError(f"no time column {time_column!r}; the columns are {', '.join(names)}", source, 1)
    if columns is None:
        candidates = [c for c in names if c != time_column]
        columns = [c for c in candidates if _mostly_numeric(raw[c])]
        if not columns:
            raise InputError(f"no numeric column among {', '.join(candidates) or 'none'}", source, 1)
    for name in columns:
        if name not in names:
            raise InputError(f"no column {name!r}; the columns are {', '.join(names)}", source, 1)
    values = pd.DataFrame({name: _numeric(raw[name], name, source, lines) for name in columns})
    step = None
    if time_column is not None:
        times, step = _times(raw[time_column], time_column, source, lines)
        values.index = times
    elif isinstance(raw.index, pd.DatetimeIndex):
        values.index = raw.index
    else:
        values.index, step = pd.Index(np.arange(len(values))), 1
    if resample is not None:
        values = _resample(values, resample, aggregate, source)
        lines = np.full(len(values), -1)  # bins are not CSV lines
    elif step is None:
        values.index = _regular_dates(values.index, source, lines)
    filled = 0
    missing_mask = values.isna().any(axis=1).to_numpy()
    if missing_mask.any():
        values, filled = _fill(values, missing_mask, missing, source, lines)
    if len(values) == 0:
        raise InputError("the series has no values", source)
    return TimeSeries(frame=values, source=source, step=step, filled=filled)


# --- sources ----------------------------------------------------------------------------------------


def _builtin(name: str) -> tuple[pd.DataFrame, str | None]:
    """A series statsmodels ships and its time column (None: the frame's index holds the dates)."""
    import statsmodels.api as sm

    if name == "sunspots":
        return sm.datasets.sunspots.load_pandas().data, "YEAR"
    if name == "co2":
        return sm.datasets.co2.load_pandas().data, None
    raise ConfigError(
        f"unknown series {BUILTIN_PREFIX}{name}; known: "
        + ", ".join(BUILTIN_PREFIX + known for known in BUILTIN_SERIES)
    )


def _read_csv(path: Path) -> pd.DataFrame:
    import pandas as pd

    if not path.is_file():
        raise InputError("no such file (expected a CSV file, statsmodels:NAME or hf:owner/name)", path)
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"not a readable CSV file: {str(exc).strip()}", path) from None
    except pd.errors.EmptyDataError:
        raise InputError("the file is empty (expected a header row and data rows)", path) from None


# --- cells ------------------------------------------------------------------------------------------


def _is_missing(cells: pd.Series) -> np.ndarray:
    return cells.isna().to_numpy() | cells.astype(str).str.strip().str.lower().isin(NA_STRINGS).to_numpy()


def _mostly_numeric(cells: pd.Series) -> bool:
    import pandas as pd

    present = cells[~_is_missing(cells)]
    return len(present) > 0 and bool(pd.to_numeric(present, errors="coerce").notna().mean() > 0.5)


def _numeric(cells: pd.Series, name: str, source: str, lines: np.ndarray) -> np.ndarray:
    """Float values of a column; missing cells are NaN; any other non-number is an error."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(cells):
        return cells.to_numpy(dtype=np.float64)
    missing = _is_missing(cells)
    numbers = pd.to_numeric(cells.where(~missing), errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(np.isnan(numbers) & ~missing)
    if bad.size:
        row = int(bad[0])
        raise InputError(
            f"column {name!r}: {cells.iloc[row]!r} is not a number"
            + (f" ({bad.size} such cells)" if bad.size > 1 else ""),
            source,
            int(lines[row]),
        )
    if np.isinf(numbers).any():
        row = int(np.flatnonzero(np.isinf(numbers))[0])
        raise InputError(f"column {name!r}: {cells.iloc[row]!r} is infinite", source, int(lines[row]))
    return numbers


def _times(cells: pd.Series, name: str, source: str, lines: np.ndarray) -> tuple[pd.Index, int | None]:
    """The time column as integer times (with their step) or as dates; order and repeats checked."""
    import pandas as pd

    missing = _is_missing(cells)
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise InputError(f"time column {name!r} is empty here", source, int(lines[row]))
    numbers = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=np.float64)
    if not np.isnan(numbers).any() and np.all(numbers == np.round(numbers)):
        times = numbers.astype(np.int64)
        _check_increasing(times, name, source, lines)
        steps = np.diff(times)
        step = int(steps[0]) if steps.size else 1
        if steps.size and (steps != step).any():
            row = int(np.flatnonzero(steps != step)[0]) + 1
            raise InputError(
                f"irregular time steps: {times[row - 1]} -> {times[row]} where the series steps by {step}",
                source,
                int(lines[row]),
            )
        return pd.Index(times), step
    dates = pd.to_datetime(cells, errors="coerce", format="mixed")
    bad = np.flatnonzero(dates.isna().to_numpy())
    if bad.size:
        row = int(bad[0])
        raise InputError(
            f"time column {name!r}: cannot read {cells.iloc[row]!r} as a date", source, int(lines[row])
        )
    if dates.dt.tz is not None:
        dates = dates.dt.tz_convert(None)
    _check_increasing(dates.to_numpy(), name, source, lines)
    return pd.DatetimeIndex(dates), None


def _check_increasing(times: np.ndarray, name: str, source: str, lines: np.ndarray) -> None:
    steps = np.diff(times)
    not_later = np.flatnonzero(steps <= np.zeros_like(steps))
    if not_later.size:
        row = int(not_later[0]) + 1
        what = "repeats" if times[row] == times[row - 1] else "goes back from"
        raise InputError(
            f"time column {name!r} {what} the previous row's time ({times[row - 1]} -> {times[row]}); "
            "rows must be in time order, one per time step",
            source,
            int(lines[row]),
        )


def _regular_dates(index: pd.DatetimeIndex, source: str, lines: np.ndarray) -> pd.DatetimeIndex:
    """The dates with their frequency set; the first row off the regular grid is an error."""
    import pandas as pd

    if len(index) < 3:
        raise InputError(f"{len(index)} rows: too few to tell the series' frequency (need 3)", source)
    freq = _infer_freq(index)
    if freq is not None:
        return pd.DatetimeIndex(index, freq=freq)
    guess = _infer_freq(index[:3])
    if guess is not None:
        grid = pd.date_range(index[0], periods=len(index), freq=guess)
        row = int(np.flatnonzero(grid != index)[0])
        raise InputError(
            f"irregular time stamps: {index[row].date()} where the series' step ({guess}) gives "
            f"{grid[row].date()}; fill the gap or set resample (for example resample: {guess})",
            source,
            int(lines[row]),
        )
    raise InputError("irregular time stamps from the start; set resample (for example resample: D)", source)


def _infer_freq(index: pd.DatetimeIndex) -> str | None:
    """pandas' inferred frequency as its alias (newer pandas return an offset object)."""
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 announces the offset return type
        freq = pd.infer_freq(index)
    return getattr(freq, "freqstr", freq)


def _resample(values: pd.DataFrame, rule: str, aggregate: str, source: str) -> pd.DataFrame:
    if values.index.dtype.kind != "M":
        raise ConfigError(f"{source}: resample needs dates in the time column")
    try:
        binned = values.resample(rule)
    except ValueError as exc:
        raise ConfigError(f"resample: {rule!r} is not a pandas frequency ({exc})") from None
    if aggregate not in ("mean", "sum", "last"):
        raise ConfigError(f"aggregate: {aggregate!r}; choose mean, sum or last")
    # sum of an empty bin would be 0, not missing
    result = getattr(binned, aggregate)(**({"min_count": 1} if aggregate == "sum" else {}))
    return result


def _fill(
    values: pd.DataFrame, missing: np.ndarray, policy: MissingPolicy, source: str, lines: np.ndarray
) -> tuple[pd.DataFrame, int]:
    rows = np.flatnonzero(missing)
    if policy == "error":
        row = int(rows[0])
        where = int(lines[row]) if lines[row] > 0 else None
        raise InputError(
            f"missing value at {values.index[row]} ({rows.size} missing in all); "
            "set missing: interpolate to fill them",
            source,
            where,
        )
    observed = ~values.isna().any(axis=1).to_numpy()
    if not observed.any():
        raise InputError("every row has a missing value", source)
    first, last = int(np.argmax(observed)), len(observed) - int(np.argmax(observed[::-1])) - 1
    trimmed = values.iloc[first : last + 1]
    inner = int(missing[first : last + 1].sum())
    filled = trimmed.interpolate(method="time" if trimmed.index.dtype.kind == "M" else "linear")
    log.info(
        "%s: %d row(s) with missing values: %d filled by linear interpolation, %d dropped at the ends",
        source,
        rows.size,
        inner,
        rows.size - inner,
    )
    return filled, inner
