#!/usr/bin/env python
"""Benchmark our word2vec training against calling gensim directly, on the same line corpus.

Both sides train skip-gram in gensim's ``corpus_file`` mode on the same tokenized Wikipedia
shards (lowercased, regex-tokenized), with the same settings, threads and seed, one after the
other; both are scored by the same evaluation (analogies on the 30,000 most frequent words,
WordSim353, SimLex-999). ``--pipeline`` also runs ``pipelines/word2vec_wiki.yaml`` end to end
(its own settings and corpus mix) and reports its numbers beside the reference.

    python scripts/bench_word2vec.py --max-tokens 2000000            # a quick slice
    python scripts/bench_word2vec.py --output results.json           # the full reference run
    python scripts/bench_word2vec.py --pipeline --output results.json
    python scripts/bench_word2vec.py --settings pipeline \
        --corpus-file runs/word2vec_wiki/stages/word2vec/corpus.txt   # speed at the pipeline's settings

The corpus folder comes from ``--data-dir``, else ``$NLP_RNN_DATA``, else ``../shared/corpora``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gensim.models import Word2Vec

from nlp_rnn.embeddings.evaluate import evaluate_vectors
from nlp_rnn.embeddings.word2vec import Word2VecSettings, train_word2vec

REPO = Path(__file__).resolve().parents[1]
PIPELINE = REPO / "pipelines" / "word2vec_wiki.yaml"
# The reference configuration of the issue: plain gensim skip-gram with its usual settings.
REFERENCE = Word2VecSettings(
    algorithm="skipgram", loss="negative", negative=5, dim=100, window=5, epochs=5, min_count=5, sample=1e-3
)


def main() -> int:
    args = parse_args()
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(message)s"
    )
    data_dir = Path(args.data_dir or os.environ.get("NLP_RNN_DATA") or Path("..") / "shared" / "corpora")
    work_dir = Path(args.work_dir or tempfile.mkdtemp(prefix="bench_word2vec_"))
    work_dir.mkdir(parents=True, exist_ok=True)
    base = REFERENCE if args.settings == "reference" else pipeline_settings(data_dir)
    settings = base.model_copy(update={"workers": args.workers})
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "workers": args.workers},
        "settings": settings.model_dump(mode="json"),
        "seed": args.seed,
    }

    corpus_file, results["corpus"] = prepare_corpus(args, data_dir, work_dir)
    print(f"line corpus: {corpus_file} ({results['corpus']['tokens']:,} tokens)", flush=True)
    sides = {"direct": train_direct, "ours": train_ours}
    chosen = list(sides) if args.sides == "both" else [] if args.sides == "none" else [args.sides]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in chosen}
    for repeat in range(args.repeats):
        # Alternate the order so that a change in the machine's load does not favour one side.
        for name in chosen if repeat % 2 == 0 else chosen[::-1]:
            report = sides[name](corpus_file, settings, args.seed)
            runs[name].append(report)
            print_side(f"{name} (run {repeat + 1})", report)
    for name, reports in runs.items():
        # The median run (by words/s) stands for the side; every run's speed is kept beside it.
        ranked = sorted(reports, key=lambda report: report["words_per_second"])
        results[name] = dict(ranked[(len(ranked) - 1) // 2])
        cpu_rates = sorted(report["words_per_cpu_second"] for report in reports)
        results[name]["words_per_cpu_second"] = cpu_rates[(len(cpu_rates) - 1) // 2]
        results[name]["runs"] = [report["words_per_second"] for report in reports]
    if "direct" in results and "ours" in results:
        for key in ("words_per_second", "words_per_cpu_second"):
            results[f"{key}_ratio"] = round(results["ours"][key] / results["direct"][key], 4)
        print(
            f"throughput ratio ours / direct: {results['words_per_second_ratio']:.3f} (wall clock), "
            f"{results['words_per_cpu_second_ratio']:.3f} (CPU time)",
            flush=True,
        )
    if args.pipeline:
        results["pipeline"] = run_wiki_pipeline(args, data_dir, work_dir)
        print_side("pipeline word2vec_wiki.yaml", results["pipeline"])
    print_table(results)
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.output}")
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", help="corpus folder (default: $NLP_RNN_DATA, else ../shared/corpora)")
    parser.add_argument("--work-dir", help="where the line corpus and runs go (default: a new temp folder)")
    parser.add_argument("--corpus-file", help="reuse a line corpus written earlier (skips tokenization)")
    parser.add_argument(
        "--max-tokens", type=int, help="train on the first N tokens only (a development slice)"
    )
    parser.add_argument("--workers", type=int, default=2, help="training threads for every side (default 2)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--repeats", type=int, default=1, help="train each side N times, alternating; report the median"
    )
    parser.add_argument("--sides", choices=("both", "direct", "ours", "none"), default="both")
    parser.add_argument(
        "--settings",
        choices=("reference", "pipeline"),
        default="reference",
        help="train both sides with the issue's reference settings or with pipelines/word2vec_wiki.yaml's",
    )
    parser.add_argument("--pipeline", action="store_true", help="also run pipelines/word2vec_wiki.yaml")
    parser.add_argument("--output", help="write all numbers to this JSON file")
    parser.add_argument("--verbose", action="store_true", help="log gensim's progress")
    return parser.parse_args()


def pipeline_settings(data_dir: Path) -> Word2VecSettings:
    """The word2vec settings of pipelines/word2vec_wiki.yaml (its stage's hyperparameters)."""
    from nlp_rnn.pipeline import load_pipeline
    from nlp_rnn.stages.word2vec import Word2VecStage

    pipeline = load_pipeline(PIPELINE, data_dir=data_dir, stage_kinds={"word2vec": Word2VecStage})
    return pipeline.stages["word2vec"].config.settings()


def prepare_corpus(args: argparse.Namespace, data_dir: Path, work_dir: Path) -> tuple[Path, dict[str, Any]]:
    """Tokenize the Wikipedia shards once (lowercased regex tokens, one paragraph per line)."""
    if args.corpus_file:
        path = Path(args.corpus_file)
        info: dict[str, Any] = {"source": str(path), "preprocess_seconds": None}
    else:
        from nlp_rnn.data.catalog import load_corpus
        from nlp_rnn.text.corpus_ops import write_line_corpus
        from nlp_rnn.text.tokenizers import build_tokenizer

        path = work_dir / "wikipedia_en.txt"
        started = time.perf_counter()
        dataset = load_corpus("wikipedia_en", data_dir=data_dir, cache_dir=work_dir / "hf_cache")
        loaded = time.perf_counter()
        write_line_corpus(dataset, build_tokenizer("regex", lowercase=True), path)
        done = time.perf_counter()
        info = {
            "source": "wikipedia_en",
            "read_seconds": round(loaded - started, 2),
            "tokenize_seconds": round(done - loaded, 2),
            "preprocess_seconds": round(done - started, 2),
        }
    if args.max_tokens:
        path = truncate(path, work_dir / f"slice_{args.max_tokens}.txt", args.max_tokens)
    lines = tokens = 0
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            lines += 1
            tokens += len(line.split())
    info.update(file=str(path), lines=lines, tokens=tokens)
    return path, info


def truncate(source: Path, target: Path, max_tokens: int) -> Path:
    """The first lines of ``source`` holding at most ``max_tokens`` tokens."""
    tokens = 0
    with open(source, encoding="utf-8") as handle, open(target, "w", encoding="utf-8") as out:
        for line in handle:
            tokens += len(line.split())
            if tokens > max_tokens:
                break
            out.write(line)
    return target


def train_direct(corpus_file: Path, settings: Word2VecSettings, seed: int) -> dict[str, Any]:
    """Plain gensim: build the vocabulary and train from ``corpus_file``, nothing else."""
    model = Word2Vec(**settings.gensim_params(seed))
    started = time.perf_counter()
    model.build_vocab(corpus_file=str(corpus_file))
    vocab_seconds = time.perf_counter() - started
    started, cpu_started = time.perf_counter(), time.process_time()
    model.train(corpus_file=str(corpus_file), total_words=model.corpus_total_words, epochs=model.epochs)
    train_seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    words = model.corpus_total_words * model.epochs
    return side_report(model.wv, vocab_seconds, train_seconds, cpu_seconds, words)


def train_ours(corpus_file: Path, settings: Word2VecSettings, seed: int) -> dict[str, Any]:
    """Our training function, as the pipeline stage calls it (the CPU time includes its checks)."""
    cpu_started = time.process_time()
    result = train_word2vec(corpus_file, settings, seed=seed)
    cpu_seconds = time.process_time() - cpu_started
    words = result.corpus_words * result.model.epochs
    return side_report(result.vectors, result.vocab_seconds, result.train_seconds, cpu_seconds, words)


def side_report(
    kv, vocab_seconds: float, train_seconds: float, cpu_seconds: float, words: int
) -> dict[str, Any]:
    """Timings of one training plus the evaluation of its vectors.

    ``words_per_cpu_second`` divides by the CPU time of all threads, which other programs
    running on the machine disturb less than the wall clock.
    """
    started = time.perf_counter()
    metrics = evaluate_vectors(kv)
    return {
        "vocab_seconds": round(vocab_seconds, 2),
        "train_seconds": round(train_seconds, 2),
        "train_cpu_seconds": round(cpu_seconds, 2),
        "words_per_second": round(words / train_seconds, 1),
        "words_per_cpu_second": round(words / cpu_seconds, 1),
        "eval_seconds": round(time.perf_counter() - started, 2),
        **metrics,
    }


def run_wiki_pipeline(args: argparse.Namespace, data_dir: Path, work_dir: Path) -> dict[str, Any]:
    """The real pipeline, its own settings and corpus mix; the workers are set as for the others."""
    from nlp_rnn.pipeline import load_pipeline, run_pipeline
    from nlp_rnn.stages.word2vec import Word2VecStage

    overrides = [f"stages.word2vec.workers={args.workers}", f"stages.word2vec.seed={args.seed}"]
    pipeline = load_pipeline(PIPELINE, overrides, data_dir=data_dir, stage_kinds={"word2vec": Word2VecStage})
    started = time.perf_counter()
    result = run_pipeline(pipeline, work_dir / "pipeline_run", data_dir=data_dir, force=True)
    metrics = dict(result.outcomes[0].metrics)
    metrics["stage_seconds"] = round(time.perf_counter() - started, 2)
    metrics["settings"] = pipeline.stages["word2vec"].config.settings().model_dump(mode="json")
    return metrics


def print_side(name: str, report: dict[str, Any]) -> None:
    print(
        f"{name}: train {report['train_seconds']:.1f} s, {report['words_per_second']:,.0f} words/s, "
        f"{report['vocab_size']:,} words, analogies {report['analogy_accuracy']:.1%}, "
        f"WS353 {report['ws353_spearman']:.3f}, SimLex {report['simlex_spearman']:.3f}",
        flush=True,
    )


def print_table(results: dict[str, Any]) -> None:
    sides = [name for name in ("direct", "ours", "pipeline") if name in results]
    if not sides:
        return
    rows = [
        ("train seconds", "train_seconds", "{:,.1f}"),
        ("words/s", "words_per_second", "{:,.0f}"),
        ("vocabulary", "vocab_size", "{:,}"),
        ("analogies (top 30k)", "analogy_accuracy", "{:.1%}"),
        ("WordSim353 Spearman", "ws353_spearman", "{:.3f}"),
        ("SimLex-999 Spearman", "simlex_spearman", "{:.3f}"),
    ]
    print()
    print(f"{'':22}" + "".join(f"{side:>14}" for side in sides))
    for label, key, fmt in rows:
        print(f"{label:22}" + "".join(f"{fmt.format(results[side][key]):>14}" for side in sides))
    if "words_per_second_ratio" in results:
        print(f"{'ours / direct words/s':22}{results['words_per_second_ratio']:>14.3f}")
        print(f"{'  per CPU second':22}{results['words_per_cpu_second_ratio']:>14.3f}")


if __name__ == "__main__":
    sys.exit(main())
