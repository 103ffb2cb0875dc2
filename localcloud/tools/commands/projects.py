"""``localcloud publish`` and ``localcloud projects``: the product and the projects made from it."""

from __future__ import annotations

from localcloud.core import config
from localcloud.tools import daemon
from localcloud.tools.commands import client, table
from localcloud.tools.lifecycle import Lifecycle


def publish_product(args) -> int:
    from localcloud.tools.publish import publish

    current = daemon.status()
    result = publish(config.REPO_ROOT / args.cdk_out, current.url or _not_running(), state=current.state_dir)
    for stack, status in result.stacks.items():
        print(f"{stack}: {status}")
    for product in result.products:
        print(
            f"product {product['ProductId']} (provisioning artifacts: {', '.join(product['ProvisioningArtifactIds'])})"
        )
    return 0


def _not_running() -> str:
    raise RuntimeError("the local cloud is not running: start it with 'localcloud start'")


def _clone_urls(project_name: str) -> list[str]:
    codecommit = client("codecommit")
    urls = []
    for suffix in ("modelbuild", "modeldeploy"):
        name = f"sagemaker-{project_name}-{suffix}"
        try:
            urls.append(codecommit.get_repository(repositoryName=name)["repositoryMetadata"]["cloneUrlHttp"])
        except codecommit.exceptions.RepositoryDoesNotExistException:
            pass
    return urls


def create(args) -> int:
    print(f"creating project {args.name} ...", flush=True)
    project = Lifecycle(client).create_project(args.name, dict(p.split("=", 1) for p in args.parameter))
    print(f"project {project.name} created, id {project.project_id}")
    for url in _clone_urls(project.name):
        print(f"  git clone {url}")
    return 0


def list_projects(args) -> int:  # noqa: ARG001
    projects = client("sagemaker").list_projects(SortBy="CreationTime", SortOrder="Descending")["ProjectSummaryList"]
    if not projects:
        print("no projects")
        return 0
    rows = [
        [p["ProjectName"], p["ProjectId"], p["ProjectStatus"], p["CreationTime"].strftime("%Y-%m-%d %H:%M")]
        for p in projects
    ]
    print(table(rows, ["project", "id", "status", "created"]))
    for project in projects:
        for url in _clone_urls(project["ProjectName"]):
            print(f"  {project['ProjectName']}: git clone {url}")
    return 0


def update(args) -> int:
    target = args.template_url or args.artifact or "its product's newest provisioning artifact"
    print(f"updating project {args.name} to {target} ...", flush=True)
    described = Lifecycle(client).update_project(
        args.name, args.artifact, args.template_url, dict(p.split("=", 1) for p in args.parameter)
    )
    print(f"project {args.name}: {described['ProjectStatus']}")
    return 0


def delete(args) -> int:
    print(f"deleting project {args.name} (its endpoints, bucket contents and repositories) ...", flush=True)
    Lifecycle(client).delete_project(args.name)
    print(f"project {args.name} deleted")
    return 0


def add_parser(commands) -> None:
    publish = commands.add_parser("publish", help="publish the synthesized product (make synth) into the local cloud")
    publish.add_argument("--cdk-out", default="cdk.out")
    publish.set_defaults(run=publish_product)
    projects = commands.add_parser("projects", help="SageMaker projects made from the product")
    sub = projects.add_subparsers(dest="projects_command", required=True)
    creating = sub.add_parser("create", help="create a project, as SageMaker Studio does")
    creating.add_argument("name")
    creating.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a product parameter, e.g. DataArrivalTrigger=true",
    )
    creating.set_defaults(run=create)
    sub.add_parser("list", help="projects with their status and clone URLs").set_defaults(run=list_projects)
    updating = sub.add_parser(
        "update", help="move a project to a republished template (an UpdateStack; a failure rolls back)"
    )
    updating.add_argument("name")
    updating.add_argument("--artifact", help="provisioning artifact id (default: the product's newest)")
    updating.add_argument("--template-url", help="for a project made from an S3 template: the new template's URL")
    updating.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE", help="a new value")
    updating.set_defaults(run=update)
    deleting = sub.add_parser("delete", help="delete a project and what it created")
    deleting.add_argument("name")
    deleting.set_defaults(run=delete)
