"""Local SageMaker endpoints: a model server that follows SageMaker's serving contract, and the
host-side pieces that prepare its model folder, start it in the sandbox and forward invocations.

``handlers`` and ``model_server`` run inside the sandbox on the Python of the model's image, and import
the standard library, numpy (the image's) and httptools (``core/http11.py``, from the image
environment's server folder) until the inference script asks for more; the other modules run in the
local cloud's process.
"""
