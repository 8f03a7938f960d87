"""S3 object reads for a config larger than any parameter (`s3://bucket/key`), cached like the
SSM reads so every invocation sees an edit within seconds without a GetObject per call."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from botocore.exceptions import BotoCoreError, ClientError

from evacuation.aws.clients import AwsClients
from evacuation.errors import ConfigurationError

CACHE_SECONDS = 5
MAX_BYTES = 1024 * 1024
"""A config is a document a human reviews: anything larger is a mistake, not a config."""


def split_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) of `s3://bucket/key`; a clear error for anything else."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or not key:
        raise ConfigurationError(f"{uri!r} is not an S3 object URI (s3://bucket/key)")
    return bucket, key


class ObjectReader:
    """Reads small S3 objects as UTF-8 text; a cached value is at most CACHE_SECONDS old."""

    def __init__(self, clients: AwsClients, clock: Callable[[], float] = time.monotonic) -> None:
        self._clients = clients
        self._clock = clock
        self._cache: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def __call__(self, uri: str) -> str:
        bucket, key = split_uri(uri)
        with self._lock:
            cached = self._cache.get(uri)
            if cached is not None and self._clock() - cached[0] < CACHE_SECONDS:
                return cached[1]
        try:
            response = self._clients.s3().get_object(Bucket=bucket, Key=key)
            body = response["Body"].read(MAX_BYTES + 1)
        except (ClientError, BotoCoreError) as exc:
            raise ConfigurationError(f"config object {uri}: {exc}") from exc
        if len(body) > MAX_BYTES:
            raise ConfigurationError(f"config object {uri} is larger than {MAX_BYTES} bytes")
        try:
            text = str(body.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ConfigurationError(f"config object {uri} is not UTF-8 text") from exc
        with self._lock:
            self._cache[uri] = (self._clock(), text)
        return text
