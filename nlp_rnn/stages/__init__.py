"""Pipeline stage kinds. Each module defines one :class:`~nlp_rnn.pipeline.Stage` subclass.

The registry is an explicit dict (no import-time registration): add a stage kind here.
Stage modules import heavy libraries inside ``run`` so that loading a pipeline stays fast.
"""

from nlp_rnn.pipeline import Stage
from nlp_rnn.stages.corpus import CorpusStage
from nlp_rnn.stages.series import SeriesStage
from nlp_rnn.stages.silver_tags import SilverTagsStage
from nlp_rnn.stages.teacher_labels import TeacherLabelsStage
from nlp_rnn.stages.teacher_translations import TeacherTranslationsStage
from nlp_rnn.stages.tokenize import TokenizeStage
from nlp_rnn.stages.train_bilm import TrainBidirectionalLMStage
from nlp_rnn.stages.train_classifier import TrainClassifierStage
from nlp_rnn.stages.train_forecaster import TrainForecasterStage
from nlp_rnn.stages.train_language_model import TrainLanguageModelStage
from nlp_rnn.stages.train_summarizer import TrainSummarizerStage
from nlp_rnn.stages.train_tagger import TrainTaggerStage
from nlp_rnn.stages.train_translator import TrainTranslatorStage
from nlp_rnn.stages.vocab import VocabStage
from nlp_rnn.stages.word2vec import Word2VecStage

STAGE_KINDS: dict[str, type[Stage]] = {
    stage.kind: stage
    for stage in (
        CorpusStage,
        TokenizeStage,
        VocabStage,
        Word2VecStage,
        TrainBidirectionalLMStage,
        TrainClassifierStage,
        TeacherLabelsStage,
        TrainTaggerStage,
        SilverTagsStage,
        SeriesStage,
        TrainForecasterStage,
        TrainTranslatorStage,
        TeacherTranslationsStage,
        TrainLanguageModelStage,
        TrainSummarizerStage,
    )
}
