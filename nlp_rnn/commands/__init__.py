"""Click command groups of the ``nlp-rnn`` CLI, one module per group."""
