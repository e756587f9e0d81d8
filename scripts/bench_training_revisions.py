"""Translation training speed of this checkout against an earlier revision of the whole package.

    python scripts/bench_training_revisions.py --old 46e04f2                  # one-shot Luong, fp32
    python scripts/bench_training_revisions.py --old 46e04f2 --attention bahdanau --input-feeding

The revision ``--old`` is checked out into a temporary git worktree. Each round runs one process
with its ``nlp_rnn`` and one with this checkout's (in turn, so that load from other processes
hits both alike). Each trains the JoeyNMT tutorial size (embeddings 256, a 2x256 bidirectional GRU
encoder, a 512-unit GRU decoder, joint unigram SentencePiece of 8,000 pieces trained in the
process) on Multi30k de->en with the Trainer for ``--steps`` updates of ``--max-tokens`` target
subwords, as ``compare_joeynmt.py`` does, and reports the median of the Trainer's own logged
target subwords per second (every ``--log-every`` updates; the first window, start-up, dropped)
and the last logged training loss. Prints every round, the medians of both, the median of the
per-round speed ratios, and whether both revisions computed the same losses.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from revision_bench import alternate, import_from, run_child, summarize


def time_training(code: Path, args: argparse.Namespace) -> dict:
    """In a child process: train with the package found in ``code``; its logged speeds and loss."""
    import_from(code)
    import torch

    from nlp_rnn.data.catalog import load_corpus
    from nlp_rnn.models.seq2seq import Seq2SeqConfig
    from nlp_rnn.tasks.translation import (
        Collate,
        build_seq2seq,
        encode_pairs,
        evaluate_batches,
        train_subwords,
    )
    from nlp_rnn.training.config import TrainerConfig
    from nlp_rnn.training.seeding import seed_everything
    from nlp_rnn.training.trainer import Trainer

    if args.threads:
        torch.set_num_threads(args.threads)
    train = load_corpus("multi30k", "train", data_dir=args.data_dir)
    dev = load_corpus("multi30k", "dev", data_dir=args.data_dir)
    subwords = train_subwords(train["src"], train["tgt"], vocab_size=8000, joint=True)
    pairs = encode_pairs(train["src"], train["tgt"], subwords, max_length=100)
    dev_pairs = encode_pairs(dev["src"][:64], dev["tgt"][:64], subwords)
    seed_everything(13)
    model_config = Seq2SeqConfig(
        embedding_dim=256,
        cell="gru",
        encoder_hidden=256,
        encoder_layers=2,
        decoder_hidden=512,
        decoder_layers=1,
        attention=args.attention,
        input_feeding=args.input_feeding,
        dropout=0.3,
        embedding_dropout=0.3,
        label_smoothing=0.1,
    )
    trainer_config = TrainerConfig(
        lr=5e-4,
        weight_decay=0.0,
        batch_size=None,
        max_tokens=args.max_tokens,
        max_epochs=None,
        max_steps=args.steps,
        log_every=args.log_every,
        eval_every_epoch=False,
        metric="ppl",
        tensorboard=False,
        plot=False,
        device="cpu",
        cpu_amp=args.cpu_amp,
        seed=13,
    )
    model = build_seq2seq(model_config, subwords)
    with tempfile.TemporaryDirectory() as out:
        Trainer(trainer_config, Path(out)).fit(
            model, pairs, dev_pairs, collate=Collate(), evaluate=evaluate_batches
        )
        lines = (Path(out) / "log.jsonl").read_text(encoding="utf-8").splitlines()
    records = [r for r in map(json.loads, lines) if r.get("kind") == "train" and "tokens_per_s" in r]
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
    parser.add_argument("--max-tokens", type=int, default=4096, help="target subwords a batch")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--rounds", type=int, default=4, help="old/new process pairs")
    parser.add_argument("--output", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:  # one training process
        print(json.dumps(time_training(args.child, args)))
        return {}

    rows = alternate(args.old, args.rounds, lambda code: _child(code, args), _speed_and_loss)
    summary = summarize(rows, "tokens_per_second", "target subwords/s", "loss")
    if args.output is not None:
        args.output.write_text(json.dumps({**summary, "rounds": rows}, indent=2) + "\n", encoding="utf-8")
    return summary


def _speed_and_loss(result: dict) -> str:
    return f"{result['tokens_per_second']:7,.0f} subwords/s (loss {result['loss']})"


def _child(code: Path, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--old", args.old, "--child", str(code)]
    command += ["--attention", args.attention, "--steps", str(args.steps), "--log-every", str(args.log_every)]
    command += ["--max-tokens", str(args.max_tokens), "--threads", str(args.threads)]
    command += ["--input-feeding"] * args.input_feeding + ["--cpu-amp"] * args.cpu_amp
    command += ["--data-dir", args.data_dir] if args.data_dir else []
    return run_child(command)


if __name__ == "__main__":
    main()
