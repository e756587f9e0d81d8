"""Pipeline text shared by the translator stages' tests: the demo parallel corpus and a tiny model.

The demo corpus (corpora/demo/translate.*) is an English -> "xx" toy pair a 32-unit model learns
in a few seconds on the CPU.
"""

from __future__ import annotations

from pathlib import Path

DEMO = Path(__file__).resolve().parent.parent / "corpora" / "demo"

# A corpus stage named ``data`` (indented as an entry of ``stages:``) with train and dev splits.
DEMO_PARALLEL_STAGE = f"""
  data:
    kind: corpus
    format: parallel
    splits: {{train: {DEMO / "translate.train.en"}, dev: {DEMO / "translate.dev.en"}}}
    targets: {{train: {DEMO / "translate.train.xx"}, dev: {DEMO / "translate.dev.xx"}}}
"""

# A train_translator ``model:`` section: GRU, Luong general attention, the one-shot training path.
TINY_TRANSLATOR_MODEL = (
    "{embedding_dim: 32, cell: gru, encoder_hidden: 32, encoder_layers: 1, decoder_hidden: 64,"
    " decoder_layers: 1, attention: general, input_feeding: false, tie_embeddings: true,"
    " share_source_target_embeddings: true, dropout: 0.1, embedding_dropout: 0.1}"
)
