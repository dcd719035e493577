"""Deploy checks for S3: each bucket's existence, versioning, lifecycle rules (id, status,
prefix, expiration, abort-incomplete-upload and noncurrent-version days), public access block,
and each bucket policy, compared with the template; GetAtt Arn, DomainName and
RegionalDomainName, built from the name once the bucket is found.
"""

from __future__ import annotations

from typing import Any

from payops.localaws.core.checking import Check, CheckFn, Getter, Resolver


def _bucket(r: Resolver, name: str, value: str) -> str:
    r.clients("s3").head_bucket(Bucket=name)
    return value


def _days(value: Any) -> int | None:
    return None if value is None else int(value)


def _declared_rule(rule: dict[str, Any]) -> tuple[Any, ...]:
    """What a template's lifecycle rule decides: which objects (its prefix) and when."""
    noncurrent = rule.get("NoncurrentVersionExpiration") or {}
    return (
        rule.get("Id"),
        rule.get("Status"),
        rule.get("Prefix") or "",
        _days(rule.get("ExpirationInDays")),
        _days((rule.get("AbortIncompleteMultipartUpload") or {}).get("DaysAfterInitiation")),
        _days(noncurrent.get("NoncurrentDays", rule.get("NoncurrentVersionExpirationInDays"))),
    )


def _applied_rule(rule: dict[str, Any]) -> tuple[Any, ...]:
    """The same, read back from GetBucketLifecycleConfiguration (a prefix in Filter, Filter.And
    or, in the old shape, on the rule)."""
    where = rule.get("Filter") or {}
    prefix = where.get("Prefix", (where.get("And") or {}).get("Prefix", rule.get("Prefix")))
    return (
        rule.get("ID"),
        rule.get("Status"),
        prefix or "",
        _days((rule.get("Expiration") or {}).get("Days")),
        _days((rule.get("AbortIncompleteMultipartUpload") or {}).get("DaysAfterInitiation")),
        _days((rule.get("NoncurrentVersionExpiration") or {}).get("NoncurrentDays")),
    )


def check_bucket(c: Check) -> None:
    s3 = c.client("s3")
    s3.head_bucket(Bucket=c.physical_id)
    c.same_if_set("BucketName", c.physical_id)
    if "VersioningConfiguration" in c.raw:
        status = s3.get_bucket_versioning(Bucket=c.physical_id).get("Status")
        c.same(
            "VersioningConfiguration.Status", c.props["VersioningConfiguration"]["Status"], status
        )
    rules = (c.props.get("LifecycleConfiguration") or {}).get("Rules")
    if rules:
        actual = s3.get_bucket_lifecycle_configuration(Bucket=c.physical_id)["Rules"]
        c.same(
            "LifecycleConfiguration",
            [_declared_rule(r) for r in rules],
            [_applied_rule(r) for r in actual],
        )
    block = c.props.get("PublicAccessBlockConfiguration")
    if block:
        actual = s3.get_public_access_block(Bucket=c.physical_id)["PublicAccessBlockConfiguration"]
        for key, value in block.items():
            c.same(f"PublicAccessBlockConfiguration.{key}", value, actual.get(key))


def check_bucket_policy(c: Check) -> None:
    policy = c.client("s3").get_bucket_policy(Bucket=c.props["Bucket"])["Policy"]
    c.same("PolicyDocument", c.props["PolicyDocument"], policy)


ATTRIBUTES: dict[tuple[str, str], Getter] = {
    ("AWS::S3::Bucket", "Arn"): lambda r, name, _: _bucket(r, name, f"arn:aws:s3:::{name}"),
    ("AWS::S3::Bucket", "DomainName"): lambda r, name, _: _bucket(
        r, name, f"{name}.s3.amazonaws.com"
    ),
    ("AWS::S3::Bucket", "RegionalDomainName"): lambda r, name, _: _bucket(
        r, name, f"{name}.s3.{r.region}.amazonaws.com"
    ),
}


CHECKS: dict[str, CheckFn] = {
    "AWS::S3::Bucket": check_bucket,
    "AWS::S3::BucketPolicy": check_bucket_policy,
}
