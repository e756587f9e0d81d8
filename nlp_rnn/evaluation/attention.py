"""Attention heatmaps: which source subwords each output subword attended to, saved as PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nlp_rnn.errors import NlpRnnError
from nlp_rnn.plotting import new_figure, save_png


def plot_attention(
    path: Path, source: Sequence[str], target: Sequence[str], weights: np.ndarray, title: str = ""
) -> Path:
    """``weights`` (target x source) as a heatmap, source pieces along x, target pieces along y."""
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (len(target), len(source)):
        raise NlpRnnError(
            f"attention of shape {weights.shape} for {len(target)} target and {len(source)} source pieces"
        )
    figure = new_figure((max(4.0, 0.35 * len(source) + 2), max(3.0, 0.3 * len(target) + 1.5)), dpi=110)
    axes = figure.add_subplot()
    image = axes.imshow(weights, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(len(source)), list(source), rotation=60, ha="right", fontsize=8)
    axes.set_yticks(range(len(target)), list(target), fontsize=8)
    axes.set_xlabel("source subwords")
    axes.set_ylabel("output subwords")
    if title:
        axes.set_title(title if len(title) <= 70 else title[:67] + "...", fontsize=9)
    figure.colorbar(image, ax=axes, fraction=0.04)
    figure.tight_layout()
    return save_png(figure, path)
