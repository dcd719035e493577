"""Firehose delivery to S3 as the stream is configured: dynamic partitioning (JQ metadata
extraction, `!{partitionKeyFromQuery:...}` / `!{timestamp:...}` prefixes), the record delimiter,
GZIP compression and the error output prefix.

moto writes every batch to one object `<prefix>YYYY/MM/DD/HH/<name>-...`, uncompressed, whatever
the configuration. Here each PutRecord(Batch) is delivered at once (no buffering), one object per
partition, named as Firehose names them. Only the JQ the project uses is understood: an object of
paths, `{name: .a.b, other: ."key-with-dash"}`; anything else is refused at delivery (the record
goes to the error prefix, as a failed extraction does on AWS).
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from payops.localaws.core.patch import Patch
from payops.localaws.core.recorder import RECORDER

GAPS: dict[str, str] = {
    "firehose.s3_delivery": (
        "ExtendedS3 delivery honours dynamic partitioning (JQ metadata extraction, "
        "!{partitionKeyFromQuery:..} and !{timestamp:..} prefixes), AppendDelimiterToRecord, "
        "GZIP compression (.gz) and ErrorOutputPrefix (moto writes one uncompressed object "
        "under <prefix>YYYY/MM/DD/HH/)"
    ),
}

_FIELD = re.compile(
    r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*((?:\.(?:[A-Za-z_][A-Za-z0-9_]*|"[^"]*"))+)\s*'
)
_SEGMENT = re.compile(r'\.(?:([A-Za-z_][A-Za-z0-9_]*)|"([^"]*)")')
_EXPRESSION = re.compile(r"!\{([A-Za-z-]+):([^}]*)\}")
# Java DateTimeFormatter letters Firehose prefixes use -> strftime.
_TIME_FORMAT = (
    ("yyyy", "%Y"),
    ("MM", "%m"),
    ("dd", "%d"),
    ("HH", "%H"),
    ("mm", "%M"),
    ("ss", "%S"),
)


class DeliveryError(ValueError):
    """A record that cannot be partitioned (delivered under the error prefix)."""


def parse_jq(query: str) -> dict[str, list[str]]:
    """`{type: ."detail-type"}` -> {"type": ["detail-type"]}; DeliveryError for other JQ."""
    text = query.strip()
    if not (text.startswith("{") and text.endswith("}")):
        raise DeliveryError(f"unsupported JQ (only an object of paths): {query}")
    fields: dict[str, list[str]] = {}
    for part in text[1:-1].split(","):
        match = _FIELD.fullmatch(part)
        if not match:
            raise DeliveryError(f"unsupported JQ (only an object of paths): {query}")
        fields[match.group(1)] = [a or b for a, b in _SEGMENT.findall(match.group(2))]
    return fields


def extract(fields: dict[str, list[str]], record: bytes) -> dict[str, str]:
    try:
        value: Any = json.loads(record)
    except ValueError as err:
        raise DeliveryError(f"record is not JSON: {err}") from None
    keys = {}
    for name, path in fields.items():
        found: Any = value
        for segment in path:
            found = found.get(segment) if isinstance(found, dict) else None
        if found is None or isinstance(found, (dict, list)):
            raise DeliveryError(f"partition key {name}: no scalar at .{'.'.join(path)}")
        keys[name] = found if isinstance(found, str) else json.dumps(found)
    return keys


def render_prefix(prefix: str, keys: dict[str, str], now: datetime, error_type: str = "") -> str:
    def replace(match: re.Match[str]) -> str:
        namespace, argument = match.group(1), match.group(2)
        if namespace == "timestamp":
            text = argument
            for java, python in _TIME_FORMAT:
                text = text.replace(java, python)
            return now.strftime(text)
        if namespace == "partitionKeyFromQuery":
            if argument not in keys:
                raise DeliveryError(f"prefix names partition key {argument!r}, not extracted")
            return keys[argument]
        if namespace == "firehose" and argument == "error-output-type":
            return error_type
        if namespace == "firehose" and argument == "random-string":
            return uuid.uuid4().hex[:11]
        raise DeliveryError(f"unsupported prefix expression !{{{namespace}:{argument}}}")

    return _EXPRESSION.sub(replace, prefix)


def _processors(config: dict[str, Any]) -> dict[str, dict[str, str]]:
    processing = config.get("ProcessingConfiguration") or {}
    if str(processing.get("Enabled", "false")).lower() != "true":
        return {}
    return {
        p["Type"]: {x["ParameterName"]: x["ParameterValue"] for x in p.get("Parameters") or []}
        for p in processing.get("Processors") or []
    }


def _object_name(stream: str, version: str, now: datetime, gzipped: bool) -> str:
    stamp = now.strftime("%Y-%m-%d-%H-%M-%S")
    return f"{stream}-{version}-{stamp}-{uuid.uuid4()}" + (".gz" if gzipped else "")


def deliver(
    backend: Any, stream: str, version: str, config: dict[str, Any], records: list[dict[str, bytes]]
) -> list[dict[str, str]]:
    from moto.s3.models import s3_backends

    s3 = s3_backends[backend.account_id][backend.partition]
    bucket = config["BucketARN"].split(":")[-1]
    processors = _processors(config)
    partitioned = (
        str((config.get("DynamicPartitioningConfiguration") or {}).get("Enabled", "false")).lower()
        == "true"
    )
    query = processors.get("MetadataExtraction", {}).get("MetadataExtractionQuery")
    fields = parse_jq(query) if partitioned and query else {}
    delimiter = processors.get("AppendDelimiterToRecord", {}).get("Delimiter")
    delimiter_bytes = delimiter.encode().decode("unicode_escape").encode() if delimiter else b""
    gzipped = config.get("CompressionFormat") == "GZIP"
    now = datetime.now(UTC)
    batches: dict[str, list[bytes]] = defaultdict(list)
    errors: list[bytes] = []
    for record in records:
        data = record["Data"]
        try:
            keys = extract(fields, data) if fields else {}
            prefix = render_prefix(config.get("Prefix") or "", keys, now)
        except DeliveryError as err:
            errors.append(_error_record(data, str(err)))
            continue
        batches[prefix].append(data + delimiter_bytes)
    if errors:
        error_prefix = render_prefix(
            config.get("ErrorOutputPrefix") or "", {}, now, "processing-failed"
        )
        batches[error_prefix].extend(errors)
        RECORDER.record("firehose_failed", stream=stream, records=len(errors))
    for prefix, parts in batches.items():
        body = b"".join(parts)
        key = prefix + _object_name(stream, version, now, gzipped)
        s3.put_object(bucket, key, gzip.compress(body) if gzipped else body)
        RECORDER.record("firehose_delivered", stream=stream, key=key, records=len(parts))
    return [{"RecordId": str(uuid.uuid4())} for _ in records]


def _error_record(data: bytes, message: str) -> bytes:
    """The shape Firehose writes under the error prefix (one JSON object per line)."""
    return (
        json.dumps(
            {
                "rawData": base64.b64encode(data).decode(),
                "errorCode": "DynamicPartitioning.MetadataExtractionFailed",
                "errorMessage": message,
            }
        )
        + "\n"
    ).encode()


def _put_s3_records(
    self: Any,
    delivery_stream_name: str,
    version_id: str,
    s3_destination: dict[str, Any],
    records: list[dict[str, bytes]],
) -> list[dict[str, str]]:
    return deliver(self, delivery_stream_name, version_id, s3_destination, records)


# The moto attributes this module replaces.
_PUT_S3_RECORDS = Patch("moto.firehose.models:FirehoseBackend", "put_s3_records", _put_s3_records)
PATCHES = (_PUT_S3_RECORDS,)
