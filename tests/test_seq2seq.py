"""The attention encoder-decoder: config, loss, the one-shot path against the step loop, the
incremental decoding API that search uses, bridge, tied embeddings, and that training lowers the loss."""

from __future__ import annotations

import pydantic
import pytest
import torch
import torch.nn.functional as F

from nlp_rnn.models.seq2seq import DecoderState, Seq2Seq, Seq2SeqConfig, drop_words
from nlp_rnn.tasks import WEIGHTS_FILE, load_weights_file, save_weights

PAD, BOS, EOS = 0, 2, 3
SOURCE_VOCAB, TARGET_VOCAB = 11, 13
SRC_LENGTHS = torch.tensor([7, 4, 1])  # unsorted lengths with the extremes 1 and S
TGT_LENGTHS = torch.tensor([3, 5, 1])  # target tokens before EOS
CELLS = ["gru", "lstm"]
LUONG = ["dot", "general", "concat"]
ATTENTIONS = ["bahdanau", *LUONG]


def small_config(**overrides) -> Seq2SeqConfig:
    settings = {
        "embedding_dim": 6,
        "encoder_hidden": 5,
        "encoder_layers": 2,
        "decoder_hidden": 10,  # = 2 x encoder_hidden, so dot attention fits
        "decoder_layers": 2,
        "dropout": 0.0,
        "embedding_dropout": 0.0,
        "label_smoothing": 0.0,
        **overrides,
    }
    return Seq2SeqConfig(**settings)


def make_model(seed: int = 0, source_vocab: int = SOURCE_VOCAB, **overrides) -> Seq2Seq:
    torch.manual_seed(seed)
    return Seq2Seq(
        small_config(**overrides),
        source_vocab_size=source_vocab,
        target_vocab_size=TARGET_VOCAB,
        bos_id=BOS,
        eos_id=EOS,
    )


def make_batch(seed: int = 0) -> dict[str, torch.Tensor]:
    """Right-padded sources and targets (ids 4.. are ordinary tokens) in the forward contract."""
    generator = torch.Generator().manual_seed(seed)
    batch, source, target = len(SRC_LENGTHS), int(SRC_LENGTHS.max()), int(TGT_LENGTHS.max())
    src = torch.randint(4, SOURCE_VOCAB, (batch, source), generator=generator)
    src = src * (torch.arange(source) < SRC_LENGTHS.unsqueeze(1))
    tokens = torch.randint(4, TARGET_VOCAB, (batch, target), generator=generator)
    tokens = tokens * (torch.arange(target) < TGT_LENGTHS.unsqueeze(1))
    tgt_in = torch.cat([torch.full((batch, 1), BOS), tokens], dim=1)  # B x T+1
    tgt_out = torch.cat([tokens, torch.zeros(batch, 1, dtype=torch.long)], dim=1)
    tgt_out[torch.arange(batch), TGT_LENGTHS] = EOS
    return {"src": src, "src_lengths": SRC_LENGTHS, "tgt_in": tgt_in, "tgt_out": tgt_out}


# --- config -----------------------------------------------------------------------------------


def test_config_rejects_unknown_keys_and_bad_values():
    with pytest.raises(pydantic.ValidationError, match="extra"):
        Seq2SeqConfig(hidden_size=3)
    with pytest.raises(pydantic.ValidationError):
        Seq2SeqConfig(cell="rnn")
    with pytest.raises(pydantic.ValidationError):
        Seq2SeqConfig(attention="cosine")


def test_config_every_field_is_described():
    assert all(field.description for field in Seq2SeqConfig.model_fields.values())


def test_config_dot_attention_needs_matching_sizes():
    with pytest.raises(pydantic.ValidationError, match="decoder_hidden == encoder_hidden x directions"):
        small_config(attention="dot", decoder_hidden=7)
    assert small_config(attention="dot", bidirectional=False, decoder_hidden=5).memory_size == 5


def test_shared_embeddings_need_one_vocabulary():
    with pytest.raises(ValueError, match="joint vocabulary"):
        make_model(share_source_target_embeddings=True)


# --- loss -------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("attention", ATTENTIONS)
@pytest.mark.parametrize("input_feeding", [False, True], ids=["no-feed", "feed"])
def test_forward_loss_and_gradients(cell, attention, input_feeding):
    model = make_model(cell=cell, attention=attention, input_feeding=input_feeding, label_smoothing=0.1)
    output = model(make_batch())
    assert output["tokens"].item() == int(TGT_LENGTHS.sum()) + len(TGT_LENGTHS)  # targets + EOS
    assert output["loss"].dim() == 0 and torch.isfinite(output["loss"])
    output["loss"].backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert not missing


def test_loss_is_mean_cross_entropy_over_real_target_tokens():
    model = make_model().eval()
    batch = make_batch()
    state = model.encode(batch["src"], batch["src_lengths"])
    logits = model.teacher_forced_logits(state, batch["tgt_in"])
    real = batch["tgt_out"] != PAD
    expected = F.cross_entropy(logits[real], batch["tgt_out"][real])
    torch.testing.assert_close(model(batch)["loss"], expected)


def test_label_smoothing_mixes_in_the_uniform_distribution():
    model = make_model(label_smoothing=0.2).eval()
    batch = make_batch()
    state = model.encode(batch["src"], batch["src_lengths"])
    real = batch["tgt_out"] != PAD
    log_probs = model.teacher_forced_logits(state, batch["tgt_in"])[real].log_softmax(-1)  # N x V
    nll = -log_probs.gather(1, batch["tgt_out"][real].unsqueeze(1)).squeeze(1)
    expected = (0.8 * nll - 0.2 * log_probs.mean(-1)).mean()
    torch.testing.assert_close(model(batch)["loss"], expected)


def test_extra_padding_changes_nothing():
    model = make_model(attention="bahdanau", input_feeding=True).eval()
    batch = make_batch()
    padded = {
        "src": F.pad(batch["src"], (0, 3)),
        "src_lengths": batch["src_lengths"],
        "tgt_in": F.pad(batch["tgt_in"], (0, 2)),
        "tgt_out": F.pad(batch["tgt_out"], (0, 2)),
    }
    torch.testing.assert_close(model(padded)["loss"], model(batch)["loss"])


# --- one shot against the step loop -------------------------------------------------------------


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("attention", LUONG)
def test_one_shot_equals_step_loop(cell, attention):
    model = make_model(cell=cell, attention=attention, input_feeding=False).eval()
    assert model.one_shot
    batch = make_batch()

    def logits_and_gradients(stepwise: bool):
        model.zero_grad()
        state = model.encode(batch["src"], batch["src_lengths"])
        logits = model.teacher_forced_logits(state, batch["tgt_in"], stepwise=stepwise)
        logits.log_softmax(-1).sum().backward()
        return logits.detach(), [p.grad.clone() for p in model.parameters()]

    one_shot, one_shot_grads = logits_and_gradients(stepwise=False)
    stepwise, stepwise_grads = logits_and_gradients(stepwise=True)
    torch.testing.assert_close(one_shot, stepwise, atol=1e-5, rtol=1e-5)
    for a, b in zip(one_shot_grads, stepwise_grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "attention, input_feeding", [("bahdanau", False), ("bahdanau", True), ("general", True)]
)
def test_step_loop_variants_are_not_one_shot(attention, input_feeding):
    assert not make_model(attention=attention, input_feeding=input_feeding).one_shot


# --- incremental decoding -----------------------------------------------------------------------


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("attention", ATTENTIONS)
@pytest.mark.parametrize("input_feeding", [False, True], ids=["no-feed", "feed"])
def test_decode_step_reproduces_teacher_forcing(cell, attention, input_feeding):
    model = make_model(cell=cell, attention=attention, input_feeding=input_feeding).eval()
    batch = make_batch()
    state = model.encode(batch["src"], batch["src_lengths"])
    expected = model.teacher_forced_logits(state, batch["tgt_in"]).log_softmax(-1)  # B x T x V
    mask = torch.arange(batch["src"].size(1)) < SRC_LENGTHS.unsqueeze(1)
    for t in range(batch["tgt_in"].size(1)):
        log_probs, state, weights = model.decode_step(batch["tgt_in"][:, t], state)
        torch.testing.assert_close(log_probs, expected[:, t], atol=1e-5, rtol=1e-5)
        assert torch.all(weights[~mask] == 0)
        torch.testing.assert_close(weights.sum(-1), torch.ones(len(SRC_LENGTHS)))


@pytest.mark.parametrize("cell", CELLS)
def test_encode_state_layout(cell):
    model = make_model(cell=cell).eval()
    batch = make_batch()
    state = model.encode(batch["src"], batch["src_lengths"])
    batch_size, source = batch["src"].shape
    assert state.source.memory.shape == (batch_size, source, 10)
    assert state.source.keys.shape == (batch_size, source, 10)
    assert torch.equal(state.source.mask, batch["src"] != PAD)
    assert torch.all(state.source.memory[~state.source.mask] == 0)
    assert state.hidden.shape == (2, batch_size, 10)
    assert (state.cell is not None) == (cell == "lstm")
    assert torch.equal(state.attentional, torch.zeros(batch_size, 10))


@pytest.mark.parametrize("cell", CELLS)
def test_index_select_and_reorder_commute_with_decode_step(cell):
    model = make_model(cell=cell, attention="general", input_feeding=True).eval()
    batch = make_batch()
    state = model.encode(batch["src"], batch["src_lengths"])
    state = model.decode_step(batch["tgt_in"][:, 0], state)[1]
    index = torch.tensor([2, 0, 0])
    selected = state.index_select(index)
    assert isinstance(selected, DecoderState)
    prev = batch["tgt_in"][:, 1]
    log_probs, _, weights = model.decode_step(prev, state)
    selected_log_probs, _, selected_weights = model.decode_step(prev[index], selected)
    torch.testing.assert_close(selected_log_probs, log_probs[index])
    torch.testing.assert_close(selected_weights, weights[index])
    # reorder moves the recurrent rows only: the source stays where it was
    reordered = state.reorder(torch.tensor([1, 0, 2]))
    assert reordered.source is state.source
    assert torch.equal(reordered.hidden[:, 0], state.hidden[:, 1])
    assert torch.equal(reordered.attentional[1], state.attentional[0])


# --- bridge and embeddings ------------------------------------------------------------------------


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("encoder_layers, decoder_layers", [(1, 1), (2, 1), (1, 3), (2, 2)])
def test_bridge_maps_any_encoder_depth_to_any_decoder_depth(
    cell, bidirectional, encoder_layers, decoder_layers
):
    model = make_model(
        cell=cell,
        bidirectional=bidirectional,
        encoder_layers=encoder_layers,
        decoder_layers=decoder_layers,
        decoder_hidden=7,
        attention="general",
    ).eval()
    batch = make_batch()
    state = model.encode(batch["src"], batch["src_lengths"])
    assert state.hidden.shape == (decoder_layers, 3, 7)
    parts = [state.hidden] if cell == "gru" else [state.hidden, state.cell]
    for part in parts:
        assert part.abs().max() < 1 and part.abs().sum() > 0  # tanh of a linear map
    # the bridge reads the final states, so a different source gives a different start
    other = model.encode(batch["src"].flip(1) * (batch["src"] != PAD), batch["src_lengths"])
    assert not torch.allclose(other.hidden, state.hidden)


@pytest.mark.parametrize("cell", CELLS)
def test_zero_bridge_starts_from_zeros(cell):
    model = make_model(cell=cell, bridge="zero").eval()
    assert model.bridge is None
    batch = make_batch()
    state = model.encode(batch["src"], batch["src_lengths"])
    assert torch.equal(state.hidden, torch.zeros(2, 3, 10))
    assert cell == "gru" or torch.equal(state.cell, torch.zeros(2, 3, 10))


def test_tied_and_shared_embeddings_are_one_matrix():
    model = make_model(source_vocab=TARGET_VOCAB, tie_embeddings=True, share_source_target_embeddings=True)
    assert model.generator.weight is model.target_embedding.weight
    assert model.source_embedding is model.target_embedding
    assert model.output_projection.weight.shape == (6, 10)  # attentional vector -> embedding_dim
    names = {name for name, _ in model.named_parameters()}
    assert "generator.weight" not in names and "target_embedding.weight" not in names
    model(make_batch())["loss"].backward()
    assert model.source_embedding.weight.grad is not None


def test_saved_weights_keep_tied_and_shared_embeddings(tmp_path):
    options = {"source_vocab": TARGET_VOCAB, "tie_embeddings": True, "share_source_target_embeddings": True}
    model = make_model(**options).eval()
    save_weights(model, tmp_path)
    restored = make_model(seed=1, **options).eval()
    load_weights_file(restored, tmp_path / WEIGHTS_FILE)
    assert restored.generator.weight is restored.target_embedding.weight is restored.source_embedding.weight
    batch = make_batch()
    torch.testing.assert_close(restored(batch)["loss"], model(batch)["loss"])


# --- training -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "attention, input_feeding, stepwise",
    [
        ("general", False, False),
        ("general", False, True),
        ("general", True, False),
        ("bahdanau", False, False),
    ],
    ids=["one-shot", "luong-forced-steps", "input-feeding", "bahdanau"],
)
def test_both_training_paths_lower_the_loss(attention, input_feeding, stepwise):
    model = make_model(
        cell="gru",
        encoder_layers=1,
        decoder_layers=1,
        attention=attention,
        input_feeding=input_feeding,
        dropout=0.1,
        label_smoothing=0.1,
    )
    batch = make_batch()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)

    def loss() -> torch.Tensor:
        state = model.encode(batch["src"], batch["src_lengths"])
        logits = model.teacher_forced_logits(state, batch["tgt_in"], stepwise=stepwise)
        return F.cross_entropy(logits.flatten(0, 1), batch["tgt_out"].flatten(), ignore_index=PAD)

    first = loss().item()
    for _ in range(20):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
    assert loss().item() < 0.5 * first


# --- word dropout -----------------------------------------------------------------------------


def test_drop_words_zeroes_whole_vectors_and_spares_bos():
    torch.manual_seed(0)
    tokens = torch.randint(4, 50, (64, 40))
    embedded = torch.randn(64, 40, 8)
    dropped = drop_words(embedded, tokens, 0.3, keep_first=True)
    zeroed = (dropped == 0).all(-1)  # B x T
    assert not zeroed[:, 0].any()
    assert 0.25 < zeroed[:, 1:].float().mean().item() < 0.35
    kept = ~zeroed
    assert torch.equal(dropped[kept], embedded[kept])  # not rescaled


@pytest.mark.parametrize("side", ["source_word_dropout", "target_word_dropout"])
def test_word_dropout_is_off_in_eval_mode_and_at_zero(side):
    batch = make_batch()
    plain = make_model(seed=1)
    dropping = make_model(seed=1, **{side: 0.5})
    dropping.eval(), plain.eval()
    assert torch.equal(dropping(batch)["loss"], plain(batch)["loss"])
    zero = make_model(seed=1, **{side: 0.0}).train()
    torch.manual_seed(5)
    loss = plain.train()(batch)["loss"]
    draws = torch.rand(3)
    torch.manual_seed(5)
    assert torch.equal(zero(batch)["loss"], loss)
    assert torch.equal(torch.rand(3), draws)  # probability 0 draws no random numbers


def _other_words(ids: torch.Tensor, first: int, kinds: int) -> torch.Tensor:
    """``ids`` (B x T) with every real token from position ``first`` on replaced by another one."""
    changed = ids.clone()
    tail = changed[:, first:]
    changed[:, first:] = torch.where(tail > 0, 4 + (tail - 3) % kinds, 0)
    assert not torch.equal(changed, ids)
    return changed


@pytest.mark.parametrize(
    ("side", "key", "first", "kinds"),
    [("source_word_dropout", "src", 0, 7), ("target_word_dropout", "tgt_in", 1, 9)],
)
def test_word_dropout_hides_the_words(side, key, first, kinds):
    """With (almost) every word dropped, the training loss does not depend on which words the
    source, or the decoder's inputs after BOS, had; in eval mode it does."""
    batch = make_batch()
    other = dict(batch, **{key: _other_words(batch[key], first, kinds)})
    model = make_model(seed=1, **{side: 0.999999}).train()
    torch.manual_seed(2)
    loss = model(batch)["loss"]
    torch.manual_seed(2)
    assert torch.allclose(model(other)["loss"], loss)
    model.eval()
    assert not torch.allclose(model(other)["loss"], model(batch)["loss"])
