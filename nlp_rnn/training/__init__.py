"""The task-agnostic trainer, checkpoints and distributed helpers."""
