"""Transforms that make a series easier to forecast, each exactly invertible.

A :class:`SeriesTransform` applies, in order: a value transform (``log`` or ``sqrt``, which
tame variance that grows with the level), differencing ``(1 - B)^d (1 - B^s)^D`` (which removes
trend and seasonality), and scaling (``standard`` or ``minmax``). The scaling statistics are
fitted on the training span only, so nothing about later rows leaks into training.

Differencing loses the first ``d + s*D`` rows; :meth:`SeriesTransform.forward` keeps the length
and puts NaN there. Inverting a forecast needs the last ``d + s*D`` observed values before it:
with the differencing polynomial ``1 + c_1 B + ... + c_K B^K``, ``y_t = z_t - sum_k c_k y_{t-k}``,
where ``y_{t-k}`` is an observed value or, further ahead, an earlier forecast.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from nlp_rnn.errors import NlpRnnError

ValueTransform = Literal["none", "log", "sqrt"]
Scaling = Literal["none", "standard", "minmax"]


def difference_polynomial(order: int, seasonal_order: int, period: int) -> np.ndarray:
    """Coefficients ``[1, c_1, ..., c_K]`` of ``(1 - B)^order (1 - B^period)^seasonal_order``."""
    if order < 0 or seasonal_order < 0:
        raise NlpRnnError("difference orders must be 0 or more")
    if seasonal_order and period < 2:
        raise NlpRnnError(f"seasonal differencing needs a season of 2 or more rows, got {period}")
    poly = np.array([1.0])
    for _ in range(order):
        poly = np.convolve(poly, [1.0, -1.0])
    seasonal = np.zeros(period + 1)
    seasonal[0], seasonal[-1] = 1.0, -1.0
    for _ in range(seasonal_order):
        poly = np.convolve(poly, seasonal)
    return poly


@dataclass
class SeriesTransform:
    """Value transform, differencing and scaling of one column; see the module docstring."""

    value: ValueTransform = "none"
    order: int = 0
    seasonal_order: int = 0
    period: int = 1
    scaling: Scaling = "standard"
    center: float = 0.0  # fitted by fit(): mean, or the minimum for minmax
    scale: float = 1.0  # fitted by fit(): standard deviation, or max - min
    fitted: bool = field(default=False)

    @property
    def lag(self) -> int:
        """Rows lost to differencing (the polynomial's degree)."""
        return self.order + self.period * self.seasonal_order

    @property
    def polynomial(self) -> np.ndarray:
        return difference_polynomial(self.order, self.seasonal_order, self.period)

    # --- forward -------------------------------------------------------------------------------

    def to_value_scale(self, y: np.ndarray, name: str = "the series") -> np.ndarray:
        """The value transform alone (log/sqrt), with a clear error for values out of its domain."""
        y = np.asarray(y, dtype=np.float64)
        if self.value == "log":
            if (y <= 0).any():
                raise NlpRnnError(f"transform: log needs positive values; {name} has {y.min():g}")
            return np.log(y)
        if self.value == "sqrt":
            if (y < 0).any():
                raise NlpRnnError(f"transform: sqrt needs values of 0 or more; {name} has {y.min():g}")
            return np.sqrt(y)
        return y

    def difference(self, v: np.ndarray) -> np.ndarray:
        """(n,) -> (n,): differenced values, NaN in the first ``lag`` rows."""
        poly, lag = self.polynomial, self.lag
        out = np.full(len(v), np.nan)
        if len(v) > lag:
            # z_t = sum_k c_k v_{t-k}; np.convolve's "valid" part starts at t = lag
            out[lag:] = np.convolve(v, poly, mode="valid")
        return out

    def fit(self, y: np.ndarray, end: int, name: str = "the series") -> SeriesTransform:
        """Fit the scaling on rows ``[0, end)`` of ``y`` (the training span); returns self."""
        z = self.difference(self.to_value_scale(y, name))[self.lag : end]
        if z.size < 2:
            raise NlpRnnError(f"{name}: {z.size} training value(s) left after differencing; need 2 or more")
        if self.scaling == "standard":
            self.center, self.scale = float(z.mean()), float(z.std())
        elif self.scaling == "minmax":
            self.center, self.scale = float(z.min()), float(z.max() - z.min())
        else:
            self.center, self.scale = 0.0, 1.0
        if self.scale == 0 or not np.isfinite(self.scale):
            raise NlpRnnError(
                f"{name} is constant over the training span after the transforms "
                f"(every value {float(z[0]):g}); there is nothing to forecast"
            )
        self.fitted = True
        return self

    def forward(self, y: np.ndarray, name: str = "the series") -> np.ndarray:
        """(n,) original values -> (n,) model-scale values (NaN in the first ``lag`` rows)."""
        self._check_fitted()
        return (self.difference(self.to_value_scale(y, name)) - self.center) / self.scale

    # --- inverse -------------------------------------------------------------------------------

    def invert(self, z: np.ndarray, history: np.ndarray) -> np.ndarray:
        """Model-scale forecasts back to the original scale.

        ``z``: (N, H) forecasts of H consecutive rows for each of N origins; ``history``: (N, lag)
        original values of the ``lag`` rows just before each origin (oldest first; (N, 0) when
        there is no differencing). Returns (N, H). The loop runs over the H steps, not over origins.
        """
        self._check_fitted()
        z = np.atleast_2d(np.asarray(z, dtype=np.float64))
        diffed = z * self.scale + self.center  # N x H, on the differenced value scale
        lag = self.lag
        history = np.asarray(history, dtype=np.float64).reshape(len(z), lag)
        known = self.to_value_scale(history, "the history")  # N x lag
        if lag:
            coefficients = self.polynomial[1:][::-1]  # c_K ... c_1, aligned with known[:, -K:]
            values = np.concatenate([known, np.empty_like(diffed)], axis=1)  # N x (lag + H)
            for h in range(diffed.shape[1]):
                values[:, lag + h] = diffed[:, h] - values[:, h : lag + h] @ coefficients
            levels = values[:, lag:]
        else:
            levels = diffed
        return self.from_value_scale(levels)

    def from_value_scale(self, v: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`to_value_scale`."""
        if self.value == "log":
            return np.exp(v)
        if self.value == "sqrt":
            return np.square(np.maximum(v, 0.0))
        return v

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise NlpRnnError("the transform must be fitted on the training span first (fit())")

    # --- saving ----------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SeriesTransform:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})
