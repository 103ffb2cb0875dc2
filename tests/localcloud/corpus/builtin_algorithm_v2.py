"""The abalone seed's training step as AWS ships it: a built-in algorithm image, no script, with SDK v2.

Modelled on the TrainAbaloneModel step of AWS's ModelBuild seed (pipelines/abalone/pipeline.py in
aws-samples/sagemaker-custom-project-templates): an Estimator over the XGBoost algorithm image with
the algorithm's own hyperparameters. The local cloud runs scripts, not built-in algorithms, so this
shape must fail at that step, saying why, after the preprocess step before it has run.
"""

from sagemaker import image_uris
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.processing import ProcessingInput, ProcessingOutput
from sagemaker.sklearn.processing import SKLearnProcessor
from sagemaker.workflow.parameters import ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.steps import ProcessingStep, TrainingStep
from v2_session import BUCKET, CODE, REGION, ROLE, SKLEARN_VERSION, data_uri, emit, pipeline_session

NAME = "corpus-builtin-algorithm"


def get_pipeline():
    session = pipeline_session()
    input_data = ParameterString(name="InputDataUrl", default_value=data_uri(NAME))
    preprocessor = SKLearnProcessor(
        framework_version=SKLEARN_VERSION,
        instance_type="ml.m5.xlarge",
        instance_count=1,
        base_job_name="builtin-preprocess",
        sagemaker_session=session,
        role=ROLE,
    )
    step_process = ProcessingStep(
        name="PreprocessData",
        step_args=preprocessor.run(
            inputs=[ProcessingInput(source=input_data, destination="/opt/ml/processing/input")],
            outputs=[
                ProcessingOutput(output_name="train", source="/opt/ml/processing/train"),
                ProcessingOutput(output_name="validation", source="/opt/ml/processing/validation"),
            ],
            code=str(CODE / "preprocess.py"),
        ),
    )
    xgboost = Estimator(
        image_uri=image_uris.retrieve("xgboost", region=REGION, version="1.7-1", instance_type="ml.m5.xlarge"),
        instance_type="ml.m5.xlarge",
        instance_count=1,
        output_path=f"s3://{BUCKET}/{NAME}/models",
        sagemaker_session=session,
        role=ROLE,
    )
    xgboost.set_hyperparameters(objective="reg:squarederror", num_round=20, max_depth=4, eta=0.2)
    outputs = step_process.properties.ProcessingOutputConfig.Outputs
    step_train = TrainingStep(
        name="TrainWithXGBoostAlgorithm",
        step_args=xgboost.fit(
            inputs={
                "train": TrainingInput(s3_data=outputs["train"].S3Output.S3Uri, content_type="text/csv"),
                "validation": TrainingInput(s3_data=outputs["validation"].S3Output.S3Uri, content_type="text/csv"),
            }
        ),
    )
    return Pipeline(name=NAME, parameters=[input_data], steps=[step_process, step_train], sagemaker_session=session)


if __name__ == "__main__":
    emit(get_pipeline())
