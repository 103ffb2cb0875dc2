"""The core: the server, request routing and HTTP, admission, durable state, config, errors, names and
paths, the sandbox, and what touches moto's internals. Nothing here knows an AWS service."""
