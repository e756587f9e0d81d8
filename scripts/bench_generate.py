"""Generation speed of trained language models: 200 tokens from a prompt, on the CPU.

    OMP_NUM_THREADS=1 python scripts/bench_generate.py                       # the committed pipelines' models
    python scripts/bench_generate.py --model runs/lm_imdb_sentiment/model --label pos --tokens 200

Each model generates ``--tokens`` ids (``<eos>`` does not stop it early here, so every run does the
same work) from ``--prompt`` with the sampling settings below, ``--repeats`` times after one warm-up
run; the script reports the median and the fastest wall time, ids per second, and the thread count,
and writes everything to ``--output`` (``runs/bench/generate.json``).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from nlp_rnn.api import load_model
from nlp_rnn.models.sampling import sample
from nlp_rnn.text.codec import BOS_ID, PAD_ID, UNK_ID

MODELS = {
    "runs/lm_wikipedia_char/model": {"prompt": "The city of", "label": None},
    "runs/lm_imdb_sentiment/model": {"prompt": "This movie", "label": "pos"},
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", action="append", help="model folder (repeatable; default: the pipelines')")
    parser.add_argument("--prompt", default=None, help="prompt (default: per model)")
    parser.add_argument("--label", default=None, help="label of a conditioned model (default: per model)")
    parser.add_argument("--tokens", type=int, default=200, help="ids generated per run")
    parser.add_argument("--num", type=int, default=1, help="texts generated side by side per run")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--output", default="runs/bench/generate.json")
    return parser.parse_args()


def bench(folder: str, prompt: str, label: str | None, args: argparse.Namespace) -> dict[str, object]:
    predictor = load_model(folder)
    index = predictor.label_index(label)
    labels = None if index is None else torch.full((args.num,), index, dtype=torch.long)
    context = [predictor.start_id, *predictor.codec.encode([prompt])[0].tolist()]
    times = []
    for run in range(args.repeats + 1):
        generator = torch.Generator().manual_seed(run)
        started = time.perf_counter()
        rows = sample(
            predictor.model,
            context,
            args.num,
            args.tokens,
            labels=labels,
            temperature=args.temperature,
            top_p=args.top_p,
            banned=(PAD_ID, UNK_ID, BOS_ID),  # no stop id: always the full length
            generator=generator,
        )
        if run:  # the first run warms up
            times.append(time.perf_counter() - started)
        assert all(len(row) == args.tokens for row in rows)
    median = statistics.median(times)
    (end_to_end,) = predictor.generate(
        prompt, max_tokens=args.tokens, temperature=args.temperature, top_p=args.top_p, label=label, seed=0
    )
    return {
        "model": folder,
        "level": predictor.codec.level,
        "parameters": sum(p.numel() for p in predictor.model.parameters()),
        "prompt": prompt,
        "label": label,
        "tokens": args.tokens,
        "num": args.num,
        "median_seconds": round(median, 4),
        "min_seconds": round(min(times), 4),
        "tokens_per_second": round(args.tokens * args.num / median, 1),
        "sample": end_to_end.text,
    }


def main() -> None:
    args = parse_args()
    folders = args.model or [folder for folder in MODELS if Path(folder).is_dir()]
    if not folders:
        raise SystemExit("no model folders: train the pipelines first or pass --model")
    results = []
    for folder in folders:
        defaults = MODELS.get(folder, {"prompt": "", "label": None})
        prompt = args.prompt if args.prompt is not None else defaults["prompt"]
        label = args.label if args.label is not None else defaults["label"]
        result = bench(folder, prompt, label, args)
        print(
            f"{folder}: {result['tokens']} ids in {result['median_seconds']:.3f} s (median of {args.repeats})"
        )
        results.append(result)
    report = {
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "repeats": args.repeats,
        "results": results,
    }
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
