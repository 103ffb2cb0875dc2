"""Runs one Lambda handler invocation, as Lambda's Python runtime would, inside the sandbox.

    python lambda_runner.py <code dir> <module.function> <event.json> <result.json> <context.json>

Standard library only: it must not depend on anything but the function's own code. The handler's
return value (or its error, in Lambda's ``errorMessage``/``errorType`` shape) goes to result.json.
"""

import importlib
import json
import logging
import sys
import time
import traceback


class LambdaContext:
    """The attributes and method Lambda handlers use."""

    def __init__(self, meta):
        self.function_name = meta["function_name"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = meta["function_arn"]
        self.memory_limit_in_mb = meta["memory_size"]
        self.aws_request_id = meta["request_id"]
        self.log_group_name = meta["log_group_name"]
        self.log_stream_name = meta["log_stream_name"]
        self._deadline = time.monotonic() + meta["timeout_seconds"]

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main(argv):
    code_dir, handler_spec, event_path, result_path, context_path = argv
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="[%(levelname)s]\t%(asctime)s\t%(message)s")
    with open(event_path) as handle:
        event = json.load(handle)
    with open(context_path) as handle:
        context = LambdaContext(json.load(handle))
    sys.path.insert(0, code_dir)
    try:
        module_name, _, function_name = handler_spec.rpartition(".")
        if not module_name:
            raise ValueError(f"Handler {handler_spec!r} must look like <module>.<function>")
        handler = getattr(importlib.import_module(module_name.replace("/", ".")), function_name)
        outcome = {"returned": handler(event, context)}
        code = 0
    except Exception as error:
        traceback.print_exc(file=sys.stdout)
        outcome = {
            "errorMessage": str(error),
            "errorType": type(error).__name__,
            "stackTrace": traceback.format_exception(error),
        }
        code = 1
    with open(result_path, "w") as handle:
        json.dump(outcome, handle, default=str)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
