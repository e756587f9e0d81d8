"""Benchmark streaming tokenize + count on the Wikipedia shards, and check memory stays flat.

Each measurement runs in a fresh Python process, so that its peak resident memory
(``resource.getrusage``: the process itself and its largest worker) belongs to that run
alone. The corpus is the three WikiExtractor shards ``wikipedia_en/enwiki-2014-*.txt.gz``
(23M words), read ``--scales`` times over (``4`` lists the shards four times): the token
rate should stay the same and the peak memory should not grow with the corpus.

    python scripts/bench_tokenize.py --repeats 3 --output bench_tokenize.json

Prints a table of medians over ``--repeats`` runs (tokens, seconds, tokens/s, peak MB) and
writes every run to ``--output`` as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

SHARD_PATTERN = "wikipedia_en/enwiki-2014-*.txt.gz"


def default_data_dir() -> Path:
    """``$NLP_RNN_DATA``, else ``../shared/corpora`` next to the project root."""
    env = os.environ.get("NLP_RNN_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1] / ".." / "shared" / "corpora"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(), help="Folder of the corpora.")
    parser.add_argument("--tokenizers", default="regex,spacy", help="Comma-separated kinds to measure.")
    parser.add_argument("--scales", default="1,4", help="How many times to read the shards, per run.")
    parser.add_argument(
        "--spacy-scales", default="1", help="Scales for spaCy (slower: about 70 s per pass on 2 cores)."
    )
    parser.add_argument("--num-proc", type=int, default=2, help="Worker processes.")
    parser.add_argument("--repeats", type=int, default=3, help="Runs per setting; the median is reported.")
    parser.add_argument("--output", type=Path, default=None, help="Write the results here as JSON.")
    parser.add_argument("--single-run", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tokenizer", default="regex", help=argparse.SUPPRESS)
    parser.add_argument("--scale", type=int, default=1, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def shard_paths(data_dir: Path) -> list[Path]:
    paths = sorted(data_dir.glob(SHARD_PATTERN))
    if not paths:
        sys.exit(f"error: no {SHARD_PATTERN} under {data_dir} (pass --data-dir or set NLP_RNN_DATA)")
    return paths


def single_run(args: argparse.Namespace) -> None:
    """Count once and print one JSON line; runs in its own process."""
    from nlp_rnn.text.corpus_ops import count_file_tokens, is_wiki_markup
    from nlp_rnn.text.tokenizers import build_tokenizer

    paths = shard_paths(args.data_dir) * args.scale
    tokenizer = build_tokenizer(args.tokenizer)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    counts = count_file_tokens(paths, tokenizer, num_proc=args.num_proc, skip_line=is_wiki_markup)
    seconds = time.perf_counter() - start
    tokens = sum(counts.values())
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    # ru_maxrss is in kB on Linux; RUSAGE_CHILDREN gives the largest finished child.
    main_mb, worker_mb = own.ru_maxrss / 1024, children.ru_maxrss / 1024
    # CPU seconds (imports included) say how fast it would run on idle cores: the wall
    # clock on a shared machine also measures the neighbours.
    cpu_seconds = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    result = {
        "tokenizer": args.tokenizer,
        "scale": args.scale,
        "files": len(paths),
        "num_proc": args.num_proc,
        "tokens": tokens,
        "types": len(counts),
        "seconds": seconds,
        "tokens_per_s": tokens / seconds,
        "cpu_seconds": cpu_seconds,
        "load_average_before": load_before,
        "tokens_per_cpu_s": tokens / cpu_seconds,
        "peak_main_mb": main_mb,
        "peak_worker_mb": worker_mb,
        # An upper bound: forked workers share their parent's pages, counted here twice.
        "peak_total_mb": main_mb + args.num_proc * worker_mb,
    }
    print(json.dumps(result))


def measure(args: argparse.Namespace, kind: str, scale: int) -> list[dict]:
    runs = []
    for repeat in range(args.repeats):
        command = [
            sys.executable,
            __file__,
            "--single-run",
            f"--tokenizer={kind}",
            f"--scale={scale}",
            f"--num-proc={args.num_proc}",
            f"--data-dir={args.data_dir}",
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.exit(f"error: the {kind} x{scale} run failed:\n{done.stderr}")
        run = json.loads(done.stdout.strip().splitlines()[-1])
        run["repeat"] = repeat
        runs.append(run)
        print(
            f"  {kind} x{scale} run {repeat + 1}/{args.repeats}: "
            f"{run['tokens_per_s'] / 1e6:.2f}M tokens/s, {run['seconds']:.1f} s",
            file=sys.stderr,
            flush=True,
        )
    return runs


def summarize(runs: list[dict]) -> dict:
    first = runs[0]
    return {
        "tokenizer": first["tokenizer"],
        "scale": first["scale"],
        "files": first["files"],
        "tokens": first["tokens"],
        "types": first["types"],
        "median_seconds": statistics.median(run["seconds"] for run in runs),
        "median_tokens_per_s": statistics.median(run["tokens_per_s"] for run in runs),
        "min_tokens_per_s": min(run["tokens_per_s"] for run in runs),
        "max_tokens_per_s": max(run["tokens_per_s"] for run in runs),
        "median_tokens_per_cpu_s": statistics.median(run["tokens_per_cpu_s"] for run in runs),
        # The highest peak over the repeats: memory is about the worst case.
        "peak_main_mb": max(run["peak_main_mb"] for run in runs),
        "peak_worker_mb": max(run["peak_worker_mb"] for run in runs),
        "peak_total_mb": max(run["peak_total_mb"] for run in runs),
    }


def print_table(rows: list[dict], num_proc: int) -> None:
    header = (
        f"{'tokenizer':10} {'scale':>5} {'tokens':>12} {'seconds':>8} {'tokens/s':>10} "
        f"{'(min-max)':>14} {'tok/cpu-s':>10} {'peak MB':>8} {'main':>6} {'worker':>7}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        spread = f"{row['min_tokens_per_s'] / 1e6:.2f}-{row['max_tokens_per_s'] / 1e6:.2f}M"
        print(
            f"{row['tokenizer']:10} {str(row['scale']) + 'x':>5} {row['tokens']:>12,} "
            f"{row['median_seconds']:>8.1f} {row['median_tokens_per_s'] / 1e6:>9.2f}M {spread:>14} "
            f"{row['median_tokens_per_cpu_s'] / 1e6:>9.2f}M "
            f"{row['peak_total_mb']:>8.0f} {row['peak_main_mb']:>6.0f} {row['peak_worker_mb']:>7.0f}"
        )
    print(
        f"\nmedians over the runs; {num_proc} worker processes; tok/cpu-s = tokens per CPU second of "
        f"all processes (the load-independent rate);\npeak MB = main + {num_proc} x largest worker "
        "(ru_maxrss, an upper bound: forked workers share pages)"
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.single_run:
        single_run(args)
        return
    shard_paths(args.data_dir)  # fail early when the corpus is missing
    rows, runs = [], []
    for kind in args.tokenizers.split(","):
        scales = args.spacy_scales if kind == "spacy" else args.scales
        for scale in (int(s) for s in scales.split(",")):
            kind_runs = measure(args, kind, scale)
            runs.extend(kind_runs)
            rows.append(summarize(kind_runs))
    print_table(rows, args.num_proc)
    if args.output:
        report = {
            "machine": {
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "load_average_at_end": os.getloadavg(),
            },
            "settings": {"num_proc": args.num_proc, "repeats": args.repeats, "corpus": SHARD_PATTERN},
            "summary": rows,
            "runs": runs,
        }
        args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
