"""Training and inference speed of the sentiment classifier on SST-2, against a bare nn.LSTM loop.

    python scripts/bench_classifier.py                         # SST-2 phrases, the pipeline's model
    python scripts/bench_classifier.py --embedding-dim 100 --output results.json
    python scripts/bench_classifier.py --model runs/sentiment_sst2/model   # inference of a trained model

Training: the same SST-2 training phrases (a fixed set of length-bucketed batches of
``--batch-size``) go through

* **bare**: the reference loop, an ``nn.LSTM`` (MKL/oneDNN on the CPU) of the same sizes, forward
  and backward over each padded ``B x T x D`` batch of random vectors; nothing else (no
  embedding, no pooling, no loss, no optimizer, no data loading);
* **ours**: the whole stack, ``Trainer.fit`` on :class:`RNNClassifier` with its collate function:
  data loading, embedding, encoder (with its handling of lengths), pooling, loss, backward,
  gradient clipping, AdamW and the trainer's bookkeeping (no validation, no TensorBoard).

With ``--adversarial-epsilon`` > 0 ours trains adversarially (the SST-2 recipe's setting), and the
bare loop does the same extra work: the gradient with respect to its inputs, a second forward
pass over the moved inputs, and the backward pass of both.

Both count real (unpadded) tokens per second; they alternate ``--repeats`` times in one process
so that load from other processes hits both alike, and the medians are compared (ratio = bare /
ours, so 2.0 means our stack takes twice as long). Inference: sentences per second of
``predict`` on the SST-2 dev sentences (tokenization, encoding, length batching and the model under
``torch.inference_mode()``), replicated to ``--inference-sentences``, and the same for the model
alone on pre-encoded input, in each of ``--precisions`` (fp32, and bf16 matrix products in the
recurrence), alternating so that both see the same load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from nlp_rnn.data.batching import bucket_batches
from nlp_rnn.data.catalog import load_corpus
from nlp_rnn.models.classifier import ClassifierConfig, RNNClassifier
from nlp_rnn.models.low_precision import FLOAT_PRECISIONS, check_precision
from nlp_rnn.tasks.classification import (
    ClassificationPredictor,
    EncodedExamples,
    collate,
    encode_examples,
    predict_examples,
)
from nlp_rnn.text.tokenizers import RegexTokenizer
from nlp_rnn.text.vocab import LABEL_SPECIALS, NO_MARKERS, Vocab
from nlp_rnn.training.config import TrainerConfig
from nlp_rnn.training.trainer import Trainer


class Subset:
    """The examples of the benchmark's batches, as a dataset the Trainer can index."""

    def __init__(self, examples: EncodedExamples, indices: list[int]) -> None:
        self.examples, self.indices = examples, indices
        lengths = examples.lengths
        self.lengths = [lengths[i] for i in indices]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int):
        return self.examples[self.indices[index]]


def load_data(args: argparse.Namespace) -> tuple[EncodedExamples, list[str], Vocab, Vocab, RegexTokenizer]:
    """SST-2 training phrases (encoded) and dev sentences (raw), with their vocabularies."""
    tokenizer = RegexTokenizer(lowercase=True)
    with tempfile.TemporaryDirectory() as cache:
        train = load_corpus("sst2_phrases", "train", data_dir=args.data_dir, cache_dir=cache)
        dev = load_corpus("sst2_phrases", "dev", data_dir=args.data_dir, cache_dir=cache)
        texts, labels, dev_texts = list(train["text"]), list(train["label"]), list(dev["text"])
    token_lists = tokenizer.tokenize_batch(texts)
    vocab = Vocab.build(token_lists, specials=NO_MARKERS)
    label_vocab = Vocab(sorted(set(labels)), specials=LABEL_SPECIALS)
    examples = encode_examples(token_lists, vocab, labels, label_vocab, skip_empty=True)
    return examples, dev_texts, vocab, label_vocab, tokenizer


def build_model(args: argparse.Namespace, vocab_size: int) -> RNNClassifier:
    config = ClassifierConfig(
        cell=args.cell,
        hidden_size=args.hidden,
        bidirectional=True,
        pooling=args.pooling,
        length_mode=args.length_mode,
        adversarial_epsilon=args.adversarial_epsilon,
    )
    torch.manual_seed(0)
    return RNNClassifier(nn.Embedding(vocab_size, args.embedding_dim, padding_idx=0), 2, config)


def bare_loop(args: argparse.Namespace, shapes: list[tuple[int, int]], tokens: int) -> float:
    """Reference: nn.LSTM forward + backward over padded random batches of the same shapes; tokens/s."""
    torch.manual_seed(0)
    rnn_class = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[args.cell]
    rnn = rnn_class(args.embedding_dim, args.hidden, batch_first=True, bidirectional=True)
    inputs = [torch.randn(batch, steps, args.embedding_dim) for batch, steps in shapes]  # B x T x D each
    started = time.perf_counter()
    for x in inputs:
        bare_step(rnn, x, args.adversarial_epsilon).backward()
    return tokens / (time.perf_counter() - started)


def bare_step(rnn: nn.Module, x: Tensor, adversarial_epsilon: float = 0.0) -> Tensor:
    """The reference loop's loss for one batch ``x`` (B x T x D): the sum of the outputs, plus,
    with ``adversarial_epsilon`` > 0, their sum over inputs moved along its gradient (the same
    extra work as adversarial training: an input gradient and a second forward pass)."""
    if adversarial_epsilon > 0:
        x.requires_grad_()
    output, _ = rnn(x)  # B x T x 2H
    loss = output.sum()
    if adversarial_epsilon > 0:
        (direction,) = torch.autograd.grad(loss, x, retain_graph=True)  # B x T x D
        moved, _ = rnn(x + adversarial_epsilon * direction)  # B x T x 2H
        loss = loss + moved.sum()
    return loss


def our_stack(args: argparse.Namespace, data: Subset, vocab_size: int) -> float:
    """The classifier trained by Trainer.fit for one pass over the same examples; tokens/s."""
    model = build_model(args, vocab_size)
    config = TrainerConfig(
        batch_size=args.batch_size,
        max_epochs=1,
        metric="loss",
        log_every=10_000,
        tensorboard=False,
        plot=False,
        device="cpu",
        max_grad_norm=5.0,
    )
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        Trainer(config, folder).fit(model, data, None, collate=collate)
        seconds = time.perf_counter() - started
    return sum(data.lengths) / seconds


def inference(
    args: argparse.Namespace, predictor: ClassificationPredictor, texts: list[str], precision: str
) -> tuple[float, float]:
    """Sentences/s of predict (raw text in) and of the model alone (encoded batches in)."""
    started = time.perf_counter()
    predictor.predict(texts, batch_size=args.inference_batch_size, precision=precision)
    end_to_end = len(texts) / (time.perf_counter() - started)
    encoded = predictor.encode(texts)
    started = time.perf_counter()
    predict_examples(predictor.model, encoded, batch_size=args.inference_batch_size, precision=precision)
    model_only = len(texts) / (time.perf_counter() - started)
    return end_to_end, model_only


def precision_agreement(predictor: ClassificationPredictor, texts: list[str], precision: str) -> dict:
    """How far ``precision``'s probabilities are from fp32's on ``texts``."""
    reference = predictor.predict_proba(texts)
    other = predictor.predict_proba(texts, precision=precision)
    return {
        "max_probability_difference": float(np.abs(reference - other).max()),
        "label_agreement": float((reference.argmax(axis=1) == other.argmax(axis=1)).mean()),
    }


def use_unfused_adamw() -> None:
    """Swap the Trainer's optimizer factory for AdamW's per-parameter (unfused) update.

    For comparison only: the Trainer asks for the fused kernel, and this shows what that saves.
    """
    from nlp_rnn.training import trainer

    original = trainer.build_optimizer

    def build_unfused(model: nn.Module, config: TrainerConfig) -> torch.optim.Optimizer:
        optimizer = original(model, config)
        if not isinstance(optimizer, torch.optim.AdamW):
            return optimizer
        # Only the parameters and their decay: the other group keys would override fused=False.
        groups = [{"params": g["params"], "weight_decay": g["weight_decay"]} for g in optimizer.param_groups]
        return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas, eps=config.eps, fused=False)

    trainer.build_optimizer = build_unfused


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None, help="shared corpora folder (default: as the CLI)")
    parser.add_argument("--model", type=Path, default=None, help="a trained model folder for inference")
    parser.add_argument("--cell", choices=("lstm", "gru", "rnn"), default="lstm")
    parser.add_argument("--embedding-dim", type=int, default=300)
    parser.add_argument("--hidden", type=int, default=150, help="units per direction")
    parser.add_argument("--pooling", default="max", choices=("last", "max", "mean", "attention"))
    parser.add_argument("--length-mode", default="auto", choices=("auto", "packed", "masked"))
    parser.add_argument(
        "--adversarial-epsilon", type=float, default=0.0, help="train adversarially (both loops; 0: off)"
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=100, help="training batches per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="alternating measurements of each")
    parser.add_argument("--inference-sentences", type=int, default=20_000)
    parser.add_argument("--inference-batch-size", type=int, default=256)
    parser.add_argument(
        "--precisions",
        default="fp32,bf16",
        help="comma-separated inference precisions to measure (fp32, bf16), alternating",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument(
        "--unfused-adamw",
        action="store_true",
        help="comparison: give the Trainer AdamW's per-parameter update instead of its fused kernel",
    )
    parser.add_argument("--output", type=Path, default=None, help="write the results as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.unfused_adamw:
        use_unfused_adamw()
    examples, dev_texts, vocab, label_vocab, tokenizer = load_data(args)

    # A fixed sample of length-bucketed batches, as the Trainer would draw them.
    batches = bucket_batches(examples.lengths, args.batch_size, shuffle=True, seed=0)[: args.batches]
    indices = [i for batch in batches for i in batch]
    lengths = examples.lengths
    shapes = [(len(batch), max(lengths[i] for i in batch)) for batch in batches]
    tokens = sum(lengths[i] for i in indices)
    data = Subset(examples, indices)
    bare_loop(args, shapes[:5], 1)  # warm up the kernels and the one-off imports of both
    our_stack(args, Subset(examples, [i for batch in batches[:5] for i in batch]), len(vocab))
    bare, ours = [], []
    for repeat in range(args.repeats):
        bare.append(bare_loop(args, shapes, tokens))
        ours.append(our_stack(args, data, len(vocab)))
        print(
            f"repeat {repeat + 1}: bare {bare[-1]:,.0f} tokens/s, ours {ours[-1]:,.0f} tokens/s", flush=True
        )

    if args.model is not None:
        predictor = ClassificationPredictor.load(args.model)
    else:
        predictor = ClassificationPredictor(build_model(args, len(vocab)), tokenizer, vocab, label_vocab)
    texts = (dev_texts * (args.inference_sentences // len(dev_texts) + 1))[: args.inference_sentences]
    names = args.precisions.split(",")
    precisions = [check_precision(name.strip(), supported=FLOAT_PRECISIONS) for name in names]
    end_to_end: dict[str, list[float]] = {precision: [] for precision in precisions}
    model_only: dict[str, list[float]] = {precision: [] for precision in precisions}
    for precision in precisions:
        predictor.predict(texts[:1000], precision=precision)  # warm up
    for _ in range(args.repeats):
        for precision in precisions:
            e2e, alone = inference(args, predictor, texts, precision)
            end_to_end[precision].append(e2e)
            model_only[precision].append(alone)
    agreement = {p: precision_agreement(predictor, dev_texts, p) for p in precisions if p != "fp32"}

    bare_median, ours_median = statistics.median(bare), statistics.median(ours)
    mean_words = np.mean([len(text.split()) for text in texts])
    results = {
        "benchmark": "bench_classifier",
        "data": f"SST-2 train phrases: {len(batches)} batches of <= {args.batch_size}, {tokens} tokens; "
        f"inference: {len(texts)} SST-2 dev sentences (mean {mean_words:.1f} words)",
        "model": {
            "cell": args.cell,
            "embedding_dim": args.embedding_dim,
            "hidden_size": args.hidden,
            "bidirectional": True,
            "pooling": args.pooling,
            "length_mode": args.length_mode,
            "adversarial_epsilon": args.adversarial_epsilon,
            "vocab_size": len(vocab),
            "trained_model": str(args.model) if args.model else None,
        },
        "optimizer": "AdamW, per-parameter update (comparison)"
        if args.unfused_adamw
        else "AdamW as the Trainer builds it (fused)",
        "train_tokens_per_s": {"bare_lstm": bare, "ours": ours},
        "train_tokens_per_s_median": {"bare_lstm": round(bare_median), "ours": round(ours_median)},
        "train_slowdown_vs_bare": round(bare_median / ours_median, 3),
        "train_slowdown_vs_bare_paired": round(
            statistics.median(b / o for b, o in zip(bare, ours, strict=True)), 3
        ),
        "inference_sentences_per_s": {
            p: {"end_to_end": end_to_end[p], "model_only": model_only[p]} for p in precisions
        },
        "inference_sentences_per_s_median": {
            p: {
                "end_to_end": round(statistics.median(end_to_end[p])),
                "model_only": round(statistics.median(model_only[p])),
            }
            for p in precisions
        },
        "inference_agreement_with_fp32_on_dev": agreement,
        "environment": {
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
            "load_average": os.getloadavg(),
        },
    }
    print(
        f"training tokens/s (median of {args.repeats}): bare nn.LSTM {bare_median:,.0f}, "
        f"ours {ours_median:,.0f}: ours is {bare_median / ours_median:.2f}x slower "
        f"(median of the paired ratios: {results['train_slowdown_vs_bare_paired']:.2f}x)"
    )
    for precision, medians in results["inference_sentences_per_s_median"].items():
        print(
            f"inference sentences/s, {precision}: end to end {medians['end_to_end']:,}, "
            f"model only {medians['model_only']:,}"
        )
    for precision, found in agreement.items():
        print(
            f"{precision} against fp32 on the dev sentences: probabilities within "
            f"{found['max_probability_difference']:.2g}, labels agree on {found['label_agreement']:.2%}"
        )
    if args.output is not None:
        args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":
    main()
