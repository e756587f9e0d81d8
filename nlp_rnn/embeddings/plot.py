"""2-D maps of word vectors (PCA or t-SNE), saved as PNG.

The figure is drawn on matplotlib's Agg canvas directly, without pyplot, so it works on machines
without a display and leaves no global figure state behind. t-SNE is a small exact
implementation (fine for the few hundred words one labels on a plot), so that no extra
dependency is needed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from gensim.models import KeyedVectors

from nlp_rnn.errors import NlpRnnError
from nlp_rnn.plotting import new_figure, save_png

Projection = Literal["pca", "tsne"]


@dataclass
class PlotResult:
    path: Path
    words: list[str]  # the words plotted, in the vectors' spelling
    missing: list[str] = field(default_factory=list)  # requested words without a vector


def plot_words(
    kv: KeyedVectors,
    words: list[str],
    path: str | os.PathLike[str],
    *,
    method: Projection = "pca",
    neighbors: int = 0,
    seed: int = 0,
    title: str | None = None,
) -> PlotResult:
    """Project the vectors of ``words`` (plus each one's ``neighbors`` nearest words) to 2-D and
    save a labelled scatter plot as PNG. Words are looked up as given, then lowercased."""
    chosen, missing = _lookup(kv, words)
    extra: list[str] = []
    for word in list(chosen) if neighbors > 0 else []:
        for neighbor, _ in kv.most_similar(word, topn=neighbors):
            if neighbor not in chosen and neighbor not in extra:
                extra.append(neighbor)
    plotted = chosen + extra
    if len(plotted) < 2:
        raise NlpRnnError(
            f"need at least two words with vectors to plot; missing: {', '.join(missing) or 'none'}"
        )
    points = project(np.vstack([kv.get_vector(word, norm=True) for word in plotted]), method, seed=seed)

    figure = new_figure((9, 7), dpi=120)
    axes = figure.add_subplot()
    count = len(chosen)
    axes.scatter(points[:count, 0], points[:count, 1], s=18, color="tab:blue", label="chosen words")
    if extra:
        axes.scatter(
            points[count:, 0], points[count:, 1], s=10, color="tab:gray", alpha=0.6, label="neighbours"
        )
        axes.legend(loc="best", fontsize=8)
    for index, word in enumerate(plotted):
        axes.annotate(
            word, points[index], xytext=(3, 3), textcoords="offset points", fontsize=9 if index < count else 7
        )
    axes.set_title(title or f"{method.upper()} projection of {len(plotted)} word vectors")
    axes.set_xticks([])
    axes.set_yticks([])
    figure.tight_layout()
    path = Path(path)
    save_png(figure, path)
    return PlotResult(path=path, words=plotted, missing=missing)


def project(vectors: np.ndarray, method: Projection = "pca", *, seed: int = 0) -> np.ndarray:
    """Map ``n x d`` vectors to ``n x 2`` points by PCA or t-SNE."""
    if method == "pca":
        return pca_2d(vectors)
    if method == "tsne":
        return tsne_2d(vectors, seed=seed)
    raise ValueError(f"unknown projection {method!r}; expected pca or tsne")


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """The first two principal components (via SVD of the centred data)."""
    centred = vectors - vectors.mean(axis=0)  # n x d
    _, _, components = np.linalg.svd(centred, full_matrices=False)  # components: min(n, d) x d
    projected = centred @ components[:2].T  # n x 2 (n x 1 when d == 1)
    if projected.shape[1] < 2:
        projected = np.hstack([projected, np.zeros((len(vectors), 2 - projected.shape[1]))])
    return projected


def tsne_2d(
    vectors: np.ndarray, *, perplexity: float = 30.0, iterations: int = 750, seed: int = 0
) -> np.ndarray:
    """Exact t-SNE (van der Maaten & Hinton, 2008): O(n^2), meant for a few hundred points."""
    n = len(vectors)
    perplexity = max(1.0, min(perplexity, (n - 1) / 3))  # small inputs cannot support 30 neighbours
    affinities = _joint_probabilities(vectors.astype(np.float64), perplexity)  # n x n, sums to 1
    rng = np.random.default_rng(seed)
    points = rng.normal(scale=1e-4, size=(n, 2))
    velocity = np.zeros_like(points)
    gains = np.ones_like(points)
    learning_rate = max(n / 12.0 / 4.0, 50.0)
    for step in range(iterations):
        # Early exaggeration pulls clusters apart before the fine arrangement.
        exaggeration = 12.0 if step < 250 else 1.0
        momentum = 0.5 if step < 250 else 0.8
        squared = np.square(points[:, None, :] - points[None, :, :]).sum(-1)  # n x n
        kernel = 1.0 / (1.0 + squared)  # Student-t with one degree of freedom
        np.fill_diagonal(kernel, 0.0)
        similarities = np.maximum(kernel / kernel.sum(), 1e-12)
        forces = (exaggeration * affinities - similarities) * kernel  # n x n
        gradient = 4.0 * (forces.sum(1)[:, None] * points - forces @ points)  # n x 2
        # Per-coordinate adaptive gains (Jacobs 1988), as in the reference implementation.
        same_sign = np.sign(gradient) == np.sign(velocity)
        gains = np.clip(np.where(same_sign, gains * 0.8, gains + 0.2), 0.01, None)
        velocity = momentum * velocity - learning_rate * gains * gradient
        points = points + velocity
    return points - points.mean(axis=0)


def _joint_probabilities(vectors: np.ndarray, perplexity: float) -> np.ndarray:
    """Symmetric input affinities whose per-point conditional entropy matches ``perplexity``."""
    n = len(vectors)
    squared = np.square(vectors[:, None, :] - vectors[None, :, :]).sum(-1)  # n x n
    target_entropy = np.log(perplexity)
    conditional = np.zeros((n, n))
    for i in range(n):
        distances = np.delete(squared[i], i)
        low, high, beta = 0.0, np.inf, 1.0
        for _ in range(64):  # binary search on the Gaussian's precision
            weights = np.exp(-(distances - distances.min()) * beta)
            total = weights.sum()
            probabilities = weights / total
            entropy = np.log(total) + beta * np.sum((distances - distances.min()) * probabilities)
            if abs(entropy - target_entropy) < 1e-5:
                break
            if entropy > target_entropy:
                low, beta = beta, beta * 2 if high == np.inf else (beta + high) / 2
            else:
                high, beta = beta, (beta + low) / 2
        conditional[i, np.arange(n) != i] = probabilities
    joint = (conditional + conditional.T) / (2 * n)
    return np.maximum(joint, 1e-12)


def _lookup(kv: KeyedVectors, words: list[str]) -> tuple[list[str], list[str]]:
    found: list[str] = []
    missing: list[str] = []
    for word in words:
        key = word if word in kv.key_to_index else word.lower()
        if key in kv.key_to_index:
            if key not in found:
                found.append(key)
        else:
            missing.append(word)
    return found, missing
