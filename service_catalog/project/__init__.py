"""The resources each SageMaker project gets, one construct per concern."""
