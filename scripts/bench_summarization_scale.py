"""Does the summarization pipeline's memory stay flat as the corpus grows? A synthetic check.

Writes synthetic article/headline files of N pairs (Zipf-distributed words, ~31-word articles and
~8-word headlines, like Gigaword's), then runs the corpus + train_summarizer stages on them in a
child process with a short training (``--steps`` updates), once per size, and reports the child's
peak resident and peak anonymous memory (sampled every 0.1 s from /proc; anonymous memory leaves
out the pages of memory-mapped files, which the kernel can drop) and the wall time. Memory that
does not grow with N is the point: the vocabulary is counted line by line, the encoded pairs live
in memory-mapped files, and training reads batches from them.

    python scripts/bench_summarization_scale.py                     # 100k and 1M pairs
    python scripts/bench_summarization_scale.py --sizes 10000 50000 --steps 5   # a quick look

Writes runs/bench/summarization_scale.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
WORDS = 50_000  # distinct words of the synthetic language


def write_pairs(folder: Path, pairs: int, seed: int) -> tuple[Path, Path]:
    """``pairs`` synthetic articles and headlines (a headline: words of its article, in order)."""
    rng = np.random.default_rng(seed)
    vocabulary = np.array([f"w{i}" for i in range(WORDS)])
    articles, titles = folder / f"articles.{pairs}.txt", folder / f"titles.{pairs}.txt"
    with articles.open("w", encoding="utf-8") as a, titles.open("w", encoding="utf-8") as t:
        for start in range(0, pairs, 10_000):
            count = min(10_000, pairs - start)
            lengths = rng.integers(20, 43, size=count)
            ids = np.minimum(rng.zipf(1.2, size=(count, 42)) - 1, WORDS - 1)  # count x 42
            for row, length in zip(ids, lengths, strict=True):
                words = vocabulary[row[:length]]
                keep = np.sort(rng.choice(length, size=8, replace=False))
                a.write(" ".join(words) + "\n")
                t.write(" ".join(words[keep]) + "\n")
    return articles, titles


PIPELINE = """
name: summarization_scale
seed: 1
stages:
  data:
    kind: corpus
    format: parallel
    splits: {{train: {train_src}, dev: {dev_src}}}
    targets: {{train: {train_tgt}, dev: {dev_tgt}}}
  summarize:
    kind: train_summarizer
    input: data
    vocab_size: 20000
    model: {{embedding_dim: 64, cell: gru, encoder_hidden: 64, encoder_layers: 1, decoder_hidden: 96,
             decoder_layers: 1, input_feeding: false, tie_embeddings: true}}
    trainer: {{max_steps: {steps}, max_epochs: 1, tensorboard: false, plot: false, log_every: 5}}
    decoding: {{beam_size: 1, greedy: false, max_length: 10}}
    lead_baselines: [8]
    bootstrap_samples: 0
"""


def _memory_kib(pid: int) -> tuple[int, int]:
    """(resident, anonymous) memory of a process in KiB: anonymous leaves out file pages (memory-
    mapped Arrow tables and pair files, which the kernel can drop), so it is what really grows."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.split()[0] if value.split() else "0"
    return int(fields.get("VmRSS", 0)), int(fields.get("RssAnon", 0))


def _run_sampled(command: list[str]) -> tuple[int, int]:
    """Run ``command``, sampling its memory every 0.1 s; the peaks (KiB) of resident and anonymous."""
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    peak_rss = peak_anon = 0
    while child.poll() is None:
        try:
            rss, anon = _memory_kib(child.pid)
        except (FileNotFoundError, ProcessLookupError):
            break
        peak_rss, peak_anon = max(peak_rss, rss), max(peak_anon, anon)
        time.sleep(0.1)
    if child.wait() != 0:
        raise SystemExit(f"{' '.join(command)} failed with status {child.returncode}")
    return peak_rss, peak_anon


def run_size(folder: Path, pairs: int, dev: tuple[Path, Path], steps: int) -> dict[str, float]:
    """Run the two stages on ``pairs`` pairs in a child process; its peak memory and times."""
    train = write_pairs(folder, pairs, seed=pairs)
    pipeline = folder / f"pipeline.{pairs}.yaml"
    pipeline.write_text(
        PIPELINE.format(train_src=train[0], train_tgt=train[1], dev_src=dev[0], dev_tgt=dev[1], steps=steps),
        encoding="utf-8",
    )
    cli = str(Path(sys.executable).parent / "nlp-rnn")
    command = [cli, "-q", "run", str(pipeline), "--run-dir", str(folder / f"run{pairs}")]
    started = time.perf_counter()
    peak_rss, peak_anon = _run_sampled(command)
    seconds = time.perf_counter() - started
    metrics = json.loads((folder / f"run{pairs}" / "metrics.json").read_text())
    return {
        "pairs": pairs,
        "train_pairs_encoded": metrics["summarize.train.pairs"],
        "peak_rss_mib": round(peak_rss / 1024, 1),
        "peak_anonymous_mib": round(peak_anon / 1024, 1),
        "wall_seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--steps", type=int, default=20, help="training updates per run")
    parser.add_argument("--output", type=Path, default=ROOT / "runs" / "bench" / "summarization_scale.json")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="nlp-rnn-scale-") as tmp:
        folder = Path(tmp)
        dev = write_pairs(folder, 1000, seed=0)
        for pairs in sorted(args.sizes):
            results.append(run_size(folder, pairs, dev, args.steps))
            print(json.dumps(results[-1]), flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps({"steps": args.steps, "runs": results}, indent=2) + "\n", encoding="utf-8"
    )
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
