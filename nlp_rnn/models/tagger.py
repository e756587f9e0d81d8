"""A many-to-many sequence tagger: word + character features -> stacked BiLSTM -> one softmax per tag set.

Each word is represented by the concatenation of

* a **pretrained** vector (word2vec, looked up lowercased, kept frozen), which knows words the
  treebank never shows: most words unseen in training have one;
* a **trainable** embedding of the training words seen at least ``word_min_freq`` times, which
  learns what the treebank says about frequent words; during training a share
  ``word_dropout`` of them is replaced by ``<unk>`` so that the model learns to tag from the other
  parts when a word is unknown;
* **character** features: a CNN over the word's characters (with begin/end-of-word marks) and max
  pooling over positions (Ma and Hovy 2016), which sees suffixes, capitals, digits and hyphens.

Characters are encoded once per distinct word form in the batch (``chars``: U x L) and gathered
back to the sentence positions (``form_index``: B x T), so a frequent word costs one CNN pass per
batch, not one per occurrence.

The stacked bidirectional encoder (:class:`~nlp_rnn.models.encoder.RNNEncoder`) reads the word
vectors; a linear layer per tag set (UPOS and, optionally, XPOS) reads its outputs. Training
minimises the sum of the tag sets' mean cross-entropies over real words (multi-task learning).
With ``crf: true`` each tag set's scores feed a linear-chain CRF instead
(:mod:`nlp_rnn.models.crf`): the loss is its negative log-likelihood per word and tags are
decoded with Viterbi.
"""

from __future__ import annotations

from typing import Literal

import pydantic
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nlp_rnn.config import Schema
from nlp_rnn.models import bilstm_inference
from nlp_rnn.models.adversarial import adversarial_loss
from nlp_rnn.models.crf import IGNORE, LinearChainCRF
from nlp_rnn.models.encoder import RNNEncoder

__all__ = ["IGNORE", "CharCNN", "RNNTagger", "TaggerConfig"]


# Below this many words a call is faster through the encoder's own kernels than through the
# per-form path's step loop on the CPU (2 AVX2 cores, the 2x200 EWT tagger: requests of 128
# sentences, about 1,600 words, 1.32x faster; of 256, about 3,200 words, 1.15x slower;
# scripts/bench_tagger_shapes.py --paths per-form encoder --request-sentences N).
PER_FORM_MIN_WORDS = 2048


class TaggerConfig(Schema):
    """The architecture of :class:`RNNTagger` (the ``model:`` section of a train_tagger stage)."""

    word_dim: int = pydantic.Field(100, ge=0, description="trainable embedding of training words (0: none)")
    word_min_freq: int = pydantic.Field(
        2, ge=1, description="training words seen this often get a trainable row"
    )
    word_dropout: float = pydantic.Field(
        0.1, ge=0, lt=1, description="training: share of trainable word ids replaced by <unk>"
    )
    char_dim: int = pydantic.Field(32, ge=1, description="character embedding size")
    char_filters: int = pydantic.Field(
        100, ge=0, description="character CNN filters per width (0: no character features)"
    )
    char_widths: list[int] = pydantic.Field([3], min_length=1, description="character CNN window widths")
    max_word_chars: int = pydantic.Field(
        30, ge=4, description="longer words keep their first and last max_word_chars/2 characters"
    )
    cell: Literal["rnn", "lstm", "gru"] = pydantic.Field("lstm", description="recurrent cell")
    hidden_size: int = pydantic.Field(200, ge=1, description="units per direction and layer")
    num_layers: int = pydantic.Field(2, ge=1, description="stacked bidirectional layers")
    embedding_dropout: float = pydantic.Field(0.33, ge=0, lt=1, description="dropout on the word vectors")
    dropout: float = pydantic.Field(0.33, ge=0, lt=1, description="dropout between recurrent layers")
    output_dropout: float = pydantic.Field(0.33, ge=0, lt=1, description="dropout on the encoder outputs")
    length_mode: Literal["auto", "packed", "masked"] = pydantic.Field(
        "auto", description="how the encoder skips padding (see nlp_rnn.models.encoder)"
    )
    crf: bool = pydantic.Field(
        False, description="a linear-chain CRF over each tag set's scores, decoded with Viterbi"
    )
    adversarial_epsilon: float = pydantic.Field(
        0.0, ge=0, description="adversarial step, in the sentence's RMS word-vector norms (0: off)"
    )
    adversarial_weight: float = pydantic.Field(
        1.0, ge=0, description="adversarial training: the weight of the perturbed sentences' loss"
    )

    @pydantic.field_validator("char_widths")
    @classmethod
    def _odd_widths(cls, widths: list[int]) -> list[int]:
        if any(width < 1 or width % 2 == 0 for width in widths):
            raise ValueError(f"char_widths must be odd positive numbers (centred windows), got {widths}")
        return widths


class CharCNN(nn.Module):
    """Character features of word forms: embedding -> 1-d convolutions -> ReLU -> max over positions.

    Each convolution runs as one matrix product over the stacked shifted windows (``U*L x k*C``
    by ``k*C x F``), several times faster on a CPU than a direct 1-d convolution at these sizes.
    """

    def __init__(self, num_chars: int, char_dim: int, filters: int, widths: list[int]) -> None:
        super().__init__()
        self.embedding = nn.Embedding(num_chars, char_dim, padding_idx=0)
        self.convs = nn.ModuleList(
            nn.Conv1d(char_dim, filters, width, padding=width // 2) for width in widths
        )
        self.output_size = filters * len(widths)

    def forward(self, chars: Tensor) -> Tensor:
        """``chars``: U x L character ids (0 = padding) -> U x F features."""
        forms, length = chars.shape
        # Forms are right-padded: when every last column is a character, there is no padding
        # (the tagger's inference computes forms of one length at a time).
        padding = (chars == 0).unsqueeze(-1) if bool((chars[:, -1] == 0).any()) else None  # U x L x 1
        embedded = self.embedding(chars)  # U x L x C
        features = []
        for conv in self.convs:
            width = conv.kernel_size[0]
            padded = F.pad(embedded, (0, 0, width // 2, width // 2))  # U x (L + k - 1) x C
            windows = torch.cat([padded[:, j : j + length] for j in range(width)], dim=-1)  # U x L x k*C
            kernel = conv.weight.permute(0, 2, 1).reshape(conv.out_channels, -1)  # F x k*C, same order
            scores = torch.addmm(conv.bias, windows.flatten(0, 1), kernel.t()).view(forms, length, -1)
            if padding is not None:  # every form has real positions (its begin and end marks)
                scores = scores.masked_fill(padding, float("-inf"))  # U x L x F
            # ReLU is monotone, so the maximum goes first and the ReLU runs over U x F only.
            features.append(F.relu(scores.amax(dim=1)))  # U x F
        return torch.cat(features, dim=1)  # U x F*widths


class RNNTagger(nn.Module):
    """Tags every word of right-padded sentences.

    ``forward(batch)`` takes ``words`` and ``pretrained`` (B x T ids, padding 0), ``chars``
    (U x L) and ``form_index`` (B x T, into the rows of ``chars``), ``lengths`` (B) and, for
    training, the targets ``upos`` and ``xpos`` (B x T, ``-100`` at padding; an id >= the tag set's
    size marks a gold tag the model does not know, which counts as wrong but adds no loss). It
    returns ``upos_logits`` (B x T x K) and ``xpos_logits`` and, with targets, ``loss``;
    :meth:`best_tags` turns the logits into tags (argmax, or Viterbi with a CRF).
    """

    def __init__(
        self,
        config: TaggerConfig,
        *,
        pretrained: nn.Embedding | None,
        num_words: int,
        num_chars: int,
        num_upos: int,
        num_xpos: int,
    ) -> None:
        super().__init__()
        if num_upos < 1:
            raise ValueError("a tagger needs at least one UPOS tag")
        self.config = config
        self.num_upos, self.num_xpos = num_upos, num_xpos
        size = 0
        self.pretrained = pretrained
        if pretrained is not None:
            pretrained.weight.requires_grad_(False)
            size += pretrained.embedding_dim
        self.words = nn.Embedding(num_words, config.word_dim, padding_idx=0) if config.word_dim else None
        size += config.word_dim
        self.chars = (
            CharCNN(num_chars, config.char_dim, config.char_filters, config.char_widths)
            if config.char_filters
            else None
        )
        size += self.chars.output_size if self.chars is not None else 0
        if size == 0:
            raise ValueError("the tagger has no input features: give vectors, word_dim or char_filters")
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        self.encoder = RNNEncoder(
            size,
            config.hidden_size,
            cell=config.cell,
            num_layers=config.num_layers,
            bidirectional=True,
            dropout=config.dropout,
            length_mode=config.length_mode,
        )
        self.output_dropout = nn.Dropout(config.output_dropout)
        self.upos = nn.Linear(self.encoder.output_size, num_upos)
        self.xpos = nn.Linear(self.encoder.output_size, num_xpos) if num_xpos else None
        self.upos_crf = LinearChainCRF(num_upos) if config.crf else None
        self.xpos_crf = LinearChainCRF(num_xpos) if config.crf and num_xpos else None
        # Eval-mode batches through the per-form path (form_projections, then the step loop of
        # bilstm_inference): True, False, or None for where it was measured faster, the CPU with
        # batches of PER_FORM_MIN_WORDS words or more; on a GPU cuDNN runs each whole layer in one
        # call, and so do small batches on the CPU (scripts/bench_tagger_shapes.py --paths).
        self.per_form_inference: bool | None = None

    def word_vectors(self, batch: dict[str, Tensor]) -> Tensor:
        """The concatenated word representations, B x T x D."""
        parts = []
        if self.pretrained is not None:
            parts.append(self.pretrained(batch["pretrained"]))  # B x T x P
        if self.words is not None:
            words = batch["words"]  # B x T
            if self.training and self.config.word_dropout:
                drop = torch.rand(words.shape, device=words.device) < self.config.word_dropout
                words = words.masked_fill(drop & (words > 0), 1)  # 1 = <unk>; padding stays 0
            parts.append(self.words(words))  # B x T x W
        if self.chars is not None:
            per_form = self.chars(batch["chars"])  # U x F
            parts.append(per_form[batch["form_index"]])  # B x T x F
        return torch.cat(parts, dim=-1)

    def form_vectors(self, batch: dict[str, Tensor]) -> Tensor:
        """The word representations of the batch's distinct forms, U x D (no dropout)."""
        parts = []
        if self.pretrained is not None:
            parts.append(self.pretrained(batch["form_pretrained"]))  # U x P
        if self.words is not None:
            parts.append(self.words(batch["form_words"]))  # U x W
        if self.chars is not None:
            parts.append(self.chars(batch["chars"]))  # U x F
        return torch.cat(parts, dim=-1)

    def form_projections(self, batch: dict[str, Tensor]) -> Tensor:
        """Eval mode, bidirectional LSTM: the first layer's input products of the batch's distinct
        forms (``form_words``, ``form_pretrained``, ``chars``), U x 8H."""
        weight, bias = bilstm_inference.first_layer_weights(self.encoder)  # 8H x D, 8H
        return torch.addmm(bias, self.form_vectors(batch), weight.t())

    def tag_logits(
        self,
        per_form: Tensor,
        form_index: Tensor,
        lengths: Tensor,
        product_dtype: torch.dtype = torch.float32,
    ) -> dict[str, Tensor]:
        """Eval mode: ``upos_logits`` (and ``xpos_logits``) from :meth:`form_projections` (U x 8H)
        and the B x T ids into them, with the same result as :meth:`forward` (up to bf16 rounding
        with ``product_dtype=torch.bfloat16``, which multiplies in bf16 above the first layer's
        input products)."""
        sequence = bilstm_inference.encode_forms(
            self.encoder, per_form, form_index, lengths, product_dtype
        )  # B x T x 2H
        return self._heads(sequence)

    def fast_inference(self, words: int | None = None, bf16: bool = False) -> bool:
        """Whether eval-mode batches of ``words`` words (None: many) run through
        :meth:`form_projections` and :meth:`tag_logits`. Chosen automatically, the per-form path
        runs on the CPU for at least :data:`PER_FORM_MIN_WORDS` words, and for bf16 products,
        which only it computes there."""
        wanted = self.per_form_inference
        if wanted is None:
            many = bf16 or words is None or words >= PER_FORM_MIN_WORDS
            wanted = self.upos.weight.device.type == "cpu" and many
        return wanted and not self.training and bilstm_inference.supports(self.encoder)

    def _heads(self, sequence: Tensor) -> dict[str, Tensor]:
        output = {"upos_logits": self.upos(sequence)}  # B x T x K_upos
        if self.xpos is not None:
            output["xpos_logits"] = self.xpos(sequence)  # B x T x K_xpos
        return output

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        if "upos" in batch and self.training and self.config.adversarial_epsilon > 0:
            return self._adversarial_forward(batch)
        per_form = "form_words" in batch and not self.training  # (no count, so no sync, in training)
        if per_form and self.fast_inference(int(batch["lengths"].sum())):  # the same result, per form
            output = self.tag_logits(self.form_projections(batch), batch["form_index"], batch["lengths"])
        else:
            output = self._scores(self.word_vectors(batch), batch["lengths"])
        if "upos" in batch:
            output["loss"] = self._loss(output, batch)
        return output

    def _scores(self, vectors: Tensor, lengths: Tensor) -> dict[str, Tensor]:
        """Tag scores (B x T x K each) from word vectors B x T x D (training: dropouts applied)."""
        sequence = self.encoder(self.embedding_dropout(vectors), lengths, final_states=False).sequence
        return self._heads(self.output_dropout(sequence))  # from B x T x 2H

    def _loss(self, output: dict[str, Tensor], batch: dict[str, Tensor]) -> Tensor:
        loss = _tag_loss(output["upos_logits"], batch["upos"], self.upos_crf)
        if self.xpos is not None and "xpos" in batch:
            loss = loss + _tag_loss(output["xpos_logits"], batch["xpos"], self.xpos_crf)
        return loss

    def _adversarial_forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """The clean loss plus ``adversarial_weight`` times the loss of the sentences whose word
        vectors (pretrained, trained and character features together) moved adversarially."""

        def scored(vectors: Tensor) -> tuple[dict[str, Tensor], Tensor]:
            output = self._scores(vectors, batch["lengths"])  # B x T x K each
            return output, self._loss(output, batch)

        epsilon, weight = self.config.adversarial_epsilon, self.config.adversarial_weight
        output, loss = adversarial_loss(self.word_vectors(batch), batch["lengths"], epsilon, weight, scored)
        output["loss"] = loss
        return output

    def best_tags(self, output: dict[str, Tensor], lengths: Tensor) -> dict[str, Tensor]:
        """``upos`` (and ``xpos``): B x T tag ids from :meth:`forward`'s or :meth:`tag_logits`'
        output, each word's best tag or, with a CRF, the best sequence's."""
        tags = {}
        for name, crf in (("upos", self.upos_crf), ("xpos", self.xpos_crf)):
            logits = output.get(f"{name}_logits")  # B x T x K
            if logits is not None:
                tags[name] = crf.decode(logits, lengths) if crf is not None else logits.argmax(-1)
        return tags


def _tag_loss(logits: Tensor, targets: Tensor, crf: LinearChainCRF | None) -> Tensor:
    """Mean cross-entropy over real words whose gold tag the model knows (B x T x K, B x T), or
    the CRF's negative log-likelihood per word."""
    if crf is not None:
        return crf.nll(logits, targets)
    known = targets.masked_fill(targets >= logits.size(-1), IGNORE)
    if bool((known == IGNORE).all()):
        return logits.sum() * 0.0  # nothing to learn from; keeps the graph for DDP
    return F.cross_entropy(logits.flatten(0, 1), known.flatten(), ignore_index=IGNORE)
