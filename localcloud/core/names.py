"""The names AWS accepts, checked before any of them becomes a file or a folder.

Each rule is the pattern and length limits of AWS's own API model for that member (the
service-2.json models botocore ships, which the API references are generated from). A name that
breaks its rule is refused with the error AWS gives, ``1 validation error detected: Value 'x' at
'processingJobName' failed to satisfy constraint: ...``, so a caller sees what AWS would say and
nothing reaches the disk. Ids the local cloud makes itself (build and execution ids) are checked
the same way when they come back in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from localcloud.core.errors import AwsError

_SAGEMAKER_NAME = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@dataclass(frozen=True)
class Rule:
    """One member's constraints: ``member`` is spelled as AWS's validation messages spell it."""

    member: str
    pattern: str
    min_length: int
    max_length: int
    code: str = "ValidationException"

    def problems(self, value: object) -> list[str]:
        """AWS's constraint messages for ``value`` (empty when it is a valid name)."""
        if not isinstance(value, str):
            return [f"Value '{value}' at '{self.member}' failed to satisfy constraint: Member must be a string"]
        found = []
        if len(value) < self.min_length:
            found.append(
                f"Value '{value}' at '{self.member}' failed to satisfy constraint: "
                f"Member must have length greater than or equal to {self.min_length}"
            )
        if len(value) > self.max_length:
            found.append(
                f"Value '{value}' at '{self.member}' failed to satisfy constraint: "
                f"Member must have length less than or equal to {self.max_length}"
            )
        if not re.fullmatch(self.pattern, value):
            found.append(
                f"Value '{value}' at '{self.member}' failed to satisfy constraint: "
                f"Member must satisfy regular expression pattern: ^{self.pattern}"
            )
        return found

    def at(self, member: str) -> Rule:
        """The same rule for a member nested in a list (``inputDataConfig.1.member.channelName``)."""
        return Rule(member, self.pattern, self.min_length, self.max_length, self.code)

    def check(self, value: object) -> str:
        """``value`` if valid, else AWS's validation error."""
        found = self.problems(value)
        if found:
            raise invalid(found, self.code)
        return value  # type: ignore[return-value]

    def is_valid(self, value: object) -> bool:
        return not self.problems(value)

    def generated(self, name: str) -> str:
        """A name CloudFormation made up (stack-LogicalId-SUFFIX) made to fit, as AWS's generated names do."""
        if self.is_valid(name):
            return name
        shaped = re.sub(r"-+", "-", re.sub(r"[^A-Za-z0-9-]", "-", name)).strip("-")
        if len(shaped) > self.max_length:
            head, _, suffix = shaped.rpartition("-")
            shaped = f"{head[: self.max_length - len(suffix) - 1].rstrip('-')}-{suffix}"
        return self.check(shaped)


def invalid(problems: list[str], code: str = "ValidationException") -> AwsError:
    count = len(problems)
    noun = "validation error" if count == 1 else "validation errors"
    return AwsError(code, f"{count} {noun} detected: {'; '.join(problems)}")


# SageMaker (sagemaker-2017-07-24) -----------------------------------------------------------------
PROCESSING_JOB = Rule("processingJobName", _SAGEMAKER_NAME, 1, 63)
TRAINING_JOB = Rule("trainingJobName", _SAGEMAKER_NAME, 1, 63)
ENDPOINT = Rule("endpointName", _SAGEMAKER_NAME, 0, 63)
ENDPOINT_CONFIG = Rule("endpointConfigName", _SAGEMAKER_NAME, 0, 63)
VARIANT = Rule("variantName", _SAGEMAKER_NAME, 0, 63)
MODEL = Rule("modelName", r"[a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])?", 0, 63)
CHANNEL = Rule("channelName", r"[A-Za-z0-9\.\-_]+", 1, 64)
PIPELINE = Rule("pipelineName", r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}", 1, 256)
PIPELINE_EXECUTION_ID = Rule("pipelineExecutionId", r"[a-z0-9]{12}", 12, 12)  # ours: 12 of [a-z0-9]
PROJECT = Rule("projectName", r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}", 1, 32)

# CodeCommit (codecommit-2015-04-13): CodeCommit answers a bad name with its own exception -----------
REPOSITORY = Rule("repositoryName", r"[\w\.-]+", 1, 100, code="InvalidRepositoryNameException")

# CodeBuild (codebuild-2016-10-06) ------------------------------------------------------------------
CODEBUILD_PROJECT = Rule("name", r"[A-Za-z0-9][A-Za-z0-9\-_]{1,149}", 2, 150, code="InvalidInputException")
BUILD_ID = Rule("id", rf"[A-Za-z0-9][A-Za-z0-9\-_]{{1,149}}:{_UUID}", 39, 187, code="InvalidInputException")
SOURCE_IDENTIFIER = Rule("sourceIdentifier", r"[A-Za-z0-9_]{1,127}", 1, 127, code="InvalidInputException")

# CodePipeline (codepipeline-2015-07-09) ------------------------------------------------------------
CODEPIPELINE_EXECUTION_ID = Rule("pipelineExecutionId", _UUID, 36, 36)

# Regions: only ever a path part when a request's signature names it --------------------------------
REGION = Rule("region", r"[a-z]{2}(-[a-z]+)+-[0-9]+", 9, 25)
