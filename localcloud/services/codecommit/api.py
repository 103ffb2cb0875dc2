"""CodeCommit calls that moto lacks, answered from the bare repositories.

``GetBranch``, ``ListBranches``, ``CreateBranch``, ``DeleteBranch``, ``GetCommit`` and
``ListRepositories``; moto keeps ``CreateRepository``/``GetRepository``/``DeleteRepository``
(whose clone URLs ``repositories`` makes local).
"""

from __future__ import annotations

from typing import Any

from localcloud.core.errors import AwsError
from localcloud.services.codecommit import gitrepo, repositories

TARGET = "CodeCommit_20150413"


def _required(body: dict[str, Any], field: str, exception: str) -> str:
    value = body.get(field)
    if not value:
        raise AwsError(exception, f"{field} is required")
    return value


def _repository(call) -> tuple[str, Any]:
    name = _required(call.body, "repositoryName", "RepositoryNameRequiredException")
    return name, repositories.existing_path(call.account, call.region, name)


def _branch_commit(path, name: str, branch: str) -> str:
    commit = gitrepo.branches(path).get(branch)
    if commit is None:
        raise AwsError("BranchDoesNotExistException", f"Branch {branch!r} does not exist in repository {name}")
    return commit


def get_branch(call) -> dict[str, Any]:
    name, path = _repository(call)
    branch = _required(call.body, "branchName", "BranchNameRequiredException")
    return {"branch": {"branchName": branch, "commitId": _branch_commit(path, name, branch)}}


def list_branches(call) -> dict[str, Any]:
    _, path = _repository(call)
    return {"branches": sorted(gitrepo.branches(path))}


def create_branch(call) -> dict[str, Any]:
    name, path = _repository(call)
    branch = _required(call.body, "branchName", "BranchNameRequiredException")
    commit = _required(call.body, "commitId", "CommitIdRequiredException")
    if branch in gitrepo.branches(path):
        raise AwsError("BranchNameExistsException", f"Branch {branch!r} already exists in repository {name}")
    resolved = gitrepo.resolve_commit(path, commit)
    if resolved is None:
        raise AwsError("CommitDoesNotExistException", f"Commit {commit} does not exist in repository {name}")
    gitrepo.set_branch(path, branch, resolved)
    return {}


def delete_branch(call) -> dict[str, Any]:
    name, path = _repository(call)
    branch = _required(call.body, "branchName", "BranchNameRequiredException")
    commit = _branch_commit(path, name, branch)
    if gitrepo.default_branch(path) == branch:
        raise AwsError(
            "DefaultBranchCannotBeDeletedException",
            f"{branch!r} is the default branch of {name}: make another branch the default first",
        )
    gitrepo.delete_branch(path, branch)
    return {"deletedBranch": {"branchName": branch, "commitId": commit}}


def get_commit(call) -> dict[str, Any]:
    name, path = _repository(call)
    commit = _required(call.body, "commitId", "CommitIdRequiredException")
    resolved = gitrepo.resolve_commit(path, commit)
    if resolved is None:
        raise AwsError("CommitIdDoesNotExistException", f"Commit {commit} does not exist in repository {name}")
    return {"commit": gitrepo.commit_info(path, resolved)}


def list_repositories(call) -> dict[str, Any]:
    found = repositories.backend(call.account, call.region).repositories
    names = sorted(found, reverse=call.body.get("order") == "descending")
    return {
        "repositories": [
            {"repositoryName": n, "repositoryId": found[n].repository_metadata["repositoryId"]} for n in names
        ]
    }


HANDLERS = {
    "GetBranch": get_branch,
    "ListBranches": list_branches,
    "CreateBranch": create_branch,
    "DeleteBranch": delete_branch,
    "GetCommit": get_commit,
    "ListRepositories": list_repositories,
}


def register(cloud) -> None:
    for operation, handler in HANDLERS.items():
        cloud.gateway.json(TARGET, operation)(handler)
