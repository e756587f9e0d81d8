"""Word2vec training, evaluation, vector import/export and embedding layers."""
