"""Headline decoding speed and ROUGE of a summarizer by precision (fp32, bf16, int8), in one process.

    python scripts/bench_summarization_precision.py --model runs/summarize_gigaword/model
    python scripts/bench_summarization_precision.py --model DIR --precisions fp32 int8 --repeats 5

Summarizes the Gigaword dev articles (``SummarizationPredictor.summarize``: raw articles in,
words out) with the README's decoding choices (beam 5, length penalty 2, no word twice, 64
articles a batch) in each of ``--precisions``, alternating ``--repeats`` times so that load from
other processes hits all alike, and prints each precision's median seconds, its speed ratio to
the first, its ROUGE-1/2/L F1 on the dev titles, and how many summaries differ from the first
precision's. With int8, the summaries are also decoded 16 articles a batch and compared: per-row
quantization makes them independent of the batch (:class:`nlp_rnn.models.low_precision.Int8Linear`).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import statistics
from pathlib import Path

from revision_bench import alternating_seconds  # scripts/ is on the path

from nlp_rnn.api import load_model
from nlp_rnn.data.catalog import load_corpus
from nlp_rnn.evaluation.rouge import rouge
from nlp_rnn.tasks.summarization import DecodingOptions


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, required=True, help="a summarizer model folder")
    parser.add_argument("--data-dir", default=None, help="corpus folder (default: ../shared/corpora)")
    parser.add_argument("--precisions", nargs="+", default=["fp32", "int8"], choices=["fp32", "bf16", "int8"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    dev = load_corpus("gigaword", "dev", data_dir=args.data_dir)
    articles, titles = list(dev["src"]), list(dev["tgt"])
    summarizer = load_model(args.model)
    options = {
        precision: DecodingOptions(
            beam_size=5, length_penalty=2.0, no_repeat_ngram_size=1, batch_size=64, precision=precision
        )
        for precision in args.precisions
    }

    def summarize(precision: str, batch_size: int = 64) -> list[str]:
        chosen = dataclasses.replace(options[precision], batch_size=batch_size)
        return [summary.text for summary in summarizer.summarize(articles, chosen)]

    outputs = {precision: summarize(precision) for precision in args.precisions}  # warms up
    runs = {precision: functools.partial(summarize, precision) for precision in args.precisions}
    seconds = alternating_seconds(runs, args.repeats)
    first = args.precisions[0]
    results: dict[str, dict] = {}
    for precision in args.precisions:
        median = statistics.median(seconds[precision])
        report = rouge(outputs[precision], titles, samples=0)
        scores = [report.scores[name].f1 for name in report.scores]
        differ = sum(a != b for a, b in zip(outputs[first], outputs[precision], strict=True))
        results[precision] = {"seconds": median, "rouge": scores, "differ_from_first": differ}
        print(
            f"{precision}: {median:6.2f} s ({statistics.median(seconds[first]) / median:.2f}x {first}), "
            f"ROUGE-1/2/L {' / '.join(f'{score:.2f}' for score in scores)}, "
            f"{differ} of {len(articles)} summaries differ from {first}'s"
        )
    if "int8" in args.precisions:
        same = summarize("int8", batch_size=16) == outputs["int8"]
        results["int8"]["same_with_batches_of_16"] = same
        print("int8 summaries with 16 articles a batch:", "identical" if same else "different")
    return results


if __name__ == "__main__":
    main()
