"""Figures drawn on matplotlib's Agg canvas directly, without pyplot: they work on machines
without a display and leave no global figure state behind; PNG files are written atomically."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from nlp_rnn.fileio import atomic_file

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def new_figure(figsize: tuple[float, float], dpi: float | None = None) -> Figure:
    """An empty figure on its own Agg canvas (``dpi`` None: matplotlib's default)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(figure)
    return figure


def save_png(figure: Figure, path: str | os.PathLike[str], dpi: float | None = None) -> Path:
    """Write ``figure`` as PNG (``dpi`` None: the figure's own); a failure leaves no partial file."""
    with atomic_file(path, "wb") as handle:
        figure.savefig(handle, format="png", **({} if dpi is None else {"dpi": dpi}))
    return Path(path)
