"""Print (or write) the pipeline definition JSON without creating or running the pipeline.

Useful to review what a change to the steps does before pushing it. Building the definition
uploads the step code to the default bucket, so the bucket must exist and be writable.

    python -m pipelines.get_pipeline_definition --file-name pipeline-definition.json

Options default to the same CodeBuild environment variables as run_pipeline.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from pipelines.run_pipeline import build_arg_parser, pipeline_from_args, resolve_args


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = build_arg_parser()
    parser.description = "Print or write the ModelBuild pipeline definition."
    parser.add_argument("--file-name", type=Path, default=None, help="write the JSON here instead of stdout")
    args = resolve_args(parser, argv)

    pipeline = pipeline_from_args(args)
    definition = json.dumps(json.loads(pipeline.definition()), indent=2, sort_keys=False)
    if args.file_name:
        args.file_name.parent.mkdir(parents=True, exist_ok=True)
        args.file_name.write_text(definition + "\n")
        print(f"wrote {args.file_name}", file=out)
    else:
        print(definition, file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
