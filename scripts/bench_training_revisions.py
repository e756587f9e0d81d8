"""Translation training speed of this checkout against an earlier revision of the whole package.

    python scripts/bench_training_revisions.py --old 46e04f2                  # one-shot Luong, fp32
    python scripts/bench_training_revisions.py --old 46e04f2 --attention bahdanau --input-feeding

The revision ``--old`` is checked out into a temporary git worktree. Each round runs one process
with its ``nlp_rnn`` and one with this checkout's (in turn, so that load from other processes
hits both alike). Each trains what ``compare_joeynmt.py`` trains (its ``train_ours``: the JoeyNMT
tutorial size, Multi30k de->en, a joint unigram SentencePiece model of 8,000 pieces trained in
the process, batches of 4,096 target subwords) for ``--steps`` updates, and reports the median of
the Trainer's own logged target subwords per second (every ``--log-every`` updates; the first
window, start-up, dropped) and the last logged training loss. Prints every round, the medians of
both, the median of the per-round speed ratios, and whether both revisions computed the same
losses.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from revision_bench import alternate, child_command, import_from, run_child, summarize


def time_training(code: Path, args: argparse.Namespace) -> dict:
    """In a child process: train with the package found in ``code``; its logged speeds and loss."""
    import_from(code)
    import torch
    from compare_joeynmt import train_ours

    from nlp_rnn.data.catalog import load_corpus
    from nlp_rnn.tasks.translation import train_subwords

    if args.threads:
        torch.set_num_threads(args.threads)
    train = load_corpus("multi30k", "train", data_dir=args.data_dir)
    subwords = train_subwords(train["src"], train["tgt"], vocab_size=8000, joint=True)
    with tempfile.TemporaryDirectory() as out:
        _, records = train_ours(
            subwords,
            Path(out),
            args.attention,
            args.input_feeding,
            args.data_dir,
            args.steps,
            args.log_every,
            args.cpu_amp,
        )
    if len(records) < 2:
        raise SystemExit("need at least two logged windows: raise --steps or lower --log-every")
    return {
        "tokens_per_second": statistics.median(r["tokens_per_s"] for r in records[1:]),
        "windows": [round(r["tokens_per_s"]) for r in records],
        "loss": round(records[-1]["loss"], 4),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--old", required=True, help="the git revision to compare with")
    parser.add_argument("--data-dir", default=None, help="corpus folder (default: ../shared/corpora)")
    parser.add_argument("--attention", default="general", help="bahdanau, dot, general or concat")
    parser.add_argument("--input-feeding", action="store_true")
    parser.add_argument("--cpu-amp", action="store_true", help="bf16 autocast (CPUs with AMX)")
    parser.add_argument("--steps", type=int, default=25, help="updates per run")
    parser.add_argument("--log-every", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--rounds", type=int, default=4, help="old/new process pairs")
    parser.add_argument("--output", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    if args.child is not None:  # one training process
        print(json.dumps(time_training(args.child, args)))
        return {}

    rows = alternate(
        args.old, args.rounds, lambda code: run_child(child_command(__file__, argv, code)), _show
    )
    summary = summarize(rows, "tokens_per_second", "target subwords/s", "loss")
    if args.output is not None:
        args.output.write_text(json.dumps({**summary, "rounds": rows}, indent=2) + "\n", encoding="utf-8")
    return summary


def _show(result: dict) -> str:
    return f"{result['tokens_per_second']:7,.0f} subwords/s (loss {result['loss']})"


if __name__ == "__main__":
    main()
