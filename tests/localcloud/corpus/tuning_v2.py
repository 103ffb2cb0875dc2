"""A pipeline with a tuning step, written with SDK v2.

Modelled on aws/amazon-sagemaker-examples' sagemaker-pipelines/tabular/tuning-step notebook
(sagemaker-pipelines-tuning-step.ipynb) and aws-samples/sample-sagemaker-pipeline-with-hpo-step:
preprocess -> TuningStep (HyperparameterTuner over an SKLearn estimator, 3 jobs, the objective read
from the training log by a metric regex) -> evaluate the best job's model (get_top_model_s3_uri) ->
ConditionStep -> ModelStep(register) of that model. Classification on the breast cancer data.
"""

from sagemaker.inputs import TrainingInput
from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
from sagemaker.sklearn.estimator import SKLearn
from sagemaker.sklearn.model import SKLearnModel
from sagemaker.sklearn.processing import SKLearnProcessor
from sagemaker.tuner import ContinuousParameter, HyperparameterTuner
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.workflow.functions import JsonGet
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.parameters import ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.steps import ProcessingStep, TuningStep
from v2_session import BUCKET, CODE, ROLE, SKLEARN_VERSION, data_uri, emit, pipeline_session

NAME = "corpus-tuning"


def get_pipeline():
    session = pipeline_session()
    input_data = ParameterString(name="InputDataUrl", default_value=data_uri(NAME))
    group = ParameterString(name="ModelPackageGroupName", default_value="corpus-tuning-models")

    preprocessor = SKLearnProcessor(
        framework_version=SKLEARN_VERSION,
        instance_type="ml.m5.xlarge",
        instance_count=1,
        base_job_name="tuning-preprocess",
        sagemaker_session=session,
        role=ROLE,
    )
    step_process = ProcessingStep(
        name="PreprocessCancerData",
        step_args=preprocessor.run(
            inputs=[ProcessingInput(source=input_data, destination="/opt/ml/processing/input")],
            outputs=[
                ProcessingOutput(output_name="train", source="/opt/ml/processing/train"),
                ProcessingOutput(output_name="validation", source="/opt/ml/processing/validation"),
                ProcessingOutput(output_name="test", source="/opt/ml/processing/test"),
            ],
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
        base_job_name="tuning-train",
        hyperparameters={"task": "classification"},
        output_path=f"s3://{BUCKET}/{NAME}/tuning-models",
    )
    tuner = HyperparameterTuner(
        estimator,
        objective_metric_name="validation:score",
        hyperparameter_ranges={"regularization": ContinuousParameter(0.01, 10.0, scaling_type="Logarithmic")},
        metric_definitions=[{"Name": "validation:score", "Regex": "validation-score: ([0-9\\.]+)"}],
        objective_type="Maximize",
        max_jobs=3,
        max_parallel_jobs=1,
    )
    outputs = step_process.properties.ProcessingOutputConfig.Outputs
    step_tune = TuningStep(
        name="TuneCancerModel",
        step_args=tuner.fit(
            inputs={
                "train": TrainingInput(s3_data=outputs["train"].S3Output.S3Uri, content_type="text/csv"),
                "validation": TrainingInput(s3_data=outputs["validation"].S3Output.S3Uri, content_type="text/csv"),
            }
        ),
    )
    best_model = step_tune.get_top_model_s3_uri(top_k=0, s3_bucket=BUCKET, prefix=f"{NAME}/tuning-models")

    evaluator = ScriptProcessor(
        image_uri=estimator.training_image_uri(),
        command=["python3"],
        instance_type="ml.m5.xlarge",
        instance_count=1,
        base_job_name="tuning-eval",
        sagemaker_session=session,
        role=ROLE,
    )
    report = PropertyFile(name="BestModelEvaluation", output_name="evaluation", path="evaluation.json")
    step_eval = ProcessingStep(
        name="EvaluateBestModel",
        step_args=evaluator.run(
            inputs=[
                ProcessingInput(source=best_model, destination="/opt/ml/processing/model"),
                ProcessingInput(source=outputs["test"].S3Output.S3Uri, destination="/opt/ml/processing/test"),
            ],
            outputs=[ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation")],
            code=str(CODE / "evaluate.py"),
            arguments=["--task", "classification"],
        ),
        property_files=[report],
    )
    model = SKLearnModel(
        model_data=best_model,
        entry_point="inference.py",
        source_dir=str(CODE / "serve"),
        framework_version=SKLEARN_VERSION,
        role=ROLE,
        sagemaker_session=session,
    )
    step_register = ModelStep(
        name="RegisterBestModel",
        step_args=model.register(
            content_types=["text/csv", "application/json"],
            response_types=["application/json"],
            inference_instances=["ml.m5.large"],
            transform_instances=["ml.m5.large"],
            model_package_group_name=group,
            approval_status="Approved",
        ),
    )
    accuracy = JsonGet(
        step_name=step_eval.name, property_file=report, json_path="classification_metrics.accuracy.value"
    )
    step_cond = ConditionStep(
        name="CheckBestAccuracy",
        conditions=[ConditionGreaterThanOrEqualTo(left=accuracy, right=0.8)],
        if_steps=[step_register],
        else_steps=[],
    )
    return Pipeline(
        name=NAME,
        parameters=[input_data, group],
        steps=[step_process, step_tune, step_eval, step_cond],
        sagemaker_session=session,
    )


if __name__ == "__main__":
    emit(get_pipeline())
