"""S3 uploads stream from the socket to their body file, checked on the way: memory does not grow with
the object, every payload encoding a client sends is held to what it signed, and a body that fails
leaves nothing behind."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import os
import socket
import tracemalloc
import urllib.error
import urllib.request
import zlib

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from localcloud.core.signatures import Signed, _signing_key
from localcloud.core.upload_body import BodyRefused, _ChunkChain
from tests.localcloud.signing import signed_headers

BUCKET = "streamed-uploads"
MB = 1024 * 1024


@pytest.fixture(scope="module")
def s3(cloud):
    import boto3

    client = boto3.client("s3", endpoint_url=cloud.url, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


def _bodies(cloud) -> set[str]:
    return set(os.listdir(cloud.state.root / "s3" / "bodies"))


def _send(cloud, method: str, path: str, headers: dict, body: bytes):
    request = urllib.request.Request(f"{cloud.url}{path}", data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _peak_mb(call) -> float:
    """The most memory Python held while ``call`` ran (client and in-process local cloud together)."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1] / MB
    finally:
        tracemalloc.stop()


def test_the_chunk_signatures_follow_awss_documented_example():
    """The example of AWS's 'Signature calculations for the Authorization header: transferring payload in
    multiple chunks': a 64 KB chunk, a 1 KB chunk and the final one, each continuing the one before."""
    key = _signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3")
    seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    chain = _ChunkChain(
        Signed(None, "s3", "us-east-1", "", seed, "20130524T000000Z", "20130524/us-east-1/s3/aws4_request", key)
    )
    for data, signature in [
        (b"a" * 65536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"),
        (b"a" * 1024, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"),
        (b"", "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"),
    ]:
        chain.check_chunk(hashlib.sha256(data).hexdigest(), signature)
    with pytest.raises(BodyRefused):
        chain.check_chunk(hashlib.sha256(b"b").hexdigest(), "0" * 64)


def test_a_big_put_and_a_multipart_upload_do_not_hold_the_body_in_memory(s3, tmp_path):
    body = os.urandom(48 * MB)
    source = tmp_path / "body.bin"
    source.write_bytes(body)
    del body

    def put():
        with open(source, "rb") as handle:
            s3.put_object(Bucket=BUCKET, Key="big/put.bin", Body=handle)

    assert _peak_mb(put) < 16  # the whole body read at once would be 48 MB, and moto copied it again

    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="big/multipart.bin")["UploadId"]
    parts = []
    with open(source, "rb") as handle:
        for number in (1, 2, 3):
            part = io.BytesIO(handle.read(16 * MB))
            etag = s3.upload_part(Bucket=BUCKET, Key="big/multipart.bin", UploadId=upload, PartNumber=number, Body=part)
            parts.append({"PartNumber": number, "ETag": etag["ETag"]})

    def complete():
        s3.complete_multipart_upload(
            Bucket=BUCKET, Key="big/multipart.bin", UploadId=upload, MultipartUpload={"Parts": parts}
        )

    assert _peak_mb(complete) < 8  # moto joined the parts in memory (48 MB, twice)
    expected = hashlib.md5(source.read_bytes()).hexdigest()
    for key in ("big/put.bin", "big/multipart.bin"):
        streamed = hashlib.md5()
        for chunk in s3.get_object(Bucket=BUCKET, Key=key)["Body"].iter_chunks(MB):
            streamed.update(chunk)
        assert streamed.hexdigest() == expected, key


def test_streamed_objects_have_s3s_etags_checksums_and_ranges(s3):
    body = os.urandom(5 * MB + 123)
    put = s3.put_object(Bucket=BUCKET, Key="etag/put.bin", Body=body, ChecksumAlgorithm="SHA256")
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert put["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(body).digest()).decode()

    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="etag/parts.bin", ChecksumAlgorithm="CRC32")["UploadId"]
    pieces = [body, b"tail of the object"]
    parts = []
    for number, piece in enumerate(pieces, 1):
        answer = s3.upload_part(
            Bucket=BUCKET,
            Key="etag/parts.bin",
            UploadId=upload,
            PartNumber=number,
            Body=piece,
            ChecksumAlgorithm="CRC32",
        )
        parts.append({"PartNumber": number, "ETag": answer["ETag"], "ChecksumCRC32": answer["ChecksumCRC32"]})
    done = s3.complete_multipart_upload(
        Bucket=BUCKET, Key="etag/parts.bin", UploadId=upload, MultipartUpload={"Parts": parts}
    )
    md5s = b"".join(hashlib.md5(piece).digest() for piece in pieces)
    assert done["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-2"'
    crcs = b"".join(zlib.crc32(piece).to_bytes(4, "big") for piece in pieces)
    kept = s3.head_object(Bucket=BUCKET, Key="etag/parts.bin", ChecksumMode="ENABLED")
    assert kept["ChecksumCRC32"].split("-")[0] == base64.b64encode(zlib.crc32(crcs).to_bytes(4, "big")).decode()
    whole = b"".join(pieces)
    across = s3.get_object(Bucket=BUCKET, Key="etag/parts.bin", Range=f"bytes={len(body) - 10}-{len(body) + 5}")
    assert across["Body"].read() == whole[len(body) - 10 : len(body) + 6]
    assert s3.head_object(Bucket=BUCKET, Key="etag/parts.bin")["ContentLength"] == len(whole)


def test_a_body_that_does_not_match_its_signed_hash_is_refused_and_leaves_nothing(cloud, s3):
    before = _bodies(cloud)
    signed_for = os.urandom(2 * MB)
    path = f"/{BUCKET}/refused/swapped.bin"
    status, data = _send(cloud, "PUT", path, signed_headers(cloud, "PUT", path, signed_for), os.urandom(2 * MB))
    assert status == 400 and b"XAmzContentSHA256Mismatch" in data
    with pytest.raises(ClientError):
        s3.head_object(Bucket=BUCKET, Key="refused/swapped.bin")
    assert _bodies(cloud) == before


def test_a_wrong_content_md5_or_checksum_is_a_bad_digest(cloud, s3):
    before = _bodies(cloud)
    with pytest.raises(ClientError) as refused:
        s3.put_object(
            Bucket=BUCKET, Key="refused/md5.bin", Body=b"abc", ContentMD5=base64.b64encode(b"0" * 16).decode()
        )
    assert refused.value.response["Error"]["Code"] == "BadDigest"
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=BUCKET, Key="refused/crc.bin", Body=b"abc", ChecksumCRC32="AAAAAA==")
    assert refused.value.response["Error"]["Code"] == "BadDigest"
    assert _bodies(cloud) == before


class _DeclaredPayload(S3SigV4Auth):
    """botocore's S3 signer, with the payload declared as an aws-chunked encoding."""

    def __init__(self, credentials, declared: str):
        super().__init__(credentials, "s3", "us-east-1")
        self.declared = declared

    def payload(self, request):
        return self.declared


def _chunked_request(cloud, path: str, declared: str, headers: dict):
    root = cloud.credentials.root
    host = f"127.0.0.1:{cloud.port}"
    request = AWSRequest(method="PUT", url=f"http://{host}{path}", headers=headers)
    _DeclaredPayload(Credentials(root.access_key_id, root.secret_access_key), declared).add_auth(request)
    sent = {"Host": host, **dict(request.headers.items())}
    authorization = sent["Authorization"]
    seed = authorization.rpartition("Signature=")[2]
    timestamp = sent["X-Amz-Date"]
    key = _signing_key(root.secret_access_key, timestamp[:8], "us-east-1", "s3")
    return sent, seed, timestamp, key


def _sign(key: bytes, kind: str, timestamp: str, previous: str, *hashes: str) -> str:
    scope = f"{timestamp[:8]}/us-east-1/s3/aws4_request"
    to_sign = "\n".join([kind, timestamp, scope, previous, *hashes])
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def _signed_chunks(chunks: list[bytes], seed: str, timestamp: str, key: bytes) -> tuple[bytes, str]:
    """The body as an SDK that signs chunks frames it (AWS's 'sigv4-streaming'), and the last signature."""
    out, previous = bytearray(), seed
    for chunk in [*chunks, b""]:
        previous = _sign(
            key,
            "AWS4-HMAC-SHA256-PAYLOAD",
            timestamp,
            previous,
            hashlib.sha256(b"").hexdigest(),
            hashlib.sha256(chunk).hexdigest(),
        )
        out += b"%x;chunk-signature=%s\r\n%s\r\n" % (len(chunk), previous.encode(), chunk)
    return bytes(out), previous


def test_a_chunk_signed_body_is_checked_chunk_by_chunk(cloud, s3):
    chunks = [os.urandom(64 * 1024), os.urandom(64 * 1024), b"the end"]
    length = sum(map(len, chunks))
    headers = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(length)}
    path = f"/{BUCKET}/chunked/signed.bin"
    sent, seed, timestamp, key = _chunked_request(cloud, path, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", headers)
    body, _ = _signed_chunks(chunks, seed, timestamp, key)
    status, data = _send(cloud, "PUT", path, sent, body)
    assert status == 200, data
    assert s3.get_object(Bucket=BUCKET, Key="chunked/signed.bin")["Body"].read() == b"".join(chunks)

    before = _bodies(cloud)
    path = f"/{BUCKET}/chunked/tampered.bin"
    sent, seed, timestamp, key = _chunked_request(cloud, path, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", headers)
    body, _ = _signed_chunks(chunks, seed, timestamp, key)
    tampered = body.replace(chunks[1][:32], os.urandom(32), 1)
    status, data = _send(cloud, "PUT", path, sent, tampered)
    assert status == 403 and b"SignatureDoesNotMatch" in data
    with pytest.raises(ClientError):
        s3.head_object(Bucket=BUCKET, Key="chunked/tampered.bin")
    assert _bodies(cloud) == before


def test_a_signed_trailer_is_checked_and_its_checksum_kept(cloud, s3):
    chunks = [os.urandom(70_000), b"last"]
    whole = b"".join(chunks)
    crc = base64.b64encode(zlib.crc32(whole).to_bytes(4, "big")).decode()
    headers = {
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(whole)),
        "x-amz-trailer": "x-amz-checksum-crc32",
    }
    for name, trailer_crc, expected in [("good", crc, 200), ("bad", "AAAAAA==", 400)]:
        path = f"/{BUCKET}/trailer/{name}.bin"
        sent, seed, timestamp, key = _chunked_request(
            cloud, path, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", headers
        )
        body, last = _signed_chunks(chunks, seed, timestamp, key)
        trailer = f"x-amz-checksum-crc32:{trailer_crc}\n".encode()
        signature = _sign(key, "AWS4-HMAC-SHA256-TRAILER", timestamp, last, hashlib.sha256(trailer).hexdigest())
        body = body[:-2] + trailer.replace(b"\n", b"\r\n") + f"x-amz-trailer-signature:{signature}\r\n\r\n".encode()
        status, data = _send(cloud, "PUT", path, sent, body)
        assert status == expected, data
    assert s3.get_object(Bucket=BUCKET, Key="trailer/good.bin")["Body"].read() == whole
    kept = s3.head_object(Bucket=BUCKET, Key="trailer/good.bin", ChecksumMode="ENABLED")
    assert kept["ChecksumCRC32"] == crc


def test_an_unsigned_chunked_body_with_a_checksum_trailer_as_the_aws_cli_sends_it(cloud, s3):
    whole = os.urandom(100_000)
    crc = base64.b64encode(zlib.crc32(whole).to_bytes(4, "big")).decode()
    headers = {
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(whole)),
        "x-amz-trailer": "x-amz-checksum-crc32",
    }
    for name, trailer_crc, expected in [("good", crc, 200), ("bad", "AAAAAA==", 400)]:
        path = f"/{BUCKET}/unsigned-trailer/{name}.bin"
        sent, *_ = _chunked_request(cloud, path, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", headers)
        body = b"%x\r\n%s\r\n0\r\nx-amz-checksum-crc32:%s\r\n\r\n" % (len(whole), whole, trailer_crc.encode())
        status, data = _send(cloud, "PUT", path, sent, body)
        assert status == expected, data
    assert s3.get_object(Bucket=BUCKET, Key="unsigned-trailer/good.bin")["Body"].read() == whole


def test_an_upload_past_s3s_largest_put_is_refused_before_its_body_is_read(cloud):
    path = f"/{BUCKET}/refused/huge.bin"
    headers = signed_headers(cloud, "PUT", path, b"")
    headers["Content-Length"] = str(5 * 1024**3 + 1)
    with socket.create_connection(("127.0.0.1", cloud.port), timeout=10) as connection:
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        connection.sendall(f"PUT {path} HTTP/1.1\r\n{head}\r\n".encode() + b"x" * 1024)
        answer = connection.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413") and b"EntityTooLarge" in answer
