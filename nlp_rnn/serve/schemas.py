"""Request and response bodies of the HTTP API (pydantic: FastAPI validates requests against
them and publishes them in ``/openapi.json``). Unknown request fields are errors, so a typo in an
option is not silently ignored."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# --------------------------------------------------------------------------- requests


class Request(BaseModel):
    """What every request may say: which model answers (optional when the server holds one of
    the endpoint's task)."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, description="A served model's name (GET /models lists them).")


class TextsRequest(Request):
    texts: list[str] = Field(min_length=1, description="Raw texts, answered in order.")


class ClassifyRequest(TextsRequest):
    probabilities: bool = Field(True, description="Also return every label's probability.")


class TagRequest(Request):
    texts: list[str] | None = Field(
        None, description="Raw texts: each is split into sentences and words (spaCy's English rules)."
    )
    sentences: list[list[str]] | None = Field(
        None, description="Pre-tokenized sentences (each a non-empty list of words); instead of texts."
    )


class TranslateRequest(TextsRequest):
    beam: int = Field(5, ge=1, le=64, description="Beam width; 1 is greedy search.")
    n_best: int = Field(1, ge=1, le=64, description="Candidates per sentence, best first; at most beam.")
    length_penalty: float = Field(1.0, ge=0, description="GNMT's alpha (beam search).")
    max_len_a: float = Field(1.5, gt=0, description="At most a * source subwords + b output subwords.")
    max_len_b: float = Field(10.0, ge=0)
    attention: bool = Field(False, description="Return the best candidate's attention weights.")


class SummarizeRequest(TextsRequest):
    beam: int = Field(5, ge=1, le=64, description="Beam width; 1 is greedy search.")
    min_length: int = Field(0, ge=0, description="Words before a summary may end.")
    max_length: int = Field(30, ge=1, le=500, description="Words at most.")
    length_penalty: float = Field(1.0, ge=0, description="GNMT's alpha (beam search).")
    no_repeat_ngram: int = Field(0, ge=0, description="Never repeat an n-gram of this size (0: off).")


class GenerateRequest(Request):
    prompt: str = Field("", description="Text to continue (empty: a new text).")
    label: str | None = Field(None, description="The label a conditioned model writes for.")
    max_tokens: int = Field(200, ge=1, le=5000, description="Tokens to generate at most, per text.")
    temperature: float = Field(1.0, ge=0, description="0: always the most likely token.")
    top_k: int = Field(0, ge=0, description="Sample among the k most likely tokens (0: all).")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling: the smallest set with this mass.")
    seed: int | None = Field(None, ge=0, description="The same seed gives the same texts.")
    num: int = Field(1, ge=1, le=64, description="Texts to generate.")


class PerplexityRequest(TextsRequest):
    label: str | None = Field(None, description="The label of every text, for a conditioned model.")


class ForecastRequest(Request):
    csv: str = Field(min_length=1, description="The series as CSV text, read like the training series was.")
    horizon: int = Field(1, ge=1, le=10_000, description="Rows to forecast after the last one.")
    column: str | None = Field(None, description="The CSV's column holding the target, when named otherwise.")
    time_column: str | None = Field(None, description="The CSV's time column, when not the training one.")


# --------------------------------------------------------------------------- responses


class Answer(BaseModel):
    model: str = Field(description="The model that answered.")


class ClassifyResult(BaseModel):
    label: str
    probabilities: dict[str, float] | None = None


class ClassifyResponse(Answer):
    results: list[ClassifyResult]


class TaggedSentence(BaseModel):
    tokens: list[str]
    upos: list[str]
    xpos: list[str] | None = None


class TaggedText(BaseModel):
    sentences: list[TaggedSentence]


class TagResponse(Answer):
    results: list[TaggedText]


class Candidate(BaseModel):
    text: str
    score: float


class Attention(BaseModel):
    source: list[str] = Field(description="The source subwords (the columns).")
    output: list[str] = Field(description="The output subwords, then </s> (the rows).")
    weights: list[list[float]]


class TranslationResult(BaseModel):
    translation: str
    candidates: list[Candidate]
    attention: Attention | None = None


class TranslateResponse(Answer):
    source_lang: str
    target_lang: str
    results: list[TranslationResult]


class SummaryResult(BaseModel):
    summary: str
    copied: int = Field(description="Words copied from the article that the vocabulary lacks.")


class SummarizeResponse(Answer):
    results: list[SummaryResult]


class Generated(BaseModel):
    text: str = Field(description="The prompt and its continuation.")
    continuation: str
    finished: bool = Field(description="The model ended the text before max_tokens.")


class GenerateResponse(Answer):
    seed: int
    results: list[Generated]


class PerplexityResponse(Answer):
    scores: dict[str, float]


class ForecastRow(BaseModel):
    time: str
    value: float


class ForecastResponse(Answer):
    target: str
    forecasts: list[ForecastRow]


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="allow")  # task-specific facts (labels, tag sets, languages)

    name: str
    task: str
    folder: str
    metrics: dict[str, object]


class Health(BaseModel):
    status: str
    models: int
