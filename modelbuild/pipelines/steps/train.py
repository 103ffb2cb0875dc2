"""Train step: fit the model with scripts/training/train.py on the train split (ModelTrainer)."""

from __future__ import annotations

from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig, SourceCode
from sagemaker.mlops.workflow.steps import ProcessingStep, TrainingStep
from sagemaker.train.model_trainer import ModelTrainer

from pipelines.context import StepContext
from pipelines.paths import TRAINING_ENTRY_SCRIPT, TRAINING_SOURCE_DIR

STEP_NAME = "Train"


def train_step(ctx: StepContext, preprocess: ProcessingStep) -> TrainingStep:
    """A TrainingStep reading the `train` and `validation` outputs of the preprocess step.

    The whole training source directory (train.py, features.py, inference.py) is uploaded as
    the job's code; train.py copies features.py and inference.py into model.tar.gz under code/.
    """
    params = ctx.params
    outputs = preprocess.properties.ProcessingOutputConfig.Outputs
    trainer = ModelTrainer(
        sagemaker_session=ctx.session,
        role=ctx.role,
        training_image=ctx.job_image_uri,
        base_job_name=ctx.job_name("train"),
        source_code=SourceCode(source_dir=str(TRAINING_SOURCE_DIR), entry_script=TRAINING_ENTRY_SCRIPT),
        compute=Compute(instance_type=params.training_instance_type, instance_count=1),
        output_data_config=OutputDataConfig(s3_output_path=f"s3://{ctx.bucket}/{ctx.base_job_prefix}/models"),
        # Training jobs take hyperparameters as strings; train.py receives them as --name value.
        hyperparameters={
            "C": params.regularization_c.to_string(),
            "max_iter": params.max_iterations.to_string(),
            "target_column": params.target_column,
        },
    )
    step_args = trainer.train(
        input_data_config=[
            InputData(channel_name="train", data_source=outputs["train"].S3Output.S3Uri, content_type="text/csv"),
            InputData(
                channel_name="validation",
                data_source=outputs["validation"].S3Output.S3Uri,
                content_type="text/csv",
            ),
        ]
    )
    return TrainingStep(name=STEP_NAME, step_args=step_args)
