"""The tagger model: shapes, the loss over real words only, character features, and the
inference path from per-form projections against the ordinary encoder."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nlp_rnn.models import bilstm_inference
from nlp_rnn.models.encoder import RNNEncoder
from nlp_rnn.models.tagger import IGNORE, CharCNN, RNNTagger, TaggerConfig


def make_batch(batch: int = 3, steps: int = 5, forms: int = 7, chars: int = 6) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    lengths = torch.tensor([steps, 2, 1][:batch])
    real = torch.arange(steps) < lengths[:, None]
    form_index = torch.randint(0, forms, (batch, steps), generator=generator) * real
    form_words = torch.randint(1, 9, (forms,), generator=generator)
    form_pretrained = torch.randint(1, 11, (forms,), generator=generator)
    char_ids = torch.randint(1, 12, (forms, chars), generator=generator)
    char_ids[0, 3:] = 0  # a short form
    upos = torch.randint(0, 4, (batch, steps), generator=generator).masked_fill(~real, IGNORE)
    return {
        "words": form_words[form_index] * real,
        "pretrained": form_pretrained[form_index] * real,
        "form_index": form_index,
        "form_words": form_words,
        "form_pretrained": form_pretrained,
        "chars": char_ids,
        "lengths": lengths,
        "upos": upos,
        "xpos": upos.clone(),
    }


def make_tagger(**overrides) -> RNNTagger:
    torch.manual_seed(0)
    settings = {
        "word_dim": 6,
        "char_dim": 4,
        "char_filters": 5,
        "hidden_size": 8,
        "num_layers": 2,
        **overrides,
    }
    config = TaggerConfig(**settings)
    return RNNTagger(
        config,
        pretrained=nn.Embedding(11, 3, padding_idx=0),
        num_words=9,
        num_chars=12,
        num_upos=4,
        num_xpos=4,
    )


def test_outputs_have_one_distribution_per_word_and_tag_set() -> None:
    tagger = make_tagger()
    output = tagger(make_batch())
    assert output["upos_logits"].shape == (3, 5, 4)
    assert output["xpos_logits"].shape == (3, 5, 4)
    assert output["loss"].ndim == 0 and output["loss"] > 0


def test_loss_ignores_padding_and_tags_the_model_does_not_know() -> None:
    tagger = make_tagger().eval()
    batch = make_batch()
    reference = tagger(batch)["loss"]
    changed = dict(batch)
    for name in ("upos", "xpos"):
        targets = batch[name].clone()
        targets[2, 1:] = 3  # padding positions of the third sentence get some tag ...
        changed[name] = targets.masked_fill(batch[name] == IGNORE, IGNORE)  # ... then are masked again
    assert torch.allclose(tagger(changed)["loss"], reference)
    unknown = dict(batch)
    unknown["upos"] = batch["upos"].masked_fill(batch["upos"] != IGNORE, 4)  # id 4 = unseen in training
    unknown["xpos"] = unknown["upos"]
    assert tagger(unknown)["loss"] == 0.0


def test_char_cnn_ignores_padding_of_short_forms() -> None:
    torch.manual_seed(0)
    cnn = CharCNN(num_chars=10, char_dim=4, filters=3, widths=[3, 5])
    short = torch.tensor([[2, 5, 6, 3]])
    padded = torch.tensor([[2, 5, 6, 3, 0, 0, 0]])
    assert cnn.output_size == 6
    assert torch.allclose(cnn(short), cnn(padded))


@pytest.mark.parametrize("padded", [True, False])
def test_char_cnn_equals_relu_mask_and_max_with_the_same_gradients(padded: bool) -> None:
    torch.manual_seed(1)
    cnn = CharCNN(num_chars=10, char_dim=4, filters=6, widths=[1, 3])
    with torch.no_grad():
        cnn.convs[0].bias -= 5  # some filters negative everywhere: their ReLU output is 0
    chars = torch.randint(1, 10, (5, 7))
    if padded:
        chars[0, 4:] = 0
        chars[3, 2:] = 0

    def reference(module: CharCNN) -> torch.Tensor:  # the textbook form: ReLU, zero padding, max
        embedded = module.embedding(chars).transpose(1, 2)  # U x C x L
        real = (chars != 0).unsqueeze(1)  # U x 1 x L
        outputs = [(torch.relu(conv(embedded)) * real).amax(dim=2) for conv in module.convs]
        return torch.cat(outputs, dim=1)

    ours = cnn(chars)
    expected = reference(cnn)
    assert torch.allclose(ours, expected, atol=1e-6) and (ours == 0).any()
    weights = torch.randn_like(ours)
    mine = torch.autograd.grad((ours * weights).sum(), list(cnn.parameters()))
    theirs = torch.autograd.grad((reference(cnn) * weights).sum(), list(cnn.parameters()))
    for a, b in zip(mine, theirs, strict=True):
        assert torch.allclose(a, b, atol=1e-5)


def test_even_char_widths_are_rejected() -> None:
    with pytest.raises(ValueError, match="odd"):
        TaggerConfig(char_widths=[2])


def test_a_tagger_needs_input_features() -> None:
    config = TaggerConfig(word_dim=0, char_filters=0)
    with pytest.raises(ValueError, match="no input features"):
        RNNTagger(config, pretrained=None, num_words=3, num_chars=3, num_upos=2, num_xpos=0)


def test_word_dropout_only_in_training_and_never_on_padding() -> None:
    tagger = make_tagger(word_dropout=0.99)
    batch = make_batch()
    seen = []
    tagger.words.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].clone()))
    tagger.train()(batch)
    tagger.eval()({key: value for key, value in batch.items() if key != "form_words"})  # the ordinary path
    dropped, kept = seen
    real = batch["words"] > 0
    assert (dropped[~real] == 0).all() and (dropped[real] == 1).float().mean() > 0.8
    assert torch.equal(kept, batch["words"])


@pytest.mark.parametrize("layers", [1, 2])
def test_inference_from_per_form_projections_equals_the_encoder(layers: int) -> None:
    tagger = make_tagger(num_layers=layers).eval()
    tagger.per_form_inference = True  # chosen automatically for larger batches only
    batch = make_batch()
    ordinary = {key: value for key, value in batch.items() if not key.startswith("form_")}
    ordinary["form_index"] = batch["form_index"]
    with torch.no_grad():
        fast = tagger(batch)
        slow = tagger(ordinary)  # without form_words: the ordinary encoder
    real = torch.arange(5) < batch["lengths"][:, None]
    for name in ("upos_logits", "xpos_logits"):
        assert torch.allclose(fast[name][real], slow[name][real], atol=1e-5)


def test_per_form_inference_runs_on_the_cpu_for_large_batches_by_default_and_can_be_chosen() -> None:
    from nlp_rnn.models.tagger import PER_FORM_MIN_WORDS

    tagger = make_tagger().eval()
    assert tagger.per_form_inference is None and tagger.fast_inference()
    assert tagger.fast_inference(PER_FORM_MIN_WORDS) and not tagger.fast_inference(PER_FORM_MIN_WORDS - 1)
    tagger.per_form_inference = False
    assert not tagger.fast_inference() and not tagger.fast_inference(10**6)
    tagger.per_form_inference = True
    assert tagger.fast_inference(1) and not tagger.train().fast_inference()
    if torch.cuda.is_available():
        on_gpu = make_tagger().eval().cuda()
        assert not on_gpu.fast_inference()  # cuDNN runs the whole layer
        on_gpu.per_form_inference = True
        assert on_gpu.fast_inference()


def random_encoder(sizes: list[int]) -> tuple[RNNEncoder, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A BiLSTM of ``sizes`` in eval mode, random inputs (4 x 7 x 4), their lengths and the first
    layer's input products (4 x 7 x 8H)."""
    torch.manual_seed(1)
    encoder = RNNEncoder(4, sizes, cell="lstm", bidirectional=True).eval()
    inputs = torch.randn(4, 7, 4)
    lengths = torch.tensor([7, 3, 5, 1])
    weight, bias = bilstm_inference.first_layer_weights(encoder)
    projections = torch.addmm(bias, inputs.flatten(0, 1), weight.t()).view(4, 7, -1)
    return encoder, inputs, lengths, projections


@pytest.mark.parametrize("sizes", [[6], [6, 5], [6, 5, 7]], ids=["1layer", "2layers", "3layers"])
def test_projection_encoder_matches_the_encoder_on_random_inputs(sizes: list[int]) -> None:
    encoder, inputs, lengths, projections = random_encoder(sizes)
    with torch.no_grad():
        expected = encoder(inputs, lengths).sequence
        got = bilstm_inference.encode_forms(
            encoder, projections.flatten(0, 1), torch.arange(28).view(4, 7), lengths
        )
    real = (torch.arange(7) < lengths[:, None]).unsqueeze(-1)
    assert torch.allclose(got * real, expected * real, atol=1e-5)
    assert (got[~real.squeeze(-1)] == 0).all()


def test_prepared_weights_follow_weight_changes() -> None:
    encoder, inputs, lengths, _ = random_encoder([6, 5])
    index = torch.arange(28).view(4, 7)
    real = (torch.arange(7) < lengths[:, None]).unsqueeze(-1)

    def both() -> tuple[torch.Tensor, torch.Tensor]:
        weight, bias = bilstm_inference.first_layer_weights(encoder)
        projections = torch.addmm(bias, inputs.flatten(0, 1), weight.t())
        with torch.no_grad():  # kept beside the encoder between calls
            fast = bilstm_inference.encode_forms(encoder, projections, index, lengths)
            return fast * real, encoder(inputs, lengths).sequence * real

    fast, expected = both()
    assert torch.allclose(fast, expected, atol=1e-5)
    with torch.no_grad():
        encoder.cell_weights(1).weight_hh.mul_(2)  # an optimizer step would do the same, in place
    changed, expected_changed = both()
    assert not torch.allclose(expected_changed, expected, atol=1e-3)
    assert torch.allclose(changed, expected_changed, atol=1e-5)


def test_projection_encoder_in_bf16_stays_close_and_fp32() -> None:
    encoder, _, lengths, projections = random_encoder([16, 12])
    projections = projections.flatten(0, 1)
    index = torch.arange(28).view(4, 7)
    with torch.no_grad():
        exact = bilstm_inference.encode_forms(encoder, projections, index, lengths)
        low = bilstm_inference.encode_forms(encoder, projections, index, lengths, torch.bfloat16)
    assert low.dtype == torch.float32 and low.shape == exact.shape
    real = (torch.arange(7) < lengths[:, None]).unsqueeze(-1)
    assert (low[~real.squeeze(-1)] == 0).all()
    difference = (low - exact).abs().max()
    assert 0 < difference < 2e-2  # rounded in bf16 (so the bf16 path ran), but only slightly


def test_projection_encoder_refuses_other_cells() -> None:
    encoder = RNNEncoder(4, 3, cell="gru", bidirectional=True)
    assert not bilstm_inference.supports(encoder)
    with pytest.raises(ValueError, match="bidirectional LSTM"):
        bilstm_inference.encode_forms(
            encoder, torch.zeros(2, 24), torch.zeros(1, 2, dtype=torch.long), torch.tensor([2])
        )


def test_char_cnn_equals_a_direct_convolution() -> None:
    torch.manual_seed(2)
    cnn = CharCNN(num_chars=10, char_dim=4, filters=3, widths=[1, 3, 5])
    chars = torch.randint(1, 10, (6, 7))
    embedded = cnn.embedding(chars).transpose(1, 2)  # U x C x L
    expected = torch.cat([torch.relu(conv(embedded)).amax(dim=2) for conv in cnn.convs], dim=1)
    assert torch.allclose(cnn(chars), expected, atol=1e-6)


def test_projection_encoder_matches_the_encoder_when_gates_saturate() -> None:
    # The recurrence computes tanh as 2 sigmoid(2x) - 1: large pre-activations must still agree.
    torch.manual_seed(3)
    encoder = RNNEncoder(4, 6, cell="lstm", bidirectional=True).eval()
    inputs = torch.randn(3, 9, 4) * 30
    lengths = torch.tensor([9, 4, 6])
    weight, bias = bilstm_inference.first_layer_weights(encoder)
    projections = torch.addmm(bias, inputs.flatten(0, 1), weight.t())
    with torch.no_grad():
        expected = encoder(inputs, lengths).sequence
        got = bilstm_inference.encode_forms(encoder, projections, torch.arange(27).view(3, 9), lengths)
    real = (torch.arange(9) < lengths[:, None]).unsqueeze(-1)
    assert torch.isfinite(got).all()
    assert torch.allclose(got * real, expected * real, atol=1e-5)


def test_crf_tagger_loss_is_the_crf_likelihood_and_tags_are_its_viterbi_paths() -> None:
    tagger = make_tagger(crf=True).eval()
    batch = make_batch()
    output = tagger(batch)
    lengths = batch["lengths"]
    expected = tagger.upos_crf.nll(output["upos_logits"], batch["upos"])
    expected = expected + tagger.xpos_crf.nll(output["xpos_logits"], batch["xpos"])
    assert torch.allclose(output["loss"], expected)
    with torch.no_grad():
        tagger.upos_crf.transitions.fill_(-50.0)
        tagger.upos_crf.transitions[:, 2] = 50.0  # every tag after the first must be 2
    tags = tagger.best_tags(tagger(batch), lengths)
    assert tags["upos"].shape == (3, 5)
    real = torch.arange(5) < lengths[:, None]
    assert bool((tags["upos"][:, 1:][real[:, 1:]] == 2).all())
    softmax = make_tagger().eval()
    argmax = softmax.best_tags(softmax(batch), lengths)
    assert torch.equal(argmax["upos"], softmax(batch)["upos_logits"].argmax(-1))


def test_crf_tagger_learns_and_leaves_unknown_gold_tags_open() -> None:
    tagger = make_tagger(crf=True)
    batch = make_batch()
    optimizer = torch.optim.Adam(tagger.parameters(), lr=0.05)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = tagger(batch)["loss"]
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]
    unknown = dict(batch)
    unknown["upos"] = batch["upos"].masked_fill(batch["upos"] != IGNORE, 4)  # every gold tag unseen
    unknown["xpos"] = unknown["upos"]
    assert float(tagger(unknown)["loss"].detach()) == pytest.approx(0.0, abs=1e-5)


def test_adversarial_training_adds_the_loss_of_the_worst_nearby_vectors() -> None:
    from nlp_rnn.models.adversarial import adversarial_perturbation

    settings = {"embedding_dropout": 0.0, "dropout": 0.0, "output_dropout": 0.0, "word_dropout": 0.0}
    plain = make_tagger(**settings)
    adversarial = make_tagger(**settings, adversarial_epsilon=0.1, adversarial_weight=0.5)
    adversarial.load_state_dict(plain.state_dict())
    batch = make_batch()
    assert torch.allclose(adversarial.eval()(batch)["loss"], plain.eval()(batch)["loss"])  # eval: off
    plain.train(), adversarial.train()
    clean = plain(batch)["loss"]
    total = adversarial(batch)["loss"]
    assert total > 1.5 * clean  # the perturbed loss is above the clean one: a step uphill
    # By hand: each sentence's vectors move along its own normalised gradient.
    vectors = plain.word_vectors(batch)
    (gradient,) = torch.autograd.grad(plain._loss(plain._scores(vectors, batch["lengths"]), batch), vectors)
    step = adversarial_perturbation(vectors, gradient, batch["lengths"], 0.1)
    assert torch.equal(step[1, 2:], torch.zeros_like(step[1, 2:]))  # padding never moves
    moved = plain._loss(plain._scores(vectors + step, batch["lengths"]), batch)
    assert torch.allclose(total, clean + 0.5 * moved, atol=1e-6)
    total.backward()  # gradients reach every trainable parameter
    assert all(p.grad is not None for p in adversarial.parameters() if p.requires_grad)
