"""Tagging speed of this checkout against an earlier revision of the whole package.

    python scripts/bench_tagging_revisions.py --old 5c9d485 --model runs/pos_ewt_distilled/model

The revision ``--old`` is checked out into a temporary git worktree. Each round runs one process
with its ``nlp_rnn`` and one with this checkout's (in turn, so that load from other processes
hits both alike); each loads the tagger, tags the EWT dev sentences (gold words,
``TaggingPredictor.tag``) once to warm up and ``--repeats`` more times, and reports the median
words/s and a digest of its tags. Prints every round, the medians of both, the median of the
per-round ratios, and whether both revisions gave the same tags.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path

from revision_bench import alternate, child_command, import_from, run_child, summarize

EWT_DEV = "ud_english_ewt/en_ewt-ud-dev.conllu"


def time_tagging(code: Path, model: Path, gold: Path | None, repeats: int) -> dict:
    """In a child process: tag with the package found in ``code``; words/s and a digest of the tags."""
    import_from(code)
    from nlp_rnn.api import load_model
    from nlp_rnn.data.catalog import default_data_dir
    from nlp_rnn.data.conllu import iter_sentences

    words = [s["tokens"] for s in iter_sentences(gold or default_data_dir() / EWT_DEV)]
    tagger = load_model(model)
    tagged = tagger.tag(words)
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        tagged = tagger.tag(words)
        seconds.append(time.perf_counter() - started)
    digest = hashlib.sha256(json.dumps([[s.upos, s.xpos] for s in tagged]).encode()).hexdigest()
    return {"words_per_second": sum(map(len, words)) / statistics.median(seconds), "tags": digest}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--old", required=True, help="the git revision to compare with")
    parser.add_argument("--model", type=Path, required=True, help="a tagger model folder")
    parser.add_argument(
        "--gold", type=Path, default=None, help=f"CoNLL-U file (default: <data-dir>/{EWT_DEV})"
    )
    parser.add_argument("--rounds", type=int, default=7, help="old/new process pairs")
    parser.add_argument("--repeats", type=int, default=3, help="timed tagging passes per process")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    if args.child is not None:  # one timing process
        print(json.dumps(time_tagging(args.child, args.model, args.gold, args.repeats)))
        return {}

    rows = alternate(
        args.old, args.rounds, lambda code: run_child(child_command(__file__, argv, code)), _words_per_second
    )
    return summarize(rows, "words_per_second", "words/s", "tags")


def _words_per_second(result: dict) -> str:
    return f"{result['words_per_second']:>9,.0f}"


if __name__ == "__main__":
    main()
