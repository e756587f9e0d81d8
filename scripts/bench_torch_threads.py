"""Why ``nlp-rnn serve`` loads and calls its models on one thread: a classifier's calls on a worker
thread, with the model loaded on that thread or on the main thread.

    python scripts/bench_torch_threads.py --model runs/sentiment_sst2/model

Each way runs in a fresh process (the effect is process-wide: once a second thread has run torch
operators, every OpenMP parallel region of the process slows down): the process loads the model,
classifies the SST-2 dev sentences in batches of ``--batch`` on a worker thread ``--repeats``
times after a warm-up, and prints the median. The ways alternate, ``--rounds`` times each.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

WAYS = ("same_thread", "loaded_on_main_thread")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="runs/sentiment_sst2/model", help="a classifier's model folder")
    parser.add_argument("--data-dir", default=None, help="the corpora (default: $NLP_RNN_DATA or ../shared)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--way", choices=WAYS, help=argparse.SUPPRESS)  # one measurement, in a child
    return parser.parse_args(argv)


def measure(args: argparse.Namespace) -> float:
    """The median seconds of classifying the dev sentences on a worker thread, loaded ``args.way``."""
    from nlp_rnn.api import load_model
    from nlp_rnn.data.catalog import load_corpus

    with tempfile.TemporaryDirectory() as cache:
        texts = list(load_corpus("sst2_phrases", "dev", data_dir=args.data_dir, cache_dir=cache)["text"])
    batches = [texts[i : i + args.batch] for i in range(0, len(texts), args.batch)]
    worker = ThreadPoolExecutor(max_workers=1)
    if args.way == "same_thread":
        predictor = worker.submit(load_model, args.model).result()
    else:
        predictor = load_model(args.model)

    def run() -> float:
        started = time.perf_counter()
        for batch in batches:
            predictor.predict(batch)
        return time.perf_counter() - started

    times = [worker.submit(run).result() for _ in range(args.repeats + 1)][1:]
    return statistics.median(times)


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    if args.way:
        print(json.dumps({"seconds": measure(args)}))
        return {}
    seconds: dict[str, list[float]] = {way: [] for way in WAYS}
    for _ in range(args.rounds):
        for way in WAYS:
            command = [sys.executable, __file__, "--model", args.model, "--batch", str(args.batch)]
            command += ["--repeats", str(args.repeats), "--way", way]
            command += ["--data-dir", args.data_dir] if args.data_dir else []
            output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            seconds[way].append(json.loads(output.splitlines()[-1])["seconds"])
    medians = {way: statistics.median(values) for way, values in seconds.items()}
    ratio = medians["loaded_on_main_thread"] / medians["same_thread"]
    print(
        f"SST-2 dev sentences in batches of {args.batch} on a worker thread, medians of {args.rounds} "
        f"processes: loaded on that thread {medians['same_thread']:.3f} s, loaded on the main thread "
        f"{medians['loaded_on_main_thread']:.3f} s ({ratio:.2f}x)"
    )
    return medians


if __name__ == "__main__":
    main()
