"""A pipeline that ends in a batch transform, written with SDK v2.

Modelled on aws/amazon-sagemaker-examples' sagemaker-pipelines/tabular/abalone_build_train_deploy
notebook (sagemaker-pipelines-preprocess-train-evaluate-batch-transform.ipynb): preprocess -> SKLearn
training -> ModelStep(model.create()) -> TransformStep over the test features, its input the
preprocess step's output and its model the ModelStep's ModelName. Classification on the iris data.
"""

from sagemaker.inputs import TrainingInput
from sagemaker.processing import ProcessingInput, ProcessingOutput
from sagemaker.sklearn.estimator import SKLearn
from sagemaker.sklearn.model import SKLearnModel
from sagemaker.sklearn.processing import SKLearnProcessor
from sagemaker.transformer import Transformer
from sagemaker.workflow.functions import Join
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.parameters import ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.steps import ProcessingStep, TrainingStep, TransformStep
from v2_session import BUCKET, CODE, ROLE, SKLEARN_VERSION, data_uri, emit, pipeline_session

NAME = "corpus-transform"


def get_pipeline():
    session = pipeline_session()
    input_data = ParameterString(name="InputDataUrl", default_value=data_uri(NAME))
    batch_data = ParameterString(name="BatchDataUrl", default_value=f"s3://{BUCKET}/{NAME}/batch/features.csv")

    preprocessor = SKLearnProcessor(
        framework_version=SKLEARN_VERSION,
        instance_type="ml.m5.xlarge",
        instance_count=1,
        base_job_name="transform-preprocess",
        sagemaker_session=session,
        role=ROLE,
    )
    step_process = ProcessingStep(
        name="PreprocessIrisData",
        step_args=preprocessor.run(
            inputs=[ProcessingInput(source=input_data, destination="/opt/ml/processing/input")],
            outputs=[ProcessingOutput(output_name="train", source="/opt/ml/processing/train")],
            code=str(CODE / "preprocess.py"),
        ),
    )
    estimator = SKLearn(
        entry_point="train.py",
        source_dir=str(CODE / "train"),
        framework_version=SKLEARN_VERSION,
        instance_type="ml.m5.xlarge",
        role=ROLE,
        sagemaker_session=session,
        base_job_name="transform-train",
        hyperparameters={"task": "classification"},
    )
    train_uri = step_process.properties.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri
    step_train = TrainingStep(
        name="TrainIrisModel",
        step_args=estimator.fit(inputs={"train": TrainingInput(s3_data=train_uri, content_type="text/csv")}),
    )
    model = SKLearnModel(
        model_data=step_train.properties.ModelArtifacts.S3ModelArtifacts,
        entry_point="inference.py",
        source_dir=str(CODE / "serve"),
        framework_version=SKLEARN_VERSION,
        role=ROLE,
        sagemaker_session=session,
    )
    step_model = ModelStep(name="CreateIrisModel", step_args=model.create(instance_type="ml.m5.large"))
    transformer = Transformer(
        model_name=step_model.properties.ModelName,
        instance_type="ml.m5.xlarge",
        instance_count=1,
        accept="text/csv",
        assemble_with="Line",
        output_path=Join(on="/", values=[f"s3://{BUCKET}", NAME, "transform-output"]),
        sagemaker_session=session,
    )
    step_transform = TransformStep(
        name="TransformIrisBatch",
        step_args=transformer.transform(data=batch_data, content_type="text/csv", split_type="Line"),
    )
    return Pipeline(
        name=NAME,
        parameters=[input_data, batch_data],
        steps=[step_process, step_train, step_model, step_transform],
        sagemaker_session=session,
    )


if __name__ == "__main__":
    emit(get_pipeline())
