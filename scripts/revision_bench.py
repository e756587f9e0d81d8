"""What the ``bench_*_revisions.py`` scripts share: an earlier revision of this repository in a
temporary git worktree, child processes that import the package from a chosen tree, alternating
old/new rounds and their report; and what the decoding benchmarks share (``bench_decoding.py``,
``bench_summarization_precision.py``): a count of a translator's decoder rows and alternating
timing rounds in one process."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

Key = TypeVar("Key", bound=Hashable)

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def worktree(revision: str) -> Iterator[Path]:
    """A detached checkout of ``revision``, removed afterwards."""
    with tempfile.TemporaryDirectory() as temporary:
        tree = Path(temporary) / "old"
        add = ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(tree), revision]
        subprocess.run(add, check=True)
        try:
            yield tree
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=True)


def import_from(code: Path) -> None:
    """Make ``import nlp_rnn`` (in this child process) load the package in ``code``."""
    # an editable install's import hook would find this checkout first: drop it
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
    sys.path.insert(0, str(code))
    import nlp_rnn

    assert Path(nlp_rnn.__file__).resolve().is_relative_to(code.resolve()), nlp_rnn.__file__


def child_command(script: str, argv: list[str], code: Path) -> list[str]:
    """The command that reruns ``script`` with the parent's own arguments ``argv`` as one timing
    child for the package in ``code`` (the scripts' hidden ``--child CODE`` option)."""
    return [sys.executable, script, *argv, "--child", str(code)]


def run_child(command: list[str]) -> dict:
    """Run a child process and parse the JSON object on its last line of output."""
    environment = {**os.environ, "PYTHONPATH": ""}
    result = subprocess.run(command, check=True, capture_output=True, text=True, env=environment)
    return json.loads(result.stdout.strip().splitlines()[-1])


def alternate(
    revision: str, rounds: int, child: Callable[[Path], dict], show: Callable[[dict], str]
) -> list[dict]:
    """``rounds`` rounds of ``child(tree)`` for the old tree (``revision``) and then this checkout;
    each round ``{"old": ..., "new": ...}`` is printed with ``show`` and returned."""
    rows = []
    with worktree(revision) as old_tree:
        for _ in range(rounds):
            row = {name: child(code) for name, code in (("old", old_tree), ("new", ROOT))}
            rows.append(row)
            print("  ".join(f"{name} {show(result)}" for name, result in row.items()))
    return rows


def alternating_seconds(runs: Mapping[Key, Callable[[], object]], repeats: int) -> dict[Key, list[float]]:
    """The seconds of each of ``runs``, ``repeats`` times, one round of all in turn after another, so
    that load from other processes hits all alike."""
    seconds: dict[Key, list[float]] = {key: [] for key in runs}
    for _ in range(repeats):
        for key, run in runs.items():
            started = time.perf_counter()
            run()
            seconds[key].append(time.perf_counter() - started)
    return seconds


@contextmanager
def counting_decoder_rows(model: Any) -> Iterator[list[int]]:
    """Within the block, ``counts[0]`` sums the rows of every ``model.decode_step`` call (sentences
    x beams, over the steps: the work a search did)."""
    decode_step = model.decode_step
    counts = [0]

    def counting_step(prev_tokens: Any, state: Any) -> Any:  # decode_step's own arguments
        counts[0] += prev_tokens.numel()
        return decode_step(prev_tokens, state)

    model.decode_step = counting_step
    try:
        yield counts
    finally:
        del model.decode_step  # the class's method again


def summarize(rows: list[dict[str, dict]], speed: str, unit: str, digest: str) -> dict:
    """Medians of ``speed`` (higher is faster) over the rounds, the median of the per-round ratios
    new/old, and whether every round's ``digest`` (of the outputs) agreed; printed and returned."""
    old = statistics.median(r["old"][speed] for r in rows)
    new = statistics.median(r["new"][speed] for r in rows)
    ratio = statistics.median(r["new"][speed] / r["old"][speed] for r in rows)
    same = all(r["old"][digest] == r["new"][digest] for r in rows)
    print(f"medians over {len(rows)} rounds: old {old:,.1f}, new {new:,.1f} {unit}")
    print(f"median of the rounds' ratios new/old: {ratio:.2f}x")
    print("outputs identical" if same else "outputs DIFFER between the revisions")
    return {"old": old, "new": new, "ratio": ratio, "same_outputs": same}
