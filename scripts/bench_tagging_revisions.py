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
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EWT_DEV = "ud_english_ewt/en_ewt-ud-dev.conllu"


def time_tagging(code: Path, model: Path, gold: Path | None, repeats: int) -> dict:
    """In a child process: tag with the package found in ``code``; words/s and a digest of the tags."""
    # an editable install's import hook would find this checkout first: drop it
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
    sys.path.insert(0, str(code))
    import nlp_rnn
    from nlp_rnn.api import load_model
    from nlp_rnn.data.catalog import default_data_dir
    from nlp_rnn.data.conllu import iter_sentences

    assert Path(nlp_rnn.__file__).resolve().is_relative_to(code.resolve()), nlp_rnn.__file__
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
    args = parser.parse_args(argv)
    if args.child is not None:  # one timing process
        print(json.dumps(time_tagging(args.child, args.model, args.gold, args.repeats)))
        return {}

    with tempfile.TemporaryDirectory() as temporary:
        old_tree = Path(temporary) / "old"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(old_tree), args.old],
            check=True,
        )
        try:
            rows = []
            for _ in range(args.rounds):
                row = {name: _child(code, args) for name, code in (("old", old_tree), ("new", ROOT))}
                rows.append(row)
                old, new = (row[name]["words_per_second"] for name in ("old", "new"))
                print(f"old {old:>9,.0f}  new {new:>9,.0f}")
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old_tree)], check=True
            )
    old = statistics.median(r["old"]["words_per_second"] for r in rows)
    new = statistics.median(r["new"]["words_per_second"] for r in rows)
    ratio = statistics.median(r["new"]["words_per_second"] / r["old"]["words_per_second"] for r in rows)
    same = all(r["old"]["tags"] == r["new"]["tags"] for r in rows)
    print(f"medians over {args.rounds} rounds: old {old:,.0f}, new {new:,.0f} words/s")
    print(f"median of the rounds' ratios new/old: {ratio:.2f}x")
    print("tags identical" if same else "tags DIFFER between the revisions")
    return {"old": old, "new": new, "ratio": ratio, "same_tags": same}


def _child(code: Path, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--old", args.old, "--model", str(args.model), "--child", str(code)]
    command += ["--repeats", str(args.repeats)] + (["--gold", str(args.gold)] if args.gold else [])
    environment = {**os.environ, "PYTHONPATH": ""}
    result = subprocess.run(command, check=True, capture_output=True, text=True, env=environment)
    return json.loads(result.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
