"""Dev accuracy of text classifiers alone and as an ensemble (averaged probabilities), as the
``teacher_labels`` stage combines its teachers.

    python scripts/ensemble_classifiers.py runs/sentiment_sst2/model runs/sst2_s14/model runs/sst2_s15/model

Each model labels the texts of ``--corpus`` / ``--split`` (default: the SST-2 dev sentences); the
ensemble takes the label of the models' averaged probabilities. Prints each one's accuracy, the
ensemble's, and the share of texts on which all models agree.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from nlp_rnn.data.catalog import load_corpus
from nlp_rnn.stages.teacher_labels import ensemble, load_teachers


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("models", nargs="+", help="classifier model folders (the same labels)")
    parser.add_argument("--corpus", default="sst2_phrases", help="a catalog name or a local path")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--format", default=None, help="the reader of a local file (e.g. label_text)")
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as cache:
        rows = load_corpus(
            args.corpus, args.split, data_dir=args.data_dir, format=args.format, cache_dir=cache
        )
        texts, gold_labels = list(rows["text"]), [str(label) for label in rows["label"]]
    teachers = load_teachers(args.models)  # the stage's checks: classifiers, the same labels
    votes = ensemble(teachers, texts)
    if len(votes.rows) < len(texts):
        print(f"{len(texts) - len(votes.rows)} texts without tokens for some model are left out")
    labels = np.asarray(teachers[0].labels, dtype=object)
    gold = np.asarray(gold_labels, dtype=object)[votes.rows]
    results = {
        folder: float(np.mean(labels[choice] == gold))
        for folder, choice in zip(args.models, votes.choices, strict=True)
    }
    results["ensemble"] = float(np.mean(labels[votes.averaged.argmax(1)] == gold))
    agreement = float((votes.choices == votes.choices[0]).all(axis=0).mean())

    print(f"{len(gold):,} texts of {args.corpus} ({args.split})")
    for name, accuracy in results.items():
        print(f"{name}: accuracy {100 * accuracy:.2f}")
    print(f"all {len(args.models)} models agree on {100 * agreement:.2f}% of the texts")
    return results


if __name__ == "__main__":
    main()
