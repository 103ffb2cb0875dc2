"""Batch transform jobs that really run: CreateTransformJob, DescribeTransformJob, ListTransformJobs.

moto records transform jobs but runs nothing. Here a job serves its model as an endpoint would (the
same model folder and model server, ``serving/``), sends every input object of ``TransformInput``
(or every line, with ``SplitType: Line``) to ``/invocations`` one record at a time (``SingleRecord``)
or as many lines as fit in ``MaxPayloadInMB`` (``MultiRecord``), and writes ``<input name>.out``
under ``S3OutputPath``, the answers one after the other (``AssembleWith: Line``: one a line). Then
the server stops. One instance and one invocation at a time, whatever ``TransformResources`` and
``MaxConcurrentTransforms`` say. Records are JSON under ``sagemaker/transform-jobs/``.
"""

from __future__ import annotations

import gzip
import json
import shutil
import time
from pathlib import Path
from typing import Any

from moto.backends import get_backend

from localcloud import ACCOUNT_ID
from localcloud.core import names
from localcloud.core.errors import AwsError, validation_error
from localcloud.core.paths import contained
from localcloud.services.sagemaker import s3io
from localcloud.services.sagemaker.job_service import JobService
from localcloud.services.sagemaker.serving import artifacts, fleet
from localcloud.services.sagemaker.serving.artifacts import DeploymentError
from localcloud.services.sagemaker.serving.fleet import ServerFailed
from localcloud.services.sagemaker.serving.proxy import UpstreamUnavailable

FOLDER = "sagemaker/transform-jobs"
TRANSFORM_JOB = names.Rule("transformJobName", r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", 1, 63)
DEFAULT_PAYLOAD_MB = 6


class TransformFailed(Exception):
    """The job cannot finish; the message is its FailureReason."""


def check_transform_request(request: dict[str, Any]) -> None:
    """Refuse what SageMaker refuses and what the local cloud cannot do, naming the field and the fix."""
    TRANSFORM_JOB.check(request.get("TransformJobName"))
    if not request.get("ModelName"):
        raise validation_error("ModelName is required: the model whose container transforms the data")
    source = ((request.get("TransformInput") or {}).get("DataSource") or {}).get("S3DataSource") or {}
    if not source.get("S3Uri"):
        raise validation_error("TransformInput.DataSource.S3DataSource.S3Uri is required")
    if source.get("S3DataType", "S3Prefix") not in ("S3Prefix", "ManifestFile"):
        raise validation_error(
            f"TransformInput.DataSource.S3DataSource.S3DataType {source['S3DataType']!r} is not run by the local "
            "cloud: use S3Prefix or ManifestFile"
        )
    transform_input = request["TransformInput"]
    if transform_input.get("SplitType", "None") not in ("None", "Line"):
        raise validation_error(
            f"TransformInput.SplitType {transform_input['SplitType']!r} is not run by the local cloud: use None or Line"
        )
    if transform_input.get("CompressionType", "None") not in ("None", "Gzip"):
        raise validation_error("TransformInput.CompressionType must be None or Gzip")
    if request.get("BatchStrategy", "MultiRecord") not in ("MultiRecord", "SingleRecord"):
        raise validation_error("BatchStrategy must be MultiRecord or SingleRecord")
    output = request.get("TransformOutput") or {}
    if not str(output.get("S3OutputPath", "")).startswith("s3://"):
        raise validation_error("TransformOutput.S3OutputPath is required: an s3:// prefix for the .out files")
    if output.get("AssembleWith", "None") not in ("None", "Line"):
        raise validation_error("TransformOutput.AssembleWith must be None or Line")
    processing = request.get("DataProcessing") or {}
    for field in ("InputFilter", "OutputFilter"):
        if processing.get(field, "$") != "$":
            raise validation_error(
                f"DataProcessing.{field} {processing[field]!r} is not applied by the local cloud: leave it '$' "
                "(the whole record) and select in the inference script"
            )
    if processing.get("JoinSource", "None") not in ("None", "Input"):
        raise validation_error("DataProcessing.JoinSource must be None or Input")
    if processing.get("JoinSource") == "Input" and (
        transform_input.get("ContentType") != "text/csv" or transform_input.get("SplitType") != "Line"
    ):
        raise validation_error(
            "DataProcessing.JoinSource Input is joined locally for CSV lines only: set TransformInput.ContentType "
            "text/csv and SplitType Line, or drop JoinSource"
        )
    if request.get("DataCaptureConfig"):
        raise validation_error(
            "DataCaptureConfig (capturing a batch transform's inputs and outputs) is not done by the local cloud: "
            "drop it, or read the inputs and the .out files from S3"
        )
    payload = request.get("MaxPayloadInMB", DEFAULT_PAYLOAD_MB)
    if not isinstance(payload, int) or not 0 <= payload <= 100:
        raise validation_error("MaxPayloadInMB must be an integer from 0 to 100")


def _relative_name(key: str, prefix: str) -> str:
    """An input's name under the output path: its key below the S3Uri prefix (its base name if equal)."""
    if key == prefix or not key.startswith(prefix):
        return key.rsplit("/", 1)[-1]
    return key[len(prefix) :].lstrip("/") or key.rsplit("/", 1)[-1]


def _records(body: bytes, split: str) -> list[bytes]:
    if split != "Line":
        return [body]
    return [line for line in body.split(b"\n") if line.strip()]


def _batches(records: list[bytes], strategy: str, split: str, limit_mb: int) -> list[list[bytes]]:
    """Invocations: one record each (SingleRecord), or lines packed up to the payload limit (MultiRecord)."""
    if strategy == "SingleRecord" or split != "Line":
        return [[record] for record in records]
    limit = (limit_mb or DEFAULT_PAYLOAD_MB) * 1024 * 1024
    batches: list[list[bytes]] = []
    size = 0
    for record in records:
        if batches and size + len(record) + 1 <= limit:
            batches[-1].append(record)
            size += len(record) + 1
        else:
            batches.append([record])
            size = len(record) + 1
    return batches


class TransformService(JobService):
    """Transform jobs for the API and for pipeline Transform steps alike."""

    FOLDER = FOLDER
    NAME, STATUS, END_TIME, KIND = "TransformJobName", "TransformJobStatus", "TransformEndTime", "job"
    NAME_RULE = TRANSFORM_JOB

    def __init__(self, cloud):
        super().__init__(cloud, workers=1)
        self.root = cloud.state.root / "transform"
        self.records = self.root / "servers"

    # records ----------------------------------------------------------------------------
    def find(self, name: str) -> dict[str, Any] | None:
        if not TRANSFORM_JOB.is_valid(name):
            return None
        path = self.cloud.state.root / FOLDER / f"{name.lower()}.json"
        return json.loads(path.read_text()) if path.exists() else None

    # the API ----------------------------------------------------------------------------
    def new_record(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        check_transform_request(request)
        name = request["TransformJobName"]
        now = time.time()
        return {
            **{k: v for k, v in request.items() if k != "Tags"},
            "TransformJobArn": f"arn:aws:sagemaker:{region}:{ACCOUNT_ID}:transform-job/{name.lower()}",
            "TransformJobStatus": "InProgress",
            "CreationTime": now,
            "Region": region,
        }

    def create(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        with self._lock:
            if self.find(request.get("TransformJobName", "")):
                raise AwsError("ResourceInUse", f"Job name {request['TransformJobName']} must be unique")
            record = self.new_record(request, region)
        self.save(record)
        self.submit(record)
        return {"TransformJobArn": record["TransformJobArn"]}

    def describe(self, name: str) -> dict[str, Any]:
        record = self.find(name)
        if record is None:
            raise AwsError("ValidationException", f"Could not find requested job with name {name}")
        return {k: v for k, v in record.items() if k not in ("Region", "PipelineExecutionArn")}

    def list(self, body: dict[str, Any]) -> dict[str, Any]:
        records = self.cloud.state.list_json(FOLDER)
        if body.get("NameContains"):
            records = [r for r in records if body["NameContains"] in r["TransformJobName"]]
        if body.get("StatusEquals"):
            records = [r for r in records if r["TransformJobStatus"] == body["StatusEquals"]]
        records.sort(key=lambda r: r["CreationTime"], reverse=body.get("SortOrder", "Descending") == "Descending")
        keys = (
            "TransformJobName",
            "TransformJobArn",
            "CreationTime",
            "TransformEndTime",
            "LastModifiedTime",
            "TransformJobStatus",
            "FailureReason",
        )
        return {
            "TransformJobSummaries": [{k: r[k] for k in keys if k in r} for r in records[: body.get("MaxResults", 100)]]
        }

    # running ----------------------------------------------------------------------------
    def run(self, record: dict[str, Any]) -> dict[str, Any]:
        """Serve the model, send every record, write the outputs; returns the final record."""
        record["TransformStartTime"] = time.time()
        self.save(record)
        folder = contained(self.root, "jobs", TRANSFORM_JOB.check(record["TransformJobName"]).lower(), what="job")
        server, session = None, None
        try:
            s3 = self.cloud.client("s3", record["Region"])
            backend = get_backend("sagemaker")[ACCOUNT_ID][record["Region"]]
            try:
                spec = artifacts.resolve_variant(
                    backend, {"VariantName": "AllTraffic", "ModelName": record["ModelName"]}
                )
            except DeploymentError as error:
                raise TransformFailed(f"ClientError: {error}") from None
            if folder.exists():
                shutil.rmtree(folder)  # a rerun after a restart starts clean
            (folder / "ml").mkdir(parents=True)
            try:
                environment = artifacts.prepare(s3, spec, folder / "ml")
            except DeploymentError as error:
                raise TransformFailed(f"ClientError: {error}") from None
            session = self.cloud.session_environment()
            environment = {
                **session,
                "SAGEMAKER_MODEL_SERVER_WORKERS": "1",
                **environment,
                **(record.get("Environment") or {}),
                "SAGEMAKER_BATCH": "true",
                "SAGEMAKER_MAX_PAYLOAD_IN_MB": str(record.get("MaxPayloadInMB", DEFAULT_PAYLOAD_MB)),
                "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "1",
            }
            try:
                server = fleet.start(
                    folder, "AllTraffic", environment, self.records, spec.network_isolation, spec.image
                )
            except DeploymentError as error:
                raise TransformFailed(f"ClientError: the model could not be served: {error}") from None
            try:
                server.wait_ready(cancelled=self.cloud.stopping.is_set)
            except ServerFailed as error:
                raise TransformFailed(f"ClientError: the model could not be served: {error}") from None
            self._transform_all(record, s3, server)
            record["TransformJobStatus"] = "Completed"
        except TransformFailed as failure:
            record.update(TransformJobStatus="Failed", FailureReason=str(failure)[:1024])
        except Exception as error:  # a transfer or the server broke: the platform's failure
            record.update(TransformJobStatus="Failed", FailureReason=f"InternalServerError: {error}"[:1024])
        finally:
            if server is not None:
                self._ship_logs(record, server.log_path)
                server.stop()
            if session is not None:
                self.cloud.end_session(session)  # the job is over: its key signs nothing more
        if self.cloud.stopping.is_set() and record["TransformJobStatus"] == "Failed":
            return record  # cut off by a shutdown; resume() decides
        record["TransformEndTime"] = time.time()
        self.save(record)
        shutil.rmtree(folder, ignore_errors=True)
        return record

    def _inputs(self, s3, record: dict[str, Any]) -> list[tuple[str, str, str]]:
        """(bucket, key, name under the output path) of every input object."""
        source = record["TransformInput"]["DataSource"]["S3DataSource"]
        bucket, prefix = s3io.split_uri(source["S3Uri"])
        if source.get("S3DataType", "S3Prefix") == "ManifestFile":
            body = s3.get_object(Bucket=bucket, Key=prefix)["Body"].read()
            try:
                manifest = json.loads(body)
                base = manifest[0]["prefix"]
                entries = [str(item) for item in manifest[1:]]
            except (ValueError, KeyError, IndexError, TypeError):
                raise TransformFailed(
                    f"ClientError: manifest {source['S3Uri']} must be a JSON list: "
                    '[{"prefix": "s3://bucket/prefix/"}, "relative/key", ...]'
                ) from None
            base_bucket, base_prefix = s3io.split_uri(base)
            return [(base_bucket, base_prefix + entry, entry) for entry in entries]
        keys = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [item["Key"] for item in page.get("Contents", []) if not item["Key"].endswith("/")]
        if not keys:
            raise TransformFailed(f"ClientError: no objects under {source['S3Uri']}: upload the data to transform")
        return [(bucket, key, _relative_name(key, prefix)) for key in sorted(keys)]

    def _transform_all(self, record: dict[str, Any], s3, server) -> None:
        transform_input = record["TransformInput"]
        output = record["TransformOutput"]
        split = transform_input.get("SplitType", "None")
        strategy = record.get("BatchStrategy", "MultiRecord")
        join = (record.get("DataProcessing") or {}).get("JoinSource") == "Input"
        headers = {}
        if transform_input.get("ContentType"):
            headers["content-type"] = transform_input["ContentType"]
        if output.get("Accept"):
            headers["accept"] = output["Accept"]
        out_bucket, out_prefix = s3io.split_uri(output["S3OutputPath"])
        for bucket, key, name in self._inputs(s3, record):
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            if transform_input.get("CompressionType") == "Gzip":
                try:
                    body = gzip.decompress(body)
                except OSError as error:
                    raise TransformFailed(f"ClientError: s3://{bucket}/{key} is not gzip data: {error}") from None
            answers: list[bytes] = []
            for batch in _batches(_records(body, split), strategy, split, record.get("MaxPayloadInMB", 6)):
                answer = self._invoke(server, b"\n".join(batch), headers, f"s3://{bucket}/{key}")
                if join:
                    answer = self._joined(batch, answer, f"s3://{bucket}/{key}")
                answers.append(answer)
            if output.get("AssembleWith") == "Line":
                text = b"".join(a if a.endswith(b"\n") else a + b"\n" for a in answers)
            else:
                text = b"".join(answers)
            s3.put_object(Bucket=out_bucket, Key=f"{out_prefix.rstrip('/')}/{name}.out".lstrip("/"), Body=text)

    @staticmethod
    def _invoke(server, body: bytes, headers: dict[str, str], where: str) -> bytes:
        try:
            answer = server.upstream.post("/invocations", body, headers)
        except UpstreamUnavailable as error:
            raise TransformFailed(f"ClientError: the model server did not answer for {where}: {error}") from None
        if not 200 <= answer.status < 300:
            detail = answer.body[:512].decode("utf-8", errors="replace")
            raise TransformFailed(f"ClientError: the model answered {answer.status} for a record of {where}: {detail}")
        return answer.body

    @staticmethod
    def _joined(batch: list[bytes], answer: bytes, where: str) -> bytes:
        """JoinSource Input for CSV lines: each input line, a comma, its prediction."""
        predictions = [line for line in answer.split(b"\n") if line.strip()]
        if len(predictions) != len(batch):
            raise TransformFailed(
                f"ClientError: JoinSource Input: the model answered {len(predictions)} lines for {len(batch)} input "
                f"lines of {where}; answer one line per input line"
            )
        return b"\n".join(
            row.rstrip(b"\r") + b"," + prediction for row, prediction in zip(batch, predictions, strict=True)
        )

    def _ship_logs(self, record: dict[str, Any], log_path: Path) -> None:
        """The model server's log goes to /aws/sagemaker/TransformJobs, as the container's does."""
        try:
            lines = log_path.read_text(errors="replace").splitlines()[-9000:]
            logs = self.cloud.client("logs", record["Region"])
            group = "/aws/sagemaker/TransformJobs"
            try:
                logs.create_log_group(logGroupName=group)
            except logs.exceptions.ResourceAlreadyExistsException:
                pass
            stream = f"{record['TransformJobName']}/i-{int(time.time())}"
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
            now = int(time.time() * 1000)
            if lines:
                events = [{"timestamp": now, "message": line or " "} for line in lines]
                logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
        except Exception:  # logs are a convenience; the job's outcome stands
            pass

    # lifecycle ----------------------------------------------------------------------------
    def resume(self) -> None:
        fleet.clear_stale(self.records)  # model servers a stop left behind
        super().resume()


def install(cloud) -> TransformService:
    service = TransformService(cloud)
    route = cloud.gateway.json
    route("SageMaker", "CreateTransformJob")(lambda call: service.create(call.body, call.region))
    route("SageMaker", "DescribeTransformJob")(lambda call: service.describe(call.body.get("TransformJobName", "")))
    route("SageMaker", "ListTransformJobs")(lambda call: service.list(call.body))
    return service
