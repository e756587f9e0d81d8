"""Lesson 9: the weighted sequence loss: cross-entropy averaged over real tokens only.

TensorFlow (``tf.contrib.seq2seq.sequence_loss``, later ``tfa.seq2seq.sequence_loss``)::

    weights = tf.sequence_mask(lengths, T, dtype=tf.float32)       # 1 at real tokens, 0 at padding
    loss = sequence_loss(logits, targets, weights)                 # sum(ce * w) / sum(w)

PyTorch: ``F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=pad_id)``, which is
what nlp-rnn's models use (``Seq2Seq`` with ``pad_id``, ``RNNTagger`` with -100 at padding).

    python scripts/lessons/09_weighted_sequence_loss.py
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from _common import format_table, heading, run_lesson, shape
from torch import Tensor

from nlp_rnn.models.seq2seq import Seq2Seq, Seq2SeqConfig
from nlp_rnn.training.seeding import seed_everything

PAD = 0
TARGETS = torch.tensor([[3, 5, 2, 4, 1], [2, 4, 0, 0, 0]])  # B x T = 2 x 5, the second row padded
VOCAB = 6


def token_losses(logits: Tensor, targets: Tensor) -> Tensor:
    """Cross-entropy at every position, B x T (logits B x T x V)."""
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none").view(targets.shape)


def sequence_loss(logits: Tensor, targets: Tensor, weights: Tensor) -> Tensor:
    """TensorFlow's ``sequence_loss`` averaged across time steps and batch: sum(ce * w) / sum(w)."""
    return (token_losses(logits, targets) * weights).sum() / weights.sum()


def main(seed: int = 0) -> dict[str, Any]:
    seed_everything(seed)
    logits = torch.randn(*TARGETS.shape, VOCAB)  # 2 x 5 x 6
    weights = (TARGETS != PAD).float()  # 2 x 5: the 0/1 padding mask
    heading("per-token cross-entropy and the weights")
    print(f"logits {shape(logits)}, targets {TARGETS.tolist()}, weights {weights.int().tolist()}")
    ce = token_losses(logits, TARGETS)  # 2 x 5
    rows = [[f"row {b}", *(f"{value:.4f}" for value in ce[b].tolist())] for b in range(ce.size(0))]
    print(format_table(rows, ["", *(f"t={t}" for t in range(ce.size(1)))]))
    print("(the padding positions have a loss too: the target id 0 is scored like any other)")

    heading("sequence_loss = sum(ce * w) / sum(w)")
    loss = sequence_loss(logits, TARGETS, weights)
    real_mean = ce[weights.bool()].mean()
    ignore_index = F.cross_entropy(logits.flatten(0, 1), TARGETS.flatten(), ignore_index=PAD)
    plain_mean = ce.mean()
    print(f"sequence_loss                       {loss:.6f}")
    print(f"mean over the 7 real tokens         {real_mean:.6f}")
    print(f"F.cross_entropy(ignore_index=0)     {ignore_index:.6f}")
    print(f"plain mean over all 10 positions    {plain_mean:.6f}  (counts the padding: wrong)")

    heading("changing the logits at padded positions changes nothing")
    noisy = logits.clone()
    noisy[~weights.bool()] = 100 * torch.randn(int((weights == 0).sum()), VOCAB)  # garbage at padding
    noisy_loss = sequence_loss(noisy, TARGETS, weights)
    noisy_ignore = F.cross_entropy(noisy.flatten(0, 1), TARGETS.flatten(), ignore_index=PAD)
    padding_invariant = torch.equal(noisy_loss, loss)
    print(f"sequence_loss {noisy_loss:.6f} (identical: {padding_invariant}), ignore_index {noisy_ignore:.6f}")
    print(f"the plain mean moves: {plain_mean:.6f} -> {token_losses(noisy, TARGETS).mean():.6f}")
    print("and the gradient at padding is exactly zero, so padding never trains the model:")
    noisy.requires_grad_()
    sequence_loss(noisy, TARGETS, weights).backward()
    padding_grad_zero = bool((noisy.grad[~weights.bool()] == 0).all())
    print(f"  d loss / d logits at padding all zero: {padding_grad_zero}")

    heading("average_across_batch=False: one mean per sequence")
    per_sequence = (ce * weights).sum(dim=1) / weights.sum(dim=1)  # B
    means = [round(value, 6) for value in per_sequence.tolist()]
    print(f"per-sequence means {means}, their mean {per_sequence.mean():.6f}")
    print("differs from the token mean when the lengths differ: each sequence then counts once")

    heading("nlp-rnn's Seq2Seq loss is this loss")
    config = Seq2SeqConfig(
        embedding_dim=8,
        cell="gru",
        encoder_hidden=8,
        encoder_layers=1,
        decoder_hidden=8,
        decoder_layers=1,
        dropout=0.0,
        embedding_dropout=0.0,
        label_smoothing=0.0,
    )
    model = Seq2Seq(config, source_vocab_size=VOCAB, target_vocab_size=VOCAB, bos_id=2, eos_id=3).eval()
    batch = {
        "src": torch.tensor([[4, 5, 1], [5, 1, 0]]),
        "src_lengths": torch.tensor([3, 2]),
        "tgt_in": torch.tensor([[2, 5, 4, 1], [2, 4, 0, 0]]),
        "tgt_out": torch.tensor([[5, 4, 1, 3], [4, 3, 0, 0]]),
    }
    with torch.no_grad():
        model_loss = model(batch)["loss"]
        model_logits = model.teacher_forced_logits(
            model.encode(batch["src"], batch["src_lengths"]), batch["tgt_in"]
        )
    ours = sequence_loss(model_logits, batch["tgt_out"], (batch["tgt_out"] != PAD).float())
    seq2seq_error = float((model_loss - ours).abs())
    print(f"Seq2Seq(...)(batch)['loss'] {model_loss:.6f}, sequence_loss of its logits {ours:.6f}")
    return {
        "token_losses": ce.tolist(),
        "sequence_loss": float(loss),
        "real_mean": float(real_mean),
        "ignore_index": float(ignore_index),
        "plain_mean": float(plain_mean),
        "noisy_sequence_loss": float(noisy_loss),
        "noisy_ignore_index": float(noisy_ignore),
        "padding_invariant": padding_invariant,
        "padding_grad_zero": padding_grad_zero,
        "per_sequence": per_sequence.tolist(),
        "seq2seq_error": seq2seq_error,
    }


if __name__ == "__main__":
    run_lesson(main, __doc__)
