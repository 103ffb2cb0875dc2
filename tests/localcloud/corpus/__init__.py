"""Pipelines of our own writing in the shapes public SageMaker pipelines take (see README.md)."""
