"""The tagging task: form table, encoding, collation, the predictor on token lists, CoNLL-U files
and raw text, and the model folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from nlp_rnn.api import load_model
from nlp_rnn.cli import main
from nlp_rnn.data.conllu import iter_sentences
from nlp_rnn.errors import NlpRnnError
from nlp_rnn.models.tagger import IGNORE
from nlp_rnn.tasks.tagging import (
    Collate,
    FormCache,
    FormTable,
    TaggingPredictor,
    TaggingVocabs,
    encode_sentences,
    form_projections,
)
from nlp_rnn.text.vocab import LABEL_SPECIALS, NO_MARKERS, SPECIALS, Vocab


def small_vocabs() -> TaggingVocabs:
    return TaggingVocabs(
        words=Vocab(["the", "dog"], specials=NO_MARKERS),
        chars=Vocab(list("thedogs"), specials=SPECIALS),
        upos=Vocab(["DET", "NOUN"], specials=LABEL_SPECIALS),
        xpos=Vocab(["DT", "NN"], specials=LABEL_SPECIALS),
        pretrained=None,
    )


def test_form_table_marks_word_boundaries_and_keeps_both_ends_of_long_words() -> None:
    vocabs = small_vocabs()
    table = FormTable(vocabs.chars, max_chars=4)
    ids = table.ids(["the", "dogs", "the", "thedogs"])
    assert ids.tolist() == [0, 1, 0, 2] and len(table) == 3
    stoi = vocabs.chars.stoi
    chars = table.chars_of(np.array([0, 2]))
    assert chars[0].tolist() == [2, stoi["t"], stoi["h"], stoi["e"], 3, 0]  # <bos> t h e <eos> pad
    assert chars[1].tolist() == [2, stoi["t"], stoi["h"], stoi["g"], stoi["s"], 3]  # th..gs


def test_form_table_grows_past_its_first_block() -> None:
    table = FormTable(small_vocabs().chars, max_chars=6)
    ids = table.ids(f"w{i}" for i in range(3000))
    assert ids.tolist() == list(range(3000))
    unk = table.chars.unk_id
    assert table.chars_of(np.array([2999])).tolist() == [[2, unk, unk, unk, unk, unk, 3]]  # <bos> w2999 <eos>


def test_encoding_lowercases_words_and_marks_unknown_gold_tags() -> None:
    vocabs = small_vocabs()
    table = FormTable(vocabs.chars, 10)
    encoded = encode_sentences([["The", "cat"]], vocabs, table, [["DET", "VERB"]], [["DT", "NN"]])
    words, _, forms, upos, xpos = encoded[0]
    assert words.tolist() == [vocabs.words.stoi["the"], vocabs.words.unk_id]
    assert upos.tolist() == [0, 2]  # VERB was never seen: id 2 = len(upos vocabulary)
    assert xpos.tolist() == [0, 1]
    assert encoded.tokens == 2 and encoded.lengths == [2]


def test_an_empty_sentence_is_an_error_naming_it() -> None:
    vocabs = small_vocabs()
    with pytest.raises(NlpRnnError, match="sentence 1 has no words"):
        encode_sentences([["the"], []], vocabs, FormTable(vocabs.chars, 10))


def test_collate_pads_and_encodes_each_distinct_form_once() -> None:
    vocabs = small_vocabs()
    collate = Collate(FormTable(vocabs.chars, 10))
    encoded = encode_sentences(
        [["the", "dog", "the"], ["dog"]], vocabs, collate.table, [["DET", "NOUN", "DET"], ["NOUN"]]
    )
    batch = collate([encoded[0], encoded[1]])
    assert batch["words"].shape == (2, 3) and batch["chars"].shape[0] == 2  # two distinct forms
    assert batch["upos"][1].tolist() == [1, IGNORE, IGNORE]
    assert "xpos" not in batch  # no XPOS given
    forms = batch["form_index"]
    assert forms[0, 0] == forms[0, 2] and forms[0, 1] == forms[1, 0]
    assert batch["form_words"][forms[0, 1]] == vocabs.words.stoi["dog"]


def test_predictor_tags_token_lists_and_refuses_plain_strings(tiny_tagger: Path) -> None:
    predictor = load_model(tiny_tagger)
    assert isinstance(predictor, TaggingPredictor)
    tagged = predictor.tag([["I", "book", "a", "table", "."], ["Zyxqv"]])
    assert [len(s.upos) for s in tagged] == [5, 1] and len(tagged[0].xpos) == 5
    assert set(tagged[0].upos) <= set(predictor.vocabs.upos.itos)
    with pytest.raises(TypeError, match="list of sentences"):
        predictor.tag(["I", "book"])
    assert predictor.tag([]) == []


def test_a_sentence_longer_than_any_in_training_is_tagged_whole(tiny_tagger: Path) -> None:
    predictor = load_model(tiny_tagger)
    long = ["the", "film", "is", "good", "and"] * 400  # 2,000 words
    (tagged,) = predictor.tag([long])
    assert len(tagged.upos) == 2000


def test_tags_do_not_depend_on_the_batch(tiny_tagger: Path) -> None:
    predictor = load_model(tiny_tagger)
    sentences = [
        s["tokens"] for s in iter_sentences(Path(__file__).parent.parent / "corpora/demo/tagged.dev.conllu")
    ]
    together = predictor.tag(sentences)
    alone = [predictor.tag([s])[0] for s in sentences[:5]]
    assert [s.upos for s in together[:5]] == [s.upos for s in alone]
    small = predictor.tag(sentences, max_tokens=16)
    assert [s.upos for s in small] == [s.upos for s in together]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_cuda_tags_agree_with_the_cpu_and_do_not_depend_on_the_batch(
    tiny_tagger_without_samples: Path,
) -> None:
    dev = Path(__file__).parent.parent / "corpora/demo/tagged.dev.conllu"
    sentences = [s["tokens"] for s in iter_sentences(dev)]
    cpu = load_model(tiny_tagger_without_samples).tag(sentences)
    on_gpu = load_model(tiny_tagger_without_samples, device="cuda")
    gpu = on_gpu.tag(sentences)
    cpu_upos, gpu_upos = ([tag for s in tagged for tag in s.upos] for tagged in (cpu, gpu))
    differing = sum(a != b for a, b in zip(cpu_upos, gpu_upos, strict=True))
    assert differing <= len(cpu_upos) // 200  # other kernels may flip a close call, not the tagging
    gpu_tags = [(s.upos, s.xpos) for s in gpu]
    assert [(s.upos, s.xpos) for s in on_gpu.tag(sentences, max_tokens=16)] == gpu_tags
    exact = [tag for s in gpu for tag in s.upos + s.xpos]
    low = [tag for s in on_gpu.tag(sentences, precision="bf16") for tag in s.upos + s.xpos]
    assert sum(a == b for a, b in zip(exact, low, strict=True)) >= 0.99 * len(exact)


def test_both_inference_paths_give_the_same_tags_and_probabilities(tiny_tagger: Path) -> None:
    predictor = load_model(tiny_tagger)
    dev = Path(__file__).parent.parent / "corpora/demo/tagged.dev.conllu"
    sentences = [s["tokens"] for s in iter_sentences(dev)]
    predictor.model.per_form_inference = True  # chosen automatically for 2,048 words or more
    per_form, per_form_probabilities = predictor.tag(sentences), predictor.probabilities(sentences)[0]
    predictor.model.per_form_inference = False  # the encoder's own kernels, as on a GPU
    try:
        encoder, encoder_probabilities = predictor.tag(sentences), predictor.probabilities(sentences)[0]
    finally:
        predictor.model.per_form_inference = None  # the fixture is shared
    assert [(s.upos, s.xpos) for s in encoder] == [(s.upos, s.xpos) for s in per_form]
    np.testing.assert_allclose(encoder_probabilities, per_form_probabilities, atol=1e-5)


def test_bf16_tags_agree_with_fp32(tiny_tagger: Path, tmp_path: Path) -> None:
    predictor = load_model(tiny_tagger)
    dev = Path(__file__).parent.parent / "corpora/demo/tagged.dev.conllu"
    sentences = [s["tokens"] for s in iter_sentences(dev)]
    exact = [tag for s in predictor.tag(sentences) for tag in s.upos + s.xpos]
    low = [tag for s in predictor.tag(sentences, precision="bf16") for tag in s.upos + s.xpos]
    assert sum(a == b for a, b in zip(exact, low, strict=True)) >= 0.99 * len(exact)
    with pytest.raises(NlpRnnError, match="precision"):
        predictor.tag(sentences, precision="int8")
    out = tmp_path / "out.conllu"
    assert predictor.tag_conllu(dev, out, precision="bf16") == len(sentences)
    cli_out = tmp_path / "cli.conllu"
    args = ["tag", "--model", str(tiny_tagger), "--input", str(dev), "--output", str(cli_out)]
    result = CliRunner().invoke(main, [*args, "--precision", "bf16"])
    assert result.exit_code == 0, result.output
    assert cli_out.read_text(encoding="utf-8") == out.read_text(encoding="utf-8")


def test_tag_conllu_changes_only_columns_4_and_5(
    tiny_tagger: Path, fixtures_dir: Path, tmp_path: Path
) -> None:
    source = fixtures_dir / "sample.conllu"
    target = tmp_path / "tagged.conllu"
    count = load_model(tiny_tagger).tag_conllu(source, target, chunk=2)
    original = source.read_text(encoding="utf-8").split("\n")
    tagged = target.read_text(encoding="utf-8").split("\n")
    assert count == len(list(iter_sentences(source)))
    assert len(original) == len(tagged)
    for before, after in zip(original, tagged, strict=True):
        fields_before, fields_after = before.split("\t"), after.split("\t")
        if len(fields_before) == 10 and fields_before[0].isdigit():  # a word line
            assert fields_before[:3] + fields_before[5:] == fields_after[:3] + fields_after[5:]
        else:  # comments, multiword tokens, empty nodes, blank lines: byte for byte
            assert before == after


def test_tag_text_writes_conllu_with_space_after(tiny_tagger: Path, tmp_path: Path) -> None:
    source = tmp_path / "raw.txt"
    source.write_text("I don't book tables. Dogs read!\n\n   \nThe end\n", encoding="utf-8")
    target = tmp_path / "raw.conllu"
    assert load_model(tiny_tagger).tag_text(source, target) == 3
    sentences = list(iter_sentences(target))
    assert [s["tokens"] for s in sentences] == [
        ["I", "do", "n't", "book", "tables", "."],
        ["Dogs", "read", "!"],
        ["The", "end"],
    ]
    assert [s["sent_id"] for s in sentences] == ["1-1", "1-2", "4-1"]
    assert sentences[0]["text"] == "I don't book tables."
    lines = sentences[0]["conllu"].splitlines()
    no_space = [line.split("\t")[1] for line in lines[2:] if line.endswith("SpaceAfter=No")]
    assert no_space == ["do", "tables"]  # do|n't, tables|.


def test_tag_text_word_tag_output_keeps_one_line_per_input_line(tiny_tagger: Path, tmp_path: Path) -> None:
    source = tmp_path / "raw.txt"
    long_line = " ".join(["word"] * 10_000)
    source.write_text(f"I book a table. It is good.\n\n{long_line}\n", encoding="utf-8")
    target = tmp_path / "raw.tags"
    load_model(tiny_tagger).tag_text(source, target, output_format="tags", tagset="xpos", chunk=1)
    lines = target.read_text(encoding="utf-8").split("\n")
    assert len(lines) == 4 and lines[1] == "" and lines[3] == ""
    assert len(lines[0].split()) == 9 and all("/" in pair for pair in lines[0].split())
    assert len(lines[2].split()) == 10_000


def test_model_folder_errors_name_the_problem(tiny_tagger: Path, tmp_path: Path) -> None:
    broken = tmp_path / "model"
    shutil.copytree(tiny_tagger, broken)
    (broken / "chars.json").unlink()
    with pytest.raises(NlpRnnError, match="lacks chars.json"):
        load_model(broken)
    shutil.copy(tiny_tagger / "chars.json", broken / "chars.json")
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(NlpRnnError, match="truncated"):
        load_model(broken)


def test_save_and_load_give_the_same_tags(tiny_tagger: Path, tmp_path: Path) -> None:
    predictor = load_model(tiny_tagger)
    copy = load_model(predictor.save(tmp_path / "again"))
    sentence = [["I", "book", "a", "table", "."]]
    assert copy.tag(sentence) == predictor.tag(sentence)
    assert copy.training_words == predictor.training_words and "book" in copy.training_words


def test_form_table_maps_unknown_and_astral_characters_to_unk() -> None:
    vocabs = small_vocabs()
    table = FormTable(vocabs.chars, max_chars=10)
    stoi, unk = vocabs.chars.stoi, vocabs.chars.unk_id
    ids = table.ids(["dé😀g", "\udcff", "dog"])
    rows = table.chars_of(ids)
    assert rows[0].tolist() == [2, stoi["d"], unk, unk, stoi["g"], 3]
    assert rows[1].tolist()[:3] == [2, unk, 3]  # a lone surrogate (from undecodable bytes)
    assert rows[2].tolist() == [2, stoi["d"], stoi["o"], stoi["g"], 3, 0]


def _dev_sentences() -> list[list[str]]:
    dev = Path(__file__).parent.parent / "corpora/demo/tagged.dev.conllu"
    return [s["tokens"] for s in iter_sentences(dev)] + [["Zorblax", "frobnicated", "Quuxville", "."]]


def _cached_and_fresh_rows(predictor: TaggingPredictor, sentences: list[list[str]]) -> tuple:
    cache = predictor.form_cache
    with cache.lock:
        table = cache.table(predictor.model, predictor.vocabs, predictor.device)
        encoded = encode_sentences(sentences, predictor.vocabs, table)
        cached = cache.projections(predictor.model, encoded, table, predictor.device).clone()
    assert len(table) > len(cache)  # forms the cache lacks are computed too
    with torch.inference_mode():
        fresh = form_projections(predictor.model, encoded, table, predictor.device)
    used = torch.from_numpy(np.unique(encoded.columns["forms"]))  # forms of this call (the others get no ids)
    return cached[used], fresh[used]


def test_form_cache_rows_equal_rows_computed_afresh(tiny_tagger: Path) -> None:
    predictor = load_model(tiny_tagger)
    sentences = _dev_sentences()
    assert len(predictor.form_cache) > 0
    assert all(form.lower() in predictor.vocabs.words.stoi for form in predictor.form_cache.forms)
    cached, fresh = _cached_and_fresh_rows(predictor, sentences)
    assert cached.shape == fresh.shape and len(predictor.form_cache.forms) > 0
    assert torch.allclose(cached, fresh, atol=1e-5)
    predictor.model.per_form_inference = True  # the cache serves the per-form path
    with_cache = predictor.tag(sentences)
    predictor.form_cache = FormCache([])
    assert [s.upos for s in predictor.tag(sentences)] == [s.upos for s in with_cache]


def test_form_cache_is_rebuilt_when_the_weights_change(tiny_tagger: Path) -> None:
    predictor = load_model(tiny_tagger)
    sentences = _dev_sentences()
    before, _ = _cached_and_fresh_rows(predictor, sentences)
    with torch.no_grad():
        predictor.model.chars.embedding.weight.mul_(3.0)  # in place, as an optimizer step is
    after, fresh = _cached_and_fresh_rows(predictor, sentences)
    assert not torch.allclose(before, after, atol=1e-3)
    assert torch.allclose(after, fresh, atol=1e-5)


def test_form_cache_memory_does_not_grow_with_repeated_calls(tiny_tagger: Path) -> None:
    predictor = load_model(tiny_tagger)
    predictor.model.per_form_inference = True  # the cache serves the per-form path
    sentences = _dev_sentences()
    predictor.tag(sentences)
    rows = predictor.form_cache._rows
    assert rows is not None
    size = rows.size(0)
    for _ in range(3):
        predictor.tag(sentences)
        predictor.tag(sentences[:2])
    assert predictor.form_cache._rows is not None and predictor.form_cache._rows.size(0) == size


def test_forms_are_projected_in_chunks_of_one_length() -> None:
    from nlp_rnn.tasks.tagging import _equal_length_chunks

    lengths = np.array([5, 3, 5, 7, 3, 3, 5, 9, 3])
    chunks = list(_equal_length_chunks(lengths, first=1, chunk=2))
    assert sorted(np.concatenate(chunks).tolist()) == list(range(1, 9))  # every form from 1 on, once
    assert all(len(set(lengths[c].tolist())) == 1 and 1 <= len(c) <= 2 for c in chunks)
    assert [int(lengths[c][0]) for c in chunks] == [3, 3, 5, 7, 9]  # four forms of 3 characters


def test_small_calls_run_the_encoder_and_large_or_bf16_ones_the_per_form_path(
    tiny_tagger: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nlp_rnn.models import tagger as tagger_module

    predictor = load_model(tiny_tagger)
    calls: list[int] = []
    original = predictor.model.tag_logits
    monkeypatch.setattr(predictor.model, "tag_logits", lambda *a, **k: calls.append(1) or original(*a, **k))
    sentences = _dev_sentences()  # about 130 words
    small = predictor.tag(sentences)
    assert calls == []  # fewer words than PER_FORM_MIN_WORDS: the encoder's own kernels
    predictor.tag(sentences, precision="bf16")
    assert calls  # bf16 products need the per-form path
    calls.clear()
    monkeypatch.setattr(tagger_module, "PER_FORM_MIN_WORDS", 10)
    large = predictor.tag(sentences)
    assert calls and [(s.upos, s.xpos) for s in large] == [(s.upos, s.xpos) for s in small]
