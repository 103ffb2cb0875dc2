"""Build stage of the ModelDeploy pipeline.

Picks the newest Approved model package of the project, then writes what the
CloudFormation deploy actions consume: the exported template and one template
configuration file per stage ({"Parameters": ..., "Tags": ...}), merging the
stage file (staging-config.json / prod-config.json) with values derived from
the project. Every input is checked before anything is written, so a failed
build leaves no half-written output behind.

Run by buildspec.yml; the same command works on a workstation:
    python build.py            (settings from the environment, see README.md)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import boto3

from model_registry import NoApprovedModelPackage, latest_approved_model_package
from stage_config import ConfigError, StageConfig, load_stage_config
from template_parameters import TemplateError, load_parameters

LOG = logging.getLogger("build")

REQUIRED_ENVIRONMENT = (
    "SAGEMAKER_PROJECT_NAME",
    "SAGEMAKER_PROJECT_ID",
    "ARTIFACT_BUCKET",
    "MODEL_EXECUTION_ROLE_ARN",
    "MODEL_PACKAGE_GROUP_NAME",
)
STAGES = ("staging", "prod")


class BuildError(RuntimeError):
    """A problem with the build's inputs; the message says what to fix."""


def parse_args(argv: list[str] | None, environ: dict[str, str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", default="endpoint-config-template.yml", help="template to export")
    parser.add_argument("--import-staging-config", default="staging-config.json")
    parser.add_argument("--import-prod-config", default="prod-config.json")
    parser.add_argument("--export-template", default=environ.get("EXPORT_TEMPLATE_NAME", "template-export.yml"))
    parser.add_argument(
        "--export-staging-config",
        default=environ.get("EXPORT_TEMPLATE_STAGING_CONFIG", "staging-config-export.json"),
    )
    parser.add_argument(
        "--export-prod-config", default=environ.get("EXPORT_TEMPLATE_PROD_CONFIG", "prod-config-export.json")
    )
    parser.add_argument("--log-level", default=environ.get("LOG_LEVEL", "INFO"))
    return parser.parse_args(argv)


def project_settings(environ: dict[str, str]) -> dict[str, str]:
    """The build's required environment variables, or a BuildError naming the missing ones."""
    missing = [name for name in REQUIRED_ENVIRONMENT if not environ.get(name, "").strip()]
    if missing:
        raise BuildError(
            f"missing environment variable(s): {', '.join(missing)}. The ModelDeploy CodeBuild project sets "
            "them; when running build.py by hand, export them first (see README.md)."
        )
    return {name: environ[name].strip() for name in REQUIRED_ENVIRONMENT}


def stage_parameters(settings: dict[str, str], stage: str, model_package_arn: str) -> dict[str, str]:
    """Template parameters build.py sets for a stage, derived from the project and the registry."""
    project = settings["SAGEMAKER_PROJECT_NAME"]
    return {
        "SageMakerProjectName": project,
        "SageMakerProjectId": settings["SAGEMAKER_PROJECT_ID"],
        "ModelPackageName": model_package_arn,
        "ModelExecutionRoleArn": settings["MODEL_EXECUTION_ROLE_ARN"],
        "StageName": stage,
        "EndpointName": f"{project}-{stage}",
        "DataCaptureUploadPath": f"s3://{settings['ARTIFACT_BUCKET']}/datacapture-{stage}",
    }


def stage_tags(settings: dict[str, str], stage: str) -> dict[str, str]:
    return {
        "sagemaker:project-name": settings["SAGEMAKER_PROJECT_NAME"],
        "sagemaker:project-id": settings["SAGEMAKER_PROJECT_ID"],
        "sagemaker:deployment-stage": stage,
    }


def template_configuration(
    settings: dict[str, str], stage: str, model_package_arn: str, config: StageConfig
) -> dict[str, Any]:
    """A CloudFormation template configuration document for one stage."""
    return {
        "Parameters": {**stage_parameters(settings, stage, model_package_arn), **config.parameters},
        "Tags": {**config.tags, **stage_tags(settings, stage)},
    }


def check_against_template(
    document: dict[str, Any], template_parameters: dict[str, dict[str, Any]], source: str
) -> None:
    """Refuse a configuration CloudFormation would reject: unknown or missing parameters."""
    given = document["Parameters"]
    unknown = sorted(set(given) - set(template_parameters))
    missing = sorted(name for name, spec in template_parameters.items() if "Default" not in spec and name not in given)
    if unknown or missing:
        raise BuildError(
            f"{source}: parameters not declared by the template: {unknown or 'none'}; "
            f"required parameters without a value: {missing or 'none'}"
        )


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def run(args: argparse.Namespace, environ: dict[str, str], sagemaker_client: Any = None) -> dict[str, Any]:
    """Validate everything, choose the model package, then write the three exported files."""
    settings = project_settings(environ)
    template_parameters = load_parameters(Path(args.template))
    configs = {
        "staging": load_stage_config(args.import_staging_config, template_parameters),
        "prod": load_stage_config(args.import_prod_config, template_parameters),
    }

    if sagemaker_client is None:
        region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
        sagemaker_client = boto3.client("sagemaker", region_name=region)
    package = latest_approved_model_package(sagemaker_client, settings["MODEL_PACKAGE_GROUP_NAME"])
    package_arn = package["ModelPackageArn"]
    LOG.info(
        "Deploying model package %s (version %s, created %s)",
        package_arn,
        package.get("ModelPackageVersion", "?"),
        package.get("CreationTime", "?"),
    )

    exports = {
        "staging": Path(args.export_staging_config),
        "prod": Path(args.export_prod_config),
    }
    documents = {}
    for stage in STAGES:
        documents[stage] = template_configuration(settings, stage, package_arn, configs[stage])
        check_against_template(documents[stage], template_parameters, configs[stage].source)

    for stage in STAGES:
        write_json(exports[stage], documents[stage])
        LOG.info("Wrote %s (endpoint %s)", exports[stage], documents[stage]["Parameters"]["EndpointName"])
    if Path(args.template).resolve() != Path(args.export_template).resolve():
        shutil.copyfile(args.template, args.export_template)
    LOG.info("Wrote %s", args.export_template)
    return {"model_package_arn": package_arn, **documents}


def main(argv: list[str] | None = None, environ: dict[str, str] | None = None) -> int:
    environ = dict(os.environ if environ is None else environ)
    args = parse_args(argv, environ)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        run(args, environ)
    except (BuildError, ConfigError, TemplateError, NoApprovedModelPackage) as error:
        print(f"build.py: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
