"""The classic SageMaker Projects ModelBuild shape, written with SDK v2.

Modelled on AWS's "mlops-template-model-building" / sagemaker-pipelines-project seed
(pipelines/abalone/pipeline.py in aws-samples/sagemaker-custom-project-templates, and the
abalone notebook in aws/amazon-sagemaker-examples): SKLearnProcessor preprocess -> SKLearn
estimator (entry_point + source_dir) -> ScriptProcessor evaluation with a PropertyFile ->
ConditionStep whose if-branch is ModelStep(model.register(...)) with an entry_point (so the SDK adds
a repack step) and whose else-branch is a FailStep. Regression on scikit-learn's diabetes data.
"""

from sagemaker import image_uris
from sagemaker.inputs import TrainingInput
from sagemaker.model import Model
from sagemaker.model_metrics import MetricsSource, ModelMetrics
from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
from sagemaker.sklearn.estimator import SKLearn
from sagemaker.sklearn.processing import SKLearnProcessor
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.steps import ProcessingStep, TrainingStep
from v2_session import CODE, REGION, ROLE, SKLEARN_VERSION, data_uri, emit, pipeline_session

NAME = "corpus-classic"


def get_pipeline():
    session = pipeline_session()
    input_data = ParameterString(name="InputDataUrl", default_value=data_uri(NAME))
    instance_count = ParameterInteger(name="ProcessingInstanceCount", default_value=1)
    instance_type = ParameterString(name="TrainingInstanceType", default_value="ml.m5.xlarge")
    approval = ParameterString(name="ModelApprovalStatus", default_value="PendingManualApproval")
    r2_threshold = ParameterFloat(name="R2Threshold", default_value=0.2)
    group = ParameterString(name="ModelPackageGroupName", default_value="corpus-classic-models")

    preprocessor = SKLearnProcessor(
        framework_version=SKLEARN_VERSION,
        instance_type="ml.m5.xlarge",
        instance_count=instance_count,
        base_job_name="classic-preprocess",
        sagemaker_session=session,
        role=ROLE,
    )
    step_process = ProcessingStep(
        name="PreprocessDiabetesData",
        step_args=preprocessor.run(
            inputs=[ProcessingInput(source=input_data, destination="/opt/ml/processing/input")],
            outputs=[
                ProcessingOutput(output_name="train", source="/opt/ml/processing/train"),
                ProcessingOutput(output_name="validation", source="/opt/ml/processing/validation"),
                ProcessingOutput(output_name="test", source="/opt/ml/processing/test"),
            ],
            code=str(CODE / "preprocess.py"),
            arguments=["--seed", "11"],
        ),
    )

    estimator = SKLearn(
        entry_point="train.py",
        source_dir=str(CODE / "train"),
        framework_version=SKLEARN_VERSION,
        instance_type=instance_type,
        role=ROLE,
        sagemaker_session=session,
        base_job_name="classic-train",
        hyperparameters={"task": "regression", "alpha": 0.5},
    )
    outputs = step_process.properties.ProcessingOutputConfig.Outputs
    step_train = TrainingStep(
        name="TrainDiabetesModel",
        step_args=estimator.fit(
            inputs={
                "train": TrainingInput(s3_data=outputs["train"].S3Output.S3Uri, content_type="text/csv"),
                "validation": TrainingInput(s3_data=outputs["validation"].S3Output.S3Uri, content_type="text/csv"),
            }
        ),
    )

    evaluator = ScriptProcessor(
        image_uri=estimator.training_image_uri(),
        command=["python3"],
        instance_type="ml.m5.xlarge",
        instance_count=1,
        base_job_name="classic-eval",
        sagemaker_session=session,
        role=ROLE,
    )
    evaluation_report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
    step_eval = ProcessingStep(
        name="EvaluateDiabetesModel",
        step_args=evaluator.run(
            inputs=[
                ProcessingInput(
                    source=step_train.properties.ModelArtifacts.S3ModelArtifacts,
                    destination="/opt/ml/processing/model",
                ),
                ProcessingInput(source=outputs["test"].S3Output.S3Uri, destination="/opt/ml/processing/test"),
            ],
            outputs=[ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation")],
            code=str(CODE / "evaluate.py"),
            arguments=["--task", "regression"],
        ),
        property_files=[evaluation_report],
    )

    evaluation_uri = step_eval.arguments["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    model_metrics = ModelMetrics(
        model_statistics=MetricsSource(
            s3_uri=Join(on="/", values=[evaluation_uri, "evaluation.json"]), content_type="application/json"
        )
    )
    # A plain Model with an entry_point, as the seed's custom-inference variants write it: the SDK
    # repacks the trained model.tar.gz with code/inference.py at run time (a RepackModel step).
    inference_image = image_uris.retrieve(
        "sklearn", region=REGION, version=SKLEARN_VERSION, instance_type="ml.m5.large", image_scope="inference"
    )
    model = Model(
        image_uri=inference_image,
        model_data=step_train.properties.ModelArtifacts.S3ModelArtifacts,
        entry_point="inference.py",
        source_dir=str(CODE / "serve"),
        role=ROLE,
        sagemaker_session=session,
    )
    step_register = ModelStep(
        name="RegisterDiabetesModel",
        step_args=model.register(
            content_types=["text/csv", "application/json"],
            response_types=["application/json", "text/csv"],
            inference_instances=["ml.t2.medium", "ml.m5.large"],
            transform_instances=["ml.m5.large"],
            model_package_group_name=group,
            approval_status=approval,
            model_metrics=model_metrics,
        ),
    )
    r2 = JsonGet(step_name=step_eval.name, property_file=evaluation_report, json_path="regression_metrics.r2.value")
    step_fail = FailStep(
        name="R2BelowThreshold",
        error_message=Join(on=" ", values=["Execution failed: R2 is below the threshold", r2_threshold]),
    )
    step_cond = ConditionStep(
        name="CheckR2Evaluation",
        conditions=[ConditionGreaterThanOrEqualTo(left=r2, right=r2_threshold)],
        if_steps=[step_register],
        else_steps=[step_fail],
    )
    return Pipeline(
        name=NAME,
        parameters=[input_data, instance_count, instance_type, approval, r2_threshold, group],
        steps=[step_process, step_train, step_eval, step_cond],
        sagemaker_session=session,
    )


if __name__ == "__main__":
    emit(get_pipeline())
