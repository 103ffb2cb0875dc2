"""An SDK v3 pipeline with ModelTrainer, built in the project's venv.

Modelled on the SDK v3 training examples (sagemaker-python-sdk's v3 ModelTrainer notebooks and its
pipeline docs): ModelTrainer with SourceCode (source_dir + entry_script) and string hyperparameters
as a TrainingStep, then ModelStep(ModelBuilder(...).register(...)) of the job's model.tar.gz, which
the script itself fills with code/inference.py since v3 has no repack step. Wine classification.
"""

from __future__ import annotations

from pathlib import Path

from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig, SourceCode
from sagemaker.core.workflow.parameters import ParameterInteger, ParameterString
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.mlops.workflow.model_step import ModelStep
from sagemaker.mlops.workflow.pipeline import Pipeline
from sagemaker.mlops.workflow.steps import TrainingStep
from sagemaker.serve.model_builder import ModelBuilder
from sagemaker.train.model_trainer import ModelTrainer

NAME = "corpus-model-trainer"
ROLE = "arn:aws:iam::123456789012:role/corpus-pipeline-role"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
SOURCE_DIR = Path(__file__).resolve().parent / "code" / "train_v3"
GROUP = "corpus-model-trainer-models"


def get_pipeline(session: PipelineSession, bucket: str) -> Pipeline:
    train_data = ParameterString(name="TrainDataUrl", default_value=f"s3://{bucket}/{NAME}/train/")
    trees = ParameterInteger(name="Trees", default_value=40)
    trainer = ModelTrainer(
        sagemaker_session=session,
        role=ROLE,
        training_image=IMAGE,
        base_job_name="model-trainer",
        source_code=SourceCode(source_dir=str(SOURCE_DIR), entry_script="train.py"),
        compute=Compute(instance_type="ml.m5.large", instance_count=1),
        output_data_config=OutputDataConfig(s3_output_path=f"s3://{bucket}/{NAME}/models"),
        hyperparameters={"n_estimators": trees.to_string(), "max_depth": "5"},
    )
    train = TrainingStep(
        name="TrainWineForest",
        step_args=trainer.train(
            input_data_config=[InputData(channel_name="train", data_source=train_data, content_type="text/csv")]
        ),
    )
    builder = ModelBuilder(
        image_uri=IMAGE,
        s3_model_data_url=train.properties.ModelArtifacts.S3ModelArtifacts,
        env_vars={"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"},
        role_arn=ROLE,
        instance_type="ml.m5.large",
        sagemaker_session=session,
    )
    register = ModelStep(
        name="RegisterWineForest",
        step_args=builder.register(
            model_package_group_name=GROUP,
            content_types=["text/csv", "application/json"],
            response_types=["application/json"],
            inference_instances=["ml.m5.large"],
            transform_instances=["ml.m5.large"],
            approval_status="Approved",
        ),
    )
    return Pipeline(name=NAME, parameters=[train_data, trees], steps=[train, register], sagemaker_session=session)
