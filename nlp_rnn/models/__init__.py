"""Neural network modules: encoders and task models."""
