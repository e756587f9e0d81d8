"""What the lessons share: the command line, a tiny training loop for toy problems, printing helpers.

Each lesson is a script ``NN_name.py`` with a ``main(seed=0) -> dict`` that prints what it teaches
and returns the numbers it printed; :func:`run_lesson` gives it the ``--seed`` option.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_CORPORA = REPO_ROOT / "corpora" / "demo"

Batch = Mapping[str, Tensor]


def run_lesson(main: Callable[..., dict[str, Any]], description: str) -> None:
    """Parse ``--seed`` and run ``main(seed=...)``, as every lesson does when run as a command."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seed", type=int, default=0, help="seed of every random number (default 0)")
    main(seed=parser.parse_args().seed)


def heading(title: str) -> None:
    """Print a section title."""
    print(f"\n== {title} ==")


def shape(tensor: Tensor) -> tuple[int, ...]:
    """A tensor's shape as a plain tuple, as Keras prints it."""
    return tuple(tensor.shape)


def rounded(tensor: Tensor, digits: int = 4) -> list:
    """The values of a tensor as nested lists of rounded floats (for printing and returning)."""
    return torch.round(tensor.detach().double(), decimals=digits).tolist()


def format_table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    """A plain-text table with left-aligned columns."""
    cells = [[str(cell) for cell in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def format_matrix(
    matrix: Tensor, row_labels: Sequence[str], column_labels: Sequence[str], digits: int = 2
) -> str:
    """A labelled R x C matrix of numbers, for attention weights."""
    rows = [
        [label, *(f"{value:.{digits}f}" for value in row)]
        for label, row in zip(row_labels, matrix.tolist(), strict=True)
    ]
    return format_table(rows, ["", *column_labels])


def train(
    model: nn.Module,
    batches: Sequence[Batch],
    epochs: int,
    lr: float,
    after_epoch: Callable[[int], bool] | None = None,
) -> int:
    """Adam on ``model(batch)["loss"]`` over ``batches`` (in a new random order every epoch).

    ``after_epoch(epoch)`` runs after each epoch (1-based) and returns True to stop early; it may
    switch the model to eval mode, the loop switches it back. Returns the epochs trained.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for epoch in range(1, epochs + 1):
        model.train()
        for index in torch.randperm(len(batches)).tolist():
            optimizer.zero_grad()
            model(batches[index])["loss"].backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
        if after_epoch is not None and after_epoch(epoch):
            return epoch
    return epochs
