"""A FrameworkProcessor pipeline, written with SDK v2.

Modelled on aws/amazon-sagemaker-examples' sagemaker-pipelines/tabular/local-mode/framework-processor
notebook (sagemaker-pipelines-local-mode-fp.ipynb): a FrameworkProcessor (scikit-learn estimator class)
runs a script from a source_dir whose requirements.txt the SDK's runproc.sh installs before the script,
then an SKLearn estimator trains and a ModelStep registers the model. Classification on the wine data.
"""

from sagemaker.inputs import TrainingInput
from sagemaker.processing import FrameworkProcessor, ProcessingInput, ProcessingOutput
from sagemaker.sklearn.estimator import SKLearn
from sagemaker.sklearn.model import SKLearnModel
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.parameters import ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.steps import ProcessingStep, TrainingStep
from v2_session import CODE, ROLE, SKLEARN_VERSION, data_uri, emit, pipeline_session

NAME = "corpus-framework-processor"


def get_pipeline():
    session = pipeline_session()
    input_data = ParameterString(name="InputDataUrl", default_value=data_uri(NAME))
    group = ParameterString(name="ModelPackageGroupName", default_value="corpus-framework-models")

    processor = FrameworkProcessor(
        estimator_cls=SKLearn,
        framework_version=SKLEARN_VERSION,
        role=ROLE,
        instance_type="ml.m5.xlarge",
        instance_count=1,
        base_job_name="fp-featurize",
        sagemaker_session=session,
    )
    step_featurize = ProcessingStep(
        name="FeaturizeWine",
        step_args=processor.run(
            code="featurize.py",
            source_dir=str(CODE / "featurize"),
            inputs=[ProcessingInput(source=input_data, destination="/opt/ml/processing/input")],
            outputs=[
                ProcessingOutput(output_name="train", source="/opt/ml/processing/train"),
                ProcessingOutput(output_name="test", source="/opt/ml/processing/test"),
                ProcessingOutput(output_name="report", source="/opt/ml/processing/report"),
            ],
        ),
    )
    estimator = SKLearn(
        entry_point="train.py",
        source_dir=str(CODE / "train"),
        framework_version=SKLEARN_VERSION,
        instance_type="ml.m5.xlarge",
        role=ROLE,
        sagemaker_session=session,
        base_job_name="fp-train",
        hyperparameters={"task": "classification", "regularization": 2.0},
    )
    train_uri = step_featurize.properties.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri
    step_train = TrainingStep(
        name="TrainWineModel",
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
    step_register = ModelStep(
        name="RegisterWineModel",
        step_args=model.register(
            content_types=["text/csv", "application/json"],
            response_types=["application/json"],
            inference_instances=["ml.m5.large"],
            transform_instances=["ml.m5.large"],
            model_package_group_name=group,
            approval_status="Approved",
        ),
    )
    return Pipeline(
        name=NAME,
        parameters=[input_data, group],
        steps=[step_featurize, step_train, step_register],
        sagemaker_session=session,
    )


if __name__ == "__main__":
    emit(get_pipeline())
