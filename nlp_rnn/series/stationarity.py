"""Stationarity checks: the ADF and KPSS tests (statsmodels), and choosing the differencing order.

ADF's null hypothesis is a unit root (not stationary); KPSS's is stationarity around a level. A
series is called stationary here when ADF rejects at ``alpha`` and KPSS does not.
:func:`choose_order` differences until that holds (at most ``max_order`` times), the rule
``pmdarima.ndiffs`` applies with KPSS alone, made stricter by asking ADF to agree.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from nlp_rnn.errors import NlpRnnError

MIN_TEST_ROWS = 8


@dataclass(frozen=True)
class StationarityReport:
    """The two tests on one version of a series."""

    rows: int
    adf_statistic: float
    adf_pvalue: float
    kpss_statistic: float
    kpss_pvalue: float  # statsmodels clips it to [0.01, 0.1]
    alpha: float

    @property
    def stationary(self) -> bool:
        return self.adf_pvalue < self.alpha and self.kpss_pvalue >= self.alpha

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "stationary": self.stationary}

    def summary(self) -> str:
        verdict = "stationary" if self.stationary else "not stationary"
        return f"ADF p={self.adf_pvalue:.3g}, KPSS p={self.kpss_pvalue:.3g} over {self.rows} rows: {verdict}"


def stationarity_report(values: np.ndarray, alpha: float = 0.05) -> StationarityReport:
    """ADF (constant, lags by AIC) and KPSS (level, automatic lags) on the finite values."""
    from statsmodels.tools.sm_exceptions import InterpolationWarning
    from statsmodels.tsa.stattools import adfuller, kpss

    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size < MIN_TEST_ROWS:
        raise NlpRnnError(f"{x.size} values: too few for the stationarity tests (need {MIN_TEST_ROWS})")
    if np.ptp(x) == 0:
        raise NlpRnnError(f"the series is constant (every value {x[0]:g}); there is nothing to forecast")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InterpolationWarning)  # p outside KPSS' table: clipped
        warnings.simplefilter("ignore", FutureWarning)  # statsmodels 0.15 announces result objects
        adf_stat, adf_p, *_ = adfuller(x, autolag="AIC")
        kpss_stat, kpss_p, *_ = kpss(x, regression="c", nlags="auto")
    return StationarityReport(
        rows=int(x.size),
        adf_statistic=float(adf_stat),
        adf_pvalue=float(adf_p),
        kpss_statistic=float(kpss_stat),
        kpss_pvalue=float(kpss_p),
        alpha=alpha,
    )


def seasonal_difference(values: np.ndarray, period: int, times: int) -> np.ndarray:
    """``(1 - B^period)^times`` applied (the first ``period * times`` rows dropped)."""
    x = np.asarray(values, dtype=np.float64)
    for _ in range(times):
        x = x[period:] - x[:-period]
    return x


def choose_order(
    values: np.ndarray, max_order: int = 2, alpha: float = 0.05
) -> tuple[int, list[StationarityReport]]:
    """The least number of first differences (0..max_order) that makes ``values`` stationary, and
    the reports of every order tried; ``max_order`` when none does."""
    x = np.asarray(values, dtype=np.float64)
    reports = [stationarity_report(x, alpha)]
    while not reports[-1].stationary and len(reports) <= max_order:
        x = np.diff(x)
        reports.append(stationarity_report(x, alpha))
    return len(reports) - 1, reports
