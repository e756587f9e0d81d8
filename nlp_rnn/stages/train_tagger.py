"""The ``train_tagger`` stage: train a POS tagger on a CoNLL-U corpus stage, select it on dev,
evaluate it, and write a self-contained model folder.

It reads the ``tokens``, ``upos`` and ``xpos`` columns of a ``corpus`` stage (CoNLL-U words need
no tokenizer). Vocabularies are built here from the training split: lowercased words (those seen
``model.word_min_freq`` times get a trainable vector), characters, and the tag sets; with
``vectors``, the pretrained table holds the vectors' ``pretrained_words`` most frequent words plus
every training word they have.

Outputs, in the stage folder::

    train/          the Trainer's run: log.jsonl, curves.png, tensorboard/, best/, last/
    evaluation/     report.json (UPOS/XPOS accuracy, unseen words, per-tag P/R/F1, confusions),
                    confusion_upos.png, dev.pred.conllu (the dev file with predicted tags)
    samples.txt     the saved model's tags for the configured sample sentences
    model/[<model_folder>/]   the model folder (see nlp_rnn.tasks.tagging)
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Literal

import pydantic

from nlp_rnn.models.tagger import TaggerConfig
from nlp_rnn.pipeline import Metrics, Stage, StageConfig, StageContext
from nlp_rnn.stages.corpus import check_columns, load_split
from nlp_rnn.stages.train_classifier import vectors_files
from nlp_rnn.training.config import TrainerConfig

EVALUATION_DIR = "evaluation"
TRAIN_DIR = "train"
SAMPLES_FILE = "samples.txt"
DEV_PREDICTIONS = "dev.pred.conllu"


class TaggerTrainerSettings(TrainerConfig):
    """The Trainer's settings with a tagger's defaults: select on dev UPOS accuracy."""

    metric: str = pydantic.Field(
        "upos_accuracy", description="dev metric: upos_accuracy, xpos_accuracy or loss"
    )
    mode: Literal["min", "max"] = pydantic.Field("max", description="max for accuracies, min for loss")
    seed: int | None = pydantic.Field(None, description="training randomness (null: the pipeline's seed)")


class TrainTaggerConfig(StageConfig):
    kind: Literal["train_tagger"] = "train_tagger"
    input: str = pydantic.Field(description="the corpus stage to read (CoNLL-U)")
    tokens: str = pydantic.Field("tokens", description="its column of word lists")
    upos: str = pydantic.Field("upos", description="its column of UPOS tag lists")
    xpos: str | None = pydantic.Field("xpos", description="its column of XPOS tag lists (null: UPOS only)")
    train_split: str = "train"
    dev_split: str = "dev"
    extra_train: list[str] = pydantic.Field(
        default_factory=list,
        description="more stages whose `train` split is added to the training sentences "
        "(e.g. a silver_tags stage); the dev split stays the input's",
    )
    vectors: str | None = pydantic.Field(
        None, description="word vectors (a word2vec run's model folder or a vectors file); null: none"
    )
    vectors_format: Literal["auto", "word2vec-text", "word2vec-binary", "glove"] = "auto"
    pretrained_words: int = pydantic.Field(
        100_000, ge=0, description="keep this many of the vectors' most frequent words (plus training words)"
    )
    model: TaggerConfig = pydantic.Field(default_factory=TaggerConfig)
    trainer: TaggerTrainerSettings = pydantic.Field(default_factory=TaggerTrainerSettings)
    model_folder: str = pydantic.Field(
        "", description="subfolder of <run-dir>/model/ ('' = the folder itself)"
    )
    samples: list[str] = pydantic.Field(
        default_factory=list,
        description="raw sentences to tag with the saved model (logged, and in samples.txt)",
    )

    @pydantic.model_validator(mode="after")
    def _relative_folder(self) -> TrainTaggerConfig:
        if Path(self.model_folder).is_absolute() or ".." in Path(self.model_folder).parts:
            raise ValueError("model_folder must be a relative folder name inside <run-dir>/model/")
        return self


class TrainTaggerStage(Stage):
    """Trains :class:`~nlp_rnn.models.tagger.RNNTagger`; metrics: dev UPOS/XPOS accuracy, seconds."""

    kind = "train_tagger"
    Config = TrainTaggerConfig

    def upstream(self) -> list[str]:
        return [self.config.input, *self.config.extra_train]

    def input_files(self, data_dir: Path) -> list[Path]:
        return vectors_files(self.config.vectors, "vectors")

    def run(self, ctx: StageContext) -> Metrics:
        from nlp_rnn.tasks.tagging import (
            Collate,
            FormTable,
            TaggingPredictor,
            build_tagger,
            encode_sentences,
        )
        from nlp_rnn.training.seeding import seed_everything
        from nlp_rnn.training.trainer import fit_metrics

        config = self.config
        seed = config.trainer.seed if config.trainer.seed is not None else ctx.seed
        source_dir = ctx.input_dir(config.input)
        gold_rows = self._split(ctx, source_dir, config.train_split, config.input)
        dev_rows = self._split(ctx, source_dir, config.dev_split, config.input)
        train_rows = self._with_extra(ctx, gold_rows)
        vectors = self._vectors()
        forms: Counter[str] = Counter()  # the training word forms, read from Arrow once
        for tokens in train_rows[config.tokens]:
            forms.update(tokens)
        vocabs = self._vocabs(ctx, train_rows, forms, vectors)
        # "unseen" in the dev report means unseen in the gold training sentences
        gold_forms = forms if not config.extra_train else {w for ws in gold_rows[config.tokens] for w in ws}
        collate = Collate(FormTable(vocabs.chars, config.model.max_word_chars))

        def encode(rows):  # -> EncodedSentences
            return encode_sentences(
                rows[config.tokens],
                vocabs,
                collate.table,
                rows[config.upos],
                rows[config.xpos] if config.xpos else None,
            )

        train, dev = encode(train_rows), encode(dev_rows)
        ctx.log.info(
            "%d training sentences (%d words), %d dev sentences (%d words); %d trainable words, "
            "%d pretrained, %d characters, %d UPOS, %s XPOS tags",
            len(train), train.tokens, len(dev), dev.tokens, len(vocabs.words),
            len(vocabs.pretrained) if vocabs.pretrained else 0, len(vocabs.chars), len(vocabs.upos),
            len(vocabs.xpos) if vocabs.xpos else "no",
        )  # fmt: skip

        seed_everything(seed)  # the same initial weights for the same seed
        model = build_tagger(config.model, vocabs, vectors.vector_size if vectors is not None else 0)
        coverage = None
        if vectors is not None:
            from nlp_rnn.embeddings.embedding_layer import embedding_from_vectors

            assert vocabs.pretrained is not None
            model.pretrained, coverage = embedding_from_vectors(
                vocabs.pretrained, vectors, freeze=True, seed=seed
            )
        predictor = TaggingPredictor(model, vocabs, sorted(forms))
        started = time.perf_counter()
        result = self._train(ctx, predictor, train, dev, collate, seed)
        train_seconds = time.perf_counter() - started

        from nlp_rnn.tasks import WEIGHTS_FILE, load_weights_file

        assert result.best_dir is not None  # there is always dev data
        load_weights_file(model, result.best_dir / WEIGHTS_FILE)
        predictor.model.cpu()
        report = self._evaluate(ctx, predictor, dev_rows, gold_forms)
        folder = ctx.model_dir / config.model_folder if config.model_folder else ctx.model_dir
        predictor.save(folder, metrics={**report.metrics(), "train_seconds": round(train_seconds, 3)})
        if config.samples:
            self._tag_samples(ctx, folder)

        metrics: Metrics = {f"dev.{key}": round(float(value), 6) for key, value in report.metrics().items()}
        metrics.update(
            {
                "train_seconds": round(train_seconds, 3),
                "train.sentences": len(train),
                "train.words": train.tokens,
                "dev.sentences": len(dev),
                **fit_metrics(model, result),
            }
        )
        if coverage is not None and coverage.token_coverage is not None:
            metrics["pretrained.type_coverage"] = round(coverage.type_coverage, 6)
        return metrics

    def _train(self, ctx: StageContext, predictor, train, dev, collate, seed: int):  # -> FitResult
        """The shared Trainer on the predictor's model; every checkpoint is also a model folder."""
        from nlp_rnn.tasks.tagging import evaluate_batches, write_model_files
        from nlp_rnn.training.trainer import Trainer

        trainer_config = TrainerConfig(**{**self.config.trainer.model_dump(), "seed": seed})
        p = predictor

        def add_files(folder: Path) -> None:
            write_model_files(folder, p.model, p.vocabs, p.training_words)

        return Trainer(trainer_config, ctx.out_dir / TRAIN_DIR).fit(
            p.model, train, dev, collate=collate, evaluate=evaluate_batches, add_files=add_files
        )

    def _evaluate(self, ctx: StageContext, predictor, dev_rows, training_forms):  # -> PosReport
        """Tag dev with the selected weights; write the report, the confusion PNG and the predictions."""
        from nlp_rnn.data.conllu import write_conllu
        from nlp_rnn.evaluation.pos import TaggedWords, pos_report, write_pos_report

        config = self.config
        token_lists = dev_rows[config.tokens]
        tagged = predictor.tag(token_lists)
        gold_xpos = dev_rows[config.xpos] if config.xpos else [["_"] * len(t) for t in token_lists]
        words = TaggedWords(
            forms=[w for tokens in token_lists for w in tokens],
            gold_upos=[t for tags in dev_rows[config.upos] for t in tags],
            pred_upos=[t for s in tagged for t in s.upos],
            gold_xpos=[t for tags in gold_xpos for t in tags],
            pred_xpos=[t for s in tagged for t in (s.xpos or ["_"] * len(s.tokens))],
            sentences=len(tagged),
        )
        report = pos_report(words, training_forms)
        folder = ctx.out_dir / EVALUATION_DIR
        write_pos_report(folder, report, title=f"{ctx.name}: dev UPOS")
        if "conllu" in dev_rows.column_names:
            rows = (
                {"conllu": block, "upos": s.upos, "xpos": s.xpos}
                for block, s in zip(dev_rows["conllu"], tagged, strict=True)
            )
            write_conllu(rows, folder / DEV_PREDICTIONS)
        ctx.log.info("dev: %s\n%s", report.summary().replace("\n", "; "), report.upos.table())
        return report

    def _tag_samples(self, ctx: StageContext, folder: Path) -> None:
        """Tag the sample sentences with the model loaded back from its folder, as a user would."""
        from nlp_rnn.api import load_model
        from nlp_rnn.text.sentences import split_sentences

        predictor = load_model(folder)
        sentences = [s.words for text in self.config.samples for s in split_sentences(text)]
        lines = [
            " ".join(f"{w}/{t}" for w, t in zip(s.tokens, s.upos, strict=True))
            for s in predictor.tag(sentences)
        ]
        (ctx.out_dir / SAMPLES_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
        ctx.log.info("the saved model tags the samples:\n  %s", "\n  ".join(lines))

    # --- data --------------------------------------------------------------------------------------

    def _split(self, ctx: StageContext, source_dir: Path, split: str, stage: str):  # -> datasets.Dataset
        dataset = load_split(source_dir, split)
        config = self.config
        columns = (config.tokens, config.upos, *([config.xpos] if config.xpos else []))
        check_columns(dataset, columns, ctx.name, stage, split, "read CoNLL-U with a corpus stage")
        return dataset

    def _with_extra(self, ctx: StageContext, gold_rows):  # -> datasets.Dataset
        """The gold training split followed by the ``extra_train`` stages' train splits (their
        token and tag columns only)."""
        config = self.config
        if not config.extra_train:
            return gold_rows
        import datasets

        columns = [config.tokens, config.upos, *([config.xpos] if config.xpos else [])]
        parts = [gold_rows.select_columns(columns)]
        for stage in config.extra_train:
            extra = self._split(ctx, ctx.input_dir(stage), "train", stage).select_columns(columns)
            ctx.log.info("%d more training sentences from stage %r", len(extra), stage)
            parts.append(extra.cast(parts[0].features))
        return datasets.concatenate_datasets(parts)

    def _vectors(self):  # -> KeyedVectors | None
        if self.config.vectors is None:
            return None
        from nlp_rnn.embeddings.vectors_io import load_any_vectors

        return load_any_vectors(self.config.vectors, self.config.vectors_format)

    def _vocabs(self, ctx: StageContext, train_rows, forms: Counter[str], vectors):  # -> TaggingVocabs
        from nlp_rnn.errors import NlpRnnError
        from nlp_rnn.tasks.tagging import TaggingVocabs
        from nlp_rnn.text.vocab import LABEL_SPECIALS, NO_MARKERS, SPECIALS, Vocab

        config = self.config
        lowered: Counter[str] = Counter()
        chars: Counter[str] = Counter()
        for form, count in forms.items():
            lowered[form.lower()] += count
            for char in form:
                chars[char] += count

        def tags(column: str) -> Vocab:
            counts = Counter(tag for row in train_rows[column] for tag in row)
            return Vocab(sorted(counts), specials=LABEL_SPECIALS, freqs=counts)

        upos = tags(config.upos)
        if len(upos) < 2:
            raise NlpRnnError(
                f"stage {ctx.name!r}: the training words have {len(upos)} UPOS tag(s); need 2 or more"
            )
        pretrained = None
        if vectors is not None:
            top = [str(word).lower() for word in vectors.index_to_key[: config.pretrained_words]]
            lowercase_keys = {str(word).lower() for word in vectors.index_to_key}
            extra = sorted(word for word in lowered if word in lowercase_keys)
            words = dict.fromkeys(word for word in [*top, *extra] if word not in NO_MARKERS)
            pretrained = Vocab(words, specials=NO_MARKERS)
        return TaggingVocabs(
            words=Vocab.build(lowered, min_freq=config.model.word_min_freq, specials=NO_MARKERS),
            chars=Vocab.build(chars, specials=SPECIALS),
            upos=upos,
            xpos=tags(config.xpos) if config.xpos else None,
            pretrained=pretrained,
        )
