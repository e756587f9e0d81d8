"""Lesson 3: an Embedding layer is a one-hot vector times a weight matrix.

Keras::

    Embedding(input_dim=8, output_dim=3)(ids)      ==  one_hot(ids, 8) @ W      # W: 8 x 3

nlp-rnn builds embeddings with ``nlp_rnn.embeddings.embedding_layer`` (``random_embedding``,
``one_hot_embedding``, word2vec vectors); each is a ``torch.nn.Embedding``, a table lookup.

    python scripts/lessons/03_embedding_is_one_hot_matmul.py
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from _common import heading, rounded, run_lesson, shape

from nlp_rnn.embeddings.embedding_layer import one_hot_embedding, random_embedding
from nlp_rnn.training.seeding import seed_everything

VOCAB_SIZE, DIM = 8, 3
IDS = torch.tensor([[4, 2, 2, 5], [1, 3, 0, 0]])  # 2 x 4: id 2 twice, 6 and 7 never; 0 is padding


def main(seed: int = 0) -> dict[str, Any]:
    seed_everything(seed)
    embedding = random_embedding(VOCAB_SIZE, DIM, padding_idx=None, seed=seed)  # a plain lookup table
    weight = embedding.weight  # 8 x 3, the matrix W
    heading("the weight matrix W (vocabulary x dimension)")
    for index, row in enumerate(rounded(weight)):
        print(f"  row {index}: {row}")

    heading("lookup vs one-hot times W")
    one_hot = F.one_hot(IDS, VOCAB_SIZE).float()  # 2 x 4 x 8
    looked_up = embedding(IDS)  # 2 x 4 x 3
    multiplied = one_hot @ weight  # 2 x 4 x 3
    print(f"ids {IDS.tolist()}: shape {shape(IDS)}")
    print(f"one_hot(ids) {shape(one_hot)} @ W {shape(weight)} -> {shape(multiplied)}")
    print(f"embedding(ids) -> {shape(looked_up)}")
    print(f"one_hot(ids)[0, 0] = {one_hot[0, 0].int().tolist()} picks row 4: {rounded(multiplied[0, 0])}")
    values_equal = torch.equal(looked_up, multiplied)
    print(f"identical, bit for bit: {values_equal} (a 1 times a value plus zeros is the value)")

    heading("the gradients agree too")
    target = torch.randn(looked_up.shape)  # 2 x 4 x 3: any loss will do
    (looked_up * target).sum().backward()
    lookup_grad = weight.grad.clone()  # 8 x 3
    weight.grad = None
    (multiplied * target).sum().backward()  # the same loss through the matrix product
    grad_error = float((weight.grad - lookup_grad).abs().max())
    print(f"largest difference of dLoss/dW, lookup vs matrix product: {grad_error:.1e}")
    unused = sorted(set(range(VOCAB_SIZE)) - set(IDS.flatten().tolist()))  # [6, 7]
    unused_zero = bool((lookup_grad[unused] == 0).all())
    print(f"rows {unused}, ids the batch never uses, get a zero gradient: {unused_zero}")
    print("row 2, used twice, gets the sum of both positions' gradients:")
    row_two = target[0, 1] + target[0, 2]  # positions of id 2
    row_two_equal = torch.allclose(lookup_grad[2], row_two)
    print(f"  grad W[2] = {rounded(lookup_grad[2])} = target[0, 1] + target[0, 2]: {row_two_equal}")

    heading("the frozen one-hot embedding of lesson 5")
    frozen = one_hot_embedding(VOCAB_SIZE, padding_idx=0)  # W = identity, row 0 (padding) zero
    identity = torch.eye(VOCAB_SIZE)
    identity[0] = 0.0
    frozen_is_one_hot = torch.equal(frozen(IDS), F.one_hot(IDS, VOCAB_SIZE).float() @ identity)
    trainable = frozen.weight.requires_grad
    print(f"one_hot_embedding({VOCAB_SIZE}): W is the identity (padding row zero), trainable: {trainable}")
    print(f"its lookup equals one_hot(ids) with the padding id zeroed: {frozen_is_one_hot}")
    return {
        "one_hot_shape": shape(one_hot),
        "embedding_shape": shape(looked_up),
        "values_equal": values_equal,
        "grad_error": grad_error,
        "unused_rows": unused,
        "unused_rows_zero_grad": unused_zero,
        "repeated_id_grad_is_sum": row_two_equal,
        "frozen_is_one_hot": frozen_is_one_hot,
        "frozen_trainable": trainable,
    }


if __name__ == "__main__":
    run_lesson(main, __doc__)
