"""Season features: where each row falls in its season, as sine/cosine pairs (Fourier terms).

A seasonal difference ``y_t - y_{t-s}`` removes a seasonal pattern by subtracting last season's
value, and with it a year of noise; the network must then undo the damage from a short window.
Season features are the other way (Hyndman and Athanasopoulos, *Forecasting: Principles and
Practice*, ch. 7.4 and 10.5): each row carries ``sin(2 pi k p / s)`` and ``cos(2 pi k p / s)`` for
``k = 1 .. K``, where ``p`` is the row's place in a season of ``s`` rows, so the model learns the
pattern itself. They are known for every future row, so recursive forecasts can use them.

The place ``p`` comes from the row's time stamp, not its row number, so a model reads it the same
way from any file of the series: for dates, the number of periods of the series' frequency since
1970 (its pandas ``Period`` ordinal; for monthly data ``p`` is the month, January 0); for integer
times, ``time // step``; for a series read without time stamps, the row number (so forecasts from
another file of it are only in phase if that file starts at the same place in the season).
"""

from __future__ import annotations

import warnings

import numpy as np

from nlp_rnn.errors import NlpRnnError
from nlp_rnn.series.io import TimeSeries


def fourier_width(season: int, terms: int) -> int:
    """Columns of ``terms`` sine/cosine pairs (the sine of ``k = s / 2`` is always 0 and left out)."""
    return 2 * terms - (1 if terms and 2 * terms == season else 0)


def check_fourier_terms(season: int, terms: int) -> None:
    """``terms`` must fit the season: 1 to ``season // 2`` pairs for a season of 2 rows or more."""
    if terms == 0:
        return
    if season < 2:
        raise NlpRnnError(
            f"fourier_terms needs a season of 2 rows or more; this series' season is {season} (set season)"
        )
    if terms > season // 2:
        raise NlpRnnError(
            f"fourier_terms: {terms} pairs is more than a season of {season} rows has "
            f"(at most {season // 2}: higher harmonics repeat lower ones)"
        )


def first_place(series: TimeSeries, season: int) -> int:
    """The first row's place in a season of ``season`` rows (see the module docstring); row ``i``
    is ``i`` places later, since the series is regular."""
    index = series.frame.index
    if series.step is not None:
        return int(index[0]) // series.step % season
    if index.freq is not None and index.freq.n == 1:
        with warnings.catch_warnings():  # pandas deprecates business-day periods; their ordinals stay
            warnings.simplefilter("ignore", FutureWarning)
            try:
                return int(index[:1].to_period().asi8[0]) % season
            except ValueError:  # a frequency with no period (SMS, ...)
                pass
    raise NlpRnnError(
        f"{series.source}: season features count rows in periods of the series' frequency, "
        f"which must be one pandas period (such as MS, QS, W, D, h); this series has {series.freq}"
    )


def fourier_features(places: np.ndarray, season: int, terms: int) -> np.ndarray:
    """``places`` (any shape) -> (``*places.shape``, :func:`fourier_width`) sine/cosine columns:
    ``sin(2 pi k p / s), cos(2 pi k p / s)`` for ``k = 1 .. terms``."""
    angles = 2 * np.pi * np.asarray(places, dtype=np.float64)[..., None] / season  # ... x 1
    columns = []
    for k in range(1, terms + 1):
        if 2 * k != season:
            columns.append(np.sin(k * angles))
        columns.append(np.cos(k * angles))
    return np.concatenate(columns, axis=-1) if columns else np.empty((*np.shape(places), 0))
