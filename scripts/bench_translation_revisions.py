"""Translation decoding speed of this checkout against an earlier revision of the whole package.

    python scripts/bench_translation_revisions.py --old a1d853a --model runs/cj300/ours_model
    python scripts/bench_translation_revisions.py --old a1d853a --model DIR --beam 1   # greedy

The revision ``--old`` is checked out into a temporary git worktree. Each round runs one process
with its ``nlp_rnn`` and one with this checkout's (in turn, so that load from other processes
hits both alike); each loads the translator, translates the Multi30k dev sources
(``TranslationPredictor.translate``, raw text in, detokenized text out; ``--beam``, length penalty
``--alpha``, ``--batch-size`` sentences a batch) once to warm up and ``--repeats`` more times, and
reports the median seconds, the decoder rows it ran (sentences x beams, summed over the steps:
the work the search did), sacreBLEU against the dev references and a digest of the output. Prints
every round, the medians of both, the median of the per-round speed ratios, and whether both
revisions translated identically.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path

from revision_bench import (
    alternate,
    child_command,
    counting_decoder_rows,
    import_from,
    run_child,
    summarize,
)


def time_translation(code: Path, args: argparse.Namespace) -> dict:
    """In a child process: translate dev with the package found in ``code``."""
    import_from(code)
    import sacrebleu
    import torch

    from nlp_rnn.api import load_model
    from nlp_rnn.data.catalog import load_corpus

    if args.threads:
        torch.set_num_threads(args.threads)
    dev = load_corpus("multi30k", "dev", data_dir=args.data_dir)
    sources, references = list(dev["src"]), list(dev["tgt"])
    translator = load_model(args.model)

    def translate() -> list[str]:
        found = translator.translate(
            sources, beam_size=args.beam, batch_size=args.batch_size, length_penalty=args.alpha
        )
        return [t.text for t in found]

    with counting_decoder_rows(translator.model) as rows:  # the warm-up pass only
        lines = translate()
    seconds = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        lines = translate()
        seconds.append(time.perf_counter() - started)
    median = statistics.median(seconds)
    return {
        "seconds": median,
        "sentences_per_second": len(sources) / median,
        "decoder_rows": rows[0],
        "bleu": round(sacrebleu.corpus_bleu(lines, [references]).score, 2),
        "output": hashlib.sha256("\n".join(lines).encode()).hexdigest(),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--old", required=True, help="the git revision to compare with")
    parser.add_argument("--model", type=Path, required=True, help="a translator model folder")
    parser.add_argument("--data-dir", default=None, help="corpus folder (default: ../shared/corpora)")
    parser.add_argument("--beam", type=int, default=5, help="beam size (1: greedy)")
    parser.add_argument("--alpha", type=float, default=1.0, help="GNMT length penalty")
    parser.add_argument("--batch-size", type=int, default=64, help="sentences a batch")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--rounds", type=int, default=5, help="old/new process pairs")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per process")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    if args.child is not None:  # one timing process
        print(json.dumps(time_translation(args.child, args)))
        return {}

    rows = alternate(
        args.old, args.rounds, lambda code: run_child(child_command(__file__, argv, code)), _seconds_and_rows
    )
    summary = summarize(rows, "sentences_per_second", "sentences/s", "output")
    for name in ("old", "new"):
        print(f"{name}: BLEU {rows[-1][name]['bleu']}, decoder rows {rows[-1][name]['decoder_rows']:,}")
    return {**summary, "bleu": {n: rows[-1][n]["bleu"] for n in ("old", "new")}}


def _seconds_and_rows(result: dict) -> str:
    return f"{result['seconds']:6.2f} s ({result['decoder_rows']:,} rows)"


if __name__ == "__main__":
    main()
