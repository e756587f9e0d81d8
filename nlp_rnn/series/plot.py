"""The forecast plot: the observed series over the test span (with some history before it) and
each model's forecasts of the same rows, saved as PNG on matplotlib's Agg canvas (no display)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from nlp_rnn.plotting import new_figure, save_png


def plot_forecasts(
    path: Path,
    times: Sequence[object],
    observed: np.ndarray,
    first_forecast: int,
    forecasts: Mapping[str, np.ndarray],
    title: str,
    ylabel: str,
) -> Path:
    """``observed`` over all ``times``; each forecast (one value per row from ``first_forecast`` on)
    drawn over the rows it forecasts; the start of the forecast rows marked."""
    figure = new_figure((10, 4.5), dpi=110)
    axes = figure.add_subplot()
    x = np.arange(len(times))
    axes.plot(x, observed, color="black", linewidth=1.6, label="observed")
    for name, values in forecasts.items():
        axes.plot(x[first_forecast : first_forecast + len(values)], values, linewidth=1.2, label=name)
    axes.axvline(first_forecast - 0.5, color="grey", linestyle=":", linewidth=1)
    ticks = np.linspace(0, len(times) - 1, num=min(8, len(times))).round().astype(int)
    axes.set_xticks(ticks, [str(times[i])[:10] for i in ticks])
    axes.set_title(title)
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    axes.legend(loc="best", fontsize=8)
    figure.tight_layout()
    return save_png(figure, path)
