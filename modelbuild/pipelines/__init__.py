"""The ModelBuild SageMaker Pipeline: preprocess -> train -> evaluate -> register or fail."""
