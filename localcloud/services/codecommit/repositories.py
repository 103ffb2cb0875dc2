"""moto's CodeCommit records, each backed by a real bare repository.

``create_repository`` and ``delete_repository`` of moto's backend are wrapped, so the API and
CloudFormation both get a repository on disk, and the clone URLs moto reports (AWS hostnames) are
replaced by the repository's ``file://`` URL, which plain ``git clone``/``git push`` use locally.
"""

from __future__ import annotations

from pathlib import Path

from moto.codecommit.models import CodeCommitBackend, codecommit_backends
from moto.core.exceptions import JsonRESTError

from localcloud.core import moto_seam as seam
from localcloud.core import names
from localcloud.core.errors import AwsError
from localcloud.services.codecommit import gitrepo

NAME_RULES = (
    "Repository names can be any valid combination of letters, numbers, periods, underscores, and dashes "
    "between 1 and 100 characters in length."
)


def path_of(region: str, name: str) -> Path:
    """Where a repository lives: under the state folder of the cloud this process serves."""
    cloud = seam.bound()
    if cloud is None:
        raise RuntimeError("no local cloud is running in this process: no state folder for repositories")
    return gitrepo.repository_path(cloud.state.root, region, name)


def localise(metadata: dict, region: str) -> None:
    url = gitrepo.clone_url(path_of(region, metadata["repositoryName"]))
    metadata["cloneUrlHttp"] = url
    metadata["cloneUrlSsh"] = url


def backend(account: str, region: str) -> CodeCommitBackend:
    return codecommit_backends[account][region]


def existing_path(account: str, region: str, name: str) -> Path:
    """The bare repository of a repository moto knows, or CodeCommit's not-found error."""
    names.REPOSITORY.check(name)
    if name not in backend(account, region).repositories:
        raise AwsError("RepositoryDoesNotExistException", f"{name} does not exist")
    return path_of(region, name)


def _wrap_create(original):
    def create_repository(self, repository_name, repository_description):
        problems = names.REPOSITORY.problems(repository_name) or names.REGION.problems(self.region_name)
        if problems:  # before moto records it: the name becomes a folder (API and CloudFormation alike)
            raise JsonRESTError(names.REPOSITORY.code, f"{names.invalid(problems).message}. {NAME_RULES}")
        metadata = original(self, repository_name, repository_description)
        path = path_of(self.region_name, repository_name)
        try:
            gitrepo.remove(path)  # a leftover from a repository deleted while the cloud was down
            gitrepo.create(path)
        except Exception:
            self.repositories.pop(repository_name, None)
            raise
        localise(metadata, self.region_name)
        return metadata

    return create_repository


def _wrap_delete(original):
    def delete_repository(self, repository_name):
        repository_id = original(self, repository_name)
        if repository_id:
            gitrepo.remove(path_of(self.region_name, repository_name))
        return repository_id

    return delete_repository


def patch_backend() -> None:
    until = "moto keeping repository contents (it records metadata only)"
    seam.patch(
        CodeCommitBackend,
        "create_repository",
        wrap=_wrap_create,
        why="a repository is a bare git repository on disk, with its push hook; the name is checked first",
        until=until,
    )
    seam.patch(
        CodeCommitBackend,
        "delete_repository",
        wrap=_wrap_delete,
        why="deleting a repository removes its git repository",
        until=until,
    )


def reconcile() -> None:
    """After a restart: every known repository has its bare repository, current hook and local URLs."""
    for _account, regions in codecommit_backends.items():
        for region, region_backend in regions.items():
            for name, repository in region_backend.repositories.items():
                path = path_of(region, name)
                if not path.is_dir():
                    gitrepo.create(path)
                else:
                    gitrepo.install_hook(path)
                localise(repository.repository_metadata, region)
