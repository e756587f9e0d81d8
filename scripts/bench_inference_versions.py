"""Classifier or tagger inference speed of this checkout's BiLSTM recurrence against an earlier
revision's.

    python scripts/bench_inference_versions.py --old d709f16 --repeats 9
    python scripts/bench_inference_versions.py --old c9eae08 --repeats 7 --tagger runs/pos_ewt/model

Loads ``nlp_rnn/models/bilstm_inference.py`` as it was at ``--old`` (through ``git show``) next
to the current one, builds one untrained classifier of the SST-2 model's shapes (phrase
vocabulary, ``--embedding-dim``, a 1-layer BiLSTM of ``--hidden`` units, max pooling) and times
``predict`` (raw text in) and the model alone on the SST-2 dev sentences replicated to
``--sentences``, alternating the two versions ``--repeats`` times in this one process so that
load from other processes hits both alike. Prints the medians, their ratio and the largest
difference between the two versions' probabilities. With ``--tagger``, the trained tagger in that
folder tags the EWT dev sentences (gold words, ``TaggingPredictor.tag``) instead, in words/s, and
the share of tags on which the two versions agree is printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

import nlp_rnn.models.bilstm_inference as current
import nlp_rnn.models.classifier as classifier_module
import nlp_rnn.models.tagger as tagger_module
from nlp_rnn.api import load_model
from nlp_rnn.data.catalog import default_data_dir
from nlp_rnn.data.conllu import iter_sentences

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_classifier  # noqa: E402  (the sibling script's data loading and model)
from compare_spacy_pos import EWT_DEV  # noqa: E402  (the tagger comparison's dev file)

MODULE_PATH = "nlp_rnn/models/bilstm_inference.py"
KINDS = ("e2e", "model")  # bench_classifier.inference: end to end from raw text, the model alone


def module_at(revision: str, folder: Path) -> ModuleType:
    """``bilstm_inference`` as it was at git ``revision``."""
    source = subprocess.run(
        ["git", "show", f"{revision}:{MODULE_PATH}"], check=True, capture_output=True, text=True
    ).stdout
    path = folder / "bilstm_inference_old.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("bilstm_inference_old", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", required=True, help="git revision of the earlier recurrence")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--sentences", type=int, default=20_000)
    parser.add_argument("--embedding-dim", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--tagger", type=Path, help="a tagger's model folder: time it on EWT dev instead")
    args = parser.parse_args(argv)
    if args.tagger is not None:
        compare_taggers(args)
        return

    bench_args = bench_classifier.parse_args(
        ["--embedding-dim", str(args.embedding_dim), "--hidden", str(args.hidden)]
        + ["--inference-batch-size", str(args.batch_size)]
    )
    _, dev_texts, vocab, label_vocab, tokenizer = bench_classifier.load_data(bench_args)
    torch.manual_seed(0)
    model = bench_classifier.build_model(bench_args, len(vocab))
    predictor = bench_classifier.ClassificationPredictor(model, tokenizer, vocab, label_vocab)
    texts = (dev_texts * (args.sentences // len(dev_texts) + 1))[: args.sentences]
    predictor.predict(texts[:1000])  # warm up

    with tempfile.TemporaryDirectory() as folder:
        versions = {"old": module_at(args.old, Path(folder)), "new": current}
        speeds: dict[str, list[float]] = {f"{name} {kind}": [] for name in versions for kind in KINDS}
        probabilities: dict[str, np.ndarray] = {}
        try:
            for _ in range(args.repeats):
                for name, module in versions.items():
                    classifier_module.bilstm_inference = module  # what RNNClassifier.encode calls
                    measured = bench_classifier.inference(bench_args, predictor, texts)
                    for kind, speed in zip(KINDS, measured, strict=True):
                        speeds[f"{name} {kind}"].append(speed)
            for name, module in versions.items():
                classifier_module.bilstm_inference = module
                probabilities[name] = predictor.predict_proba(texts, batch_size=args.batch_size)
        finally:
            classifier_module.bilstm_inference = current
    medians = {key: statistics.median(values) for key, values in speeds.items()}
    for key, value in medians.items():
        print(f"{key}: median {value:,.0f} sentences/s over {args.repeats}")
    for kind in KINDS:
        print(f"{kind}: new / old = {medians[f'new {kind}'] / medians[f'old {kind}']:.2f}x")
    difference = float(np.abs(probabilities["old"] - probabilities["new"]).max())
    print(f"largest probability difference: {difference:.2e}; torch threads {torch.get_num_threads()}")


def compare_taggers(args: argparse.Namespace) -> None:
    """Both versions of the recurrence inside one trained tagger, alternating on EWT dev."""
    predictor = load_model(args.tagger)
    sentences = [s["tokens"] for s in iter_sentences(default_data_dir() / EWT_DEV)]
    words = sum(len(tokens) for tokens in sentences)
    predictor.tag(sentences)  # warm up (and fill the form cache)
    with tempfile.TemporaryDirectory() as folder:
        versions = {"old": module_at(args.old, Path(folder)), "new": current}
        speeds: dict[str, list[float]] = {name: [] for name in versions}
        tags: dict[str, list[str]] = {}
        try:
            for _ in range(args.repeats):
                for name, module in versions.items():
                    tagger_module.bilstm_inference = module  # what RNNTagger.tag_logits calls
                    started = time.perf_counter()
                    predictor.tag(sentences)
                    speeds[name].append(words / (time.perf_counter() - started))
            for name, module in versions.items():
                tagger_module.bilstm_inference = module
                tags[name] = [tag for s in predictor.tag(sentences) for tag in s.upos + (s.xpos or [])]
        finally:
            tagger_module.bilstm_inference = current
    medians = {name: statistics.median(values) for name, values in speeds.items()}
    for name, value in medians.items():
        print(f"{name}: median {value:,.0f} words/s over {args.repeats}")
    print(f"new / old = {medians['new'] / medians['old']:.2f}x")
    agree = sum(a == b for a, b in zip(tags["old"], tags["new"], strict=True)) / len(tags["new"])
    print(f"tags agreeing: {agree:.4%} of {len(tags['new']):,}; torch threads {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
