"""The classical forecasts every RNN forecast is compared with: naive, seasonal naive, ARIMA/SARIMA.

All forecast the same thing as the RNN: from each *origin* ``o`` (the first row not yet seen),
the ``H`` rows ``o ... o + H - 1``, knowing the rows before ``o``. Results are (N origins, H).

ARIMA's order is chosen by AIC over a grid, fitted on the training rows only; the differencing
orders ``d`` and ``D`` come from the stationarity step (AIC cannot compare models fitted to
differently differenced data). The chosen model then forecasts the later rows with its fitted
parameters, filtering the observed history up to each origin: the same information the RNN has.
"""

from __future__ import annotations

import itertools
import logging
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nlp_rnn.errors import NlpRnnError

log = logging.getLogger(__name__)


def origins_of(first: int, end: int, horizon: int) -> np.ndarray:
    """Origins whose ``horizon`` forecast rows all lie in ``[first, end)``."""
    origins = np.arange(first, end - horizon + 1)
    if origins.size == 0:
        raise NlpRnnError(f"the span of rows {first}..{end - 1} is shorter than the horizon ({horizon})")
    return origins


def naive_forecasts(y: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """The last observed value, for every step: (N, H)."""
    return np.repeat(np.asarray(y, dtype=np.float64)[origins - 1, None], horizon, axis=1)


def seasonal_naive_forecasts(y: np.ndarray, origins: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """The observed value one season (or several, further ahead) before each step: (N, H)."""
    steps = np.arange(horizon)
    seasons_back = steps // season + 1  # the fewest whole seasons that reach observed rows
    rows = origins[:, None] + steps[None, :] - season * seasons_back[None, :]
    if rows.min() < 0:
        raise NlpRnnError(f"seasonal naive needs a full season ({season} rows) before the first origin")
    return np.asarray(y, dtype=np.float64)[rows]


@dataclass
class ArimaSearch:
    """The grid ARIMA's order is chosen from (``max_P``/``max_Q`` apply with a season > 1)."""

    max_p: int = 5
    max_q: int = 2
    max_P: int = 1
    max_Q: int = 1
    max_iterations: int = 100  # of the optimiser, per fit


@dataclass
class ArimaChoice:
    """The fitted best model and what the search tried."""

    order: tuple[int, int, int]
    seasonal_order: tuple[int, int, int, int]
    trend: str
    aic: float
    result: Any = field(repr=False)  # statsmodels ARIMAResults, fitted on the training rows
    tried: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def describe(self) -> str:
        seasonal = (
            "" if self.seasonal_order[3] <= 1 else f"{self.seasonal_order[:3]}[{self.seasonal_order[3]}]"
        )
        return f"ARIMA{self.order}{seasonal} trend={self.trend} (AIC {self.aic:.1f})"


def choose_arima(
    train: np.ndarray, order: int, seasonal_order: int, season: int, search: ArimaSearch
) -> ArimaChoice:
    """The (seasonal) ARIMA with the lowest AIC on ``train`` among the grid's orders."""
    from statsmodels.tools.sm_exceptions import ConvergenceWarning
    from statsmodels.tsa.arima.model import ARIMA

    seasonal = season > 1
    trend = "c" if order + seasonal_order == 0 else "n"
    grid = itertools.product(
        range(search.max_p + 1),
        range(search.max_q + 1),
        range(search.max_P + 1 if seasonal else 1),
        range(search.max_Q + 1 if seasonal else 1),
    )
    started, best, tried = time.perf_counter(), None, []
    for p, q, P, Q in grid:
        seasonal_order_ = (P, seasonal_order, Q, season) if seasonal else (0, 0, 0, 0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", UserWarning)  # non-stationary/invertible starting values
            try:
                model = ARIMA(train, order=(p, order, q), seasonal_order=seasonal_order_, trend=trend)
                result = model.fit(method_kwargs={"maxiter": search.max_iterations})
            except (np.linalg.LinAlgError, ValueError) as exc:
                tried.append(
                    {"order": [p, order, q], "seasonal_order": list(seasonal_order_), "error": str(exc)}
                )
                continue
        aic = float(result.aic)
        tried.append({"order": [p, order, q], "seasonal_order": list(seasonal_order_), "aic": aic})
        if np.isfinite(aic) and (best is None or aic < best.aic):
            best = ArimaChoice((p, order, q), seasonal_order_, trend, aic, result)
    if best is None:
        raise NlpRnnError("no ARIMA model of the grid could be fitted to the training rows")
    best.tried, best.seconds = tried, time.perf_counter() - started
    log.info("ARIMA: %d models fitted in %.1f s; best %s", len(tried), best.seconds, best.describe())
    return best


def arima_forecasts(choice: ArimaChoice, values: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """(N, H) forecasts from each origin with the chosen model's parameters, filtering ``values``
    (the whole series on the model's scale) up to the origin."""
    filtered = choice.result.apply(np.asarray(values, dtype=np.float64))
    if horizon == 1:  # one-step predictions of every row: one pass of the filter
        predicted = filtered.predict(start=int(origins[0]), end=int(origins[-1]))
        return np.asarray(predicted, dtype=np.float64)[:, None]
    return np.stack(
        [
            np.asarray(
                filtered.predict(start=int(o), end=int(o) + horizon - 1, dynamic=True), dtype=np.float64
            )
            for o in origins
        ]
    )
