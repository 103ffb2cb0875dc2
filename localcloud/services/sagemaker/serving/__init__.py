"""Local SageMaker endpoints: a model server that follows SageMaker's serving contract, and the
host-side pieces that prepare its model folder, start it in the sandbox and forward invocations.

``handlers`` and ``model_server`` run inside the sandbox and import only the standard library until
the inference script asks for more; the other modules run in the local cloud's process.
"""
