"""Forecast errors: RMSE, MAE and MASE (Hyndman & Koehler, 2006).

MASE divides the MAE by the in-sample MAE of the one-step seasonal naive forecast on the training
span (the plain naive forecast when the season is 1), so 1.0 means "as good as repeating the last
season"; it is comparable across series of different scales.
"""

from __future__ import annotations

import numpy as np

from nlp_rnn.errors import NlpRnnError


def rmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(_errors(actual, predicted)))))


def mae(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(np.abs(_errors(actual, predicted))))


def mase_scale(train: np.ndarray, season: int = 1) -> float:
    """In-sample MAE of the seasonal naive forecast ``y_t = y_{t-season}`` over ``train``."""
    train = np.asarray(train, dtype=np.float64)
    if len(train) <= season:
        raise NlpRnnError(f"MASE needs more than {season} training rows, got {len(train)}")
    scale = float(np.mean(np.abs(train[season:] - train[:-season])))
    if scale == 0:
        raise NlpRnnError("MASE is undefined: the training span repeats itself exactly (naive error 0)")
    return scale


def forecast_errors(actual: np.ndarray, predicted: np.ndarray, scale: float) -> dict[str, float]:
    """``{"rmse", "mae", "mase"}`` of ``predicted`` against ``actual``; ``scale`` from :func:`mase_scale`."""
    error = mae(actual, predicted)
    return {"rmse": rmse(actual, predicted), "mae": error, "mase": error / scale}


def _errors(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    actual, predicted = np.asarray(actual, dtype=np.float64), np.asarray(predicted, dtype=np.float64)
    if actual.shape != predicted.shape:
        raise NlpRnnError(f"{actual.shape} actual values against {predicted.shape} forecasts")
    if actual.size == 0:
        raise NlpRnnError("no values to score")
    return predicted - actual
