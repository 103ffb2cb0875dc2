"""``localcloud images``: the scikit-learn images jobs and model servers run on, and preparing them.

An image's environment is built on first use, from the package index; ``prepare`` builds it ahead
(``make install`` prepares the seed's 1.9-0), so that jobs naming it run without network.
"""

from __future__ import annotations

import sys

from localcloud.services.sagemaker.images import environments, table
from localcloud.tools.commands import table as text_table


def _chosen(versions: list[str]) -> list[table.FrameworkImage]:
    unknown = [version for version in versions if version not in table.IMAGES]
    if unknown:
        raise RuntimeError(
            f"no scikit-learn image {', '.join(unknown)} in the local cloud's table: "
            f"choose among {', '.join(table.supported())}"
        )
    return [table.IMAGES[version] for version in versions]


def cmd_list(args) -> int:  # noqa: ARG001
    rows = []
    for image in table.IMAGES.values():
        built = environments.find(image)
        rows.append([image.version, image.python, "built" if built else "not built", " ".join(image.libraries[:4])])
    print(text_table(rows, ["image", "python", "environment", "libraries"]))
    print(f"environments live in {environments.cache_root()} (${environments.CACHE_VARIABLE} moves them)")
    return 0


def cmd_prepare(args) -> int:
    say = (lambda line: None) if args.quiet else print
    for image in _chosen(args.versions or table.supported()):
        built = environments.prepare(image, say)
        print(f"scikit-learn {image.version}: Python {built.manifest()['python']} in {built.folder}")
    return 0


def cmd_python(args) -> int:
    """The environment's python3 on stdout (prepared first if need be, its progress on stderr)."""
    (image,) = _chosen([args.version])
    print(environments.prepare(image, lambda line: print(line, file=sys.stderr)).python)
    return 0


def add_parser(commands) -> None:
    images = commands.add_parser("images", help="the scikit-learn images jobs run on").add_subparsers(
        dest="images_command", required=True
    )
    images.add_parser("list", help="the supported images and whether each is built").set_defaults(run=cmd_list)
    prepare = images.add_parser("prepare", help="build images' environments now (default: all)")
    prepare.add_argument("versions", nargs="*", metavar="VERSION", help="e.g. 1.9-0 1.2-1")
    prepare.add_argument("--quiet", action="store_true", help="print only the result, not pip's progress")
    prepare.set_defaults(run=cmd_prepare)
    python = images.add_parser("python", help="print the python3 of an image's environment (prepared first if need be)")
    python.add_argument("version", metavar="VERSION")
    python.set_defaults(run=cmd_python)
