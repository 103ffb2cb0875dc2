"""Source actions: the branch's tree from a local repository (or an S3 object) as the output artifact."""

from __future__ import annotations

from localcloud.services.codebuild import sources
from localcloud.services.codepipeline.actions import ActionContext, ActionFailed, Outcome


def _only_output(ctx: ActionContext) -> dict[str, str]:
    if len(ctx.outputs) != 1:
        raise ActionFailed(
            f"source action {ctx.action['name']} needs exactly one output artifact", "ConfigurationError"
        )
    return next(iter(ctx.outputs.values()))


def _from_repository(ctx: ActionContext, repository: str, branch: str) -> tuple[str, dict[str, str]]:
    try:
        repo = sources.repository_path(ctx.cloud.state.root, ctx.region, repository)
        commit = sources.resolve_commit(repo, f"refs/heads/{branch}")
        archive = sources.archive(repo, commit)
        details = sources.commit_details(repo, commit)
    except sources.SourceError as error:
        raise ActionFailed(f"source {repository}@{branch}: {error}") from error
    target = _only_output(ctx)
    ctx.client("s3").put_object(Bucket=target["bucket"], Key=target["key"], Body=archive)
    return commit, details


def run_codecommit(ctx: ActionContext) -> Outcome:
    repository, branch = ctx.require("RepositoryName"), ctx.require("BranchName")
    commit, details = _from_repository(ctx, repository, branch)
    return Outcome(
        summary=details["CommitMessage"][:2048],
        external_id=commit,
        output_variables={
            "CommitId": commit,
            "CommitMessage": details["CommitMessage"],
            "AuthorDate": details["AuthorDate"],
            "CommitterDate": details["CommitterDate"],
            "BranchName": branch,
            "RepositoryName": repository,
        },
        revision={"revisionId": commit, "revisionSummary": details["CommitMessage"]},
    )


def run_connection(ctx: ActionContext) -> Outcome:
    full_name, branch = ctx.require("FullRepositoryId"), ctx.require("BranchName")
    commit, details = _from_repository(ctx, sources.repository_name(full_name), branch)
    return Outcome(
        summary=details["CommitMessage"][:2048],
        external_id=commit,
        output_variables={
            "CommitId": commit,
            "CommitMessage": details["CommitMessage"],
            "AuthorDate": details["AuthorDate"],
            "BranchName": branch,
            "FullRepositoryName": full_name,
            "ConnectionArn": ctx.configuration.get("ConnectionArn", ""),
        },
        revision={"revisionId": commit, "revisionSummary": details["CommitMessage"]},
    )


def run_s3(ctx: ActionContext) -> Outcome:
    bucket, key = ctx.require("S3Bucket"), ctx.require("S3ObjectKey")
    s3 = ctx.client("s3")
    try:
        obj = s3.get_object(Bucket=bucket, Key=key)
    except (s3.exceptions.NoSuchKey, s3.exceptions.NoSuchBucket) as missing:
        raise ActionFailed(f"source s3://{bucket}/{key} does not exist") from missing
    target = _only_output(ctx)
    s3.put_object(Bucket=target["bucket"], Key=target["key"], Body=obj["Body"].read())
    version = obj.get("VersionId") or obj.get("ETag", "").strip('"')
    return Outcome(
        summary=f"s3://{bucket}/{key}",
        external_id=version,
        output_variables={
            "ObjectKey": key,
            "ETag": obj.get("ETag", "").strip('"'),
            "VersionId": obj.get("VersionId") or "",
        },
        revision={"revisionId": version, "revisionSummary": f"s3://{bucket}/{key}"},
    )
