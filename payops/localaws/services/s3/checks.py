"""Deploy checks for S3: each bucket's existence, versioning, lifecycle rules (id, status,
expiration days) and public access block, and each bucket policy, compared with the template; GetAtt
Arn, DomainName and RegionalDomainName, built from the name once the bucket is found.
"""

from __future__ import annotations

from payops.localaws.core.checking import Check, CheckFn, Getter, Resolver


def _bucket(r: Resolver, name: str, value: str) -> str:
    r.clients("s3").head_bucket(Bucket=name)
    return value


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
            [(r.get("Id"), r.get("Status"), r.get("ExpirationInDays")) for r in rules],
            [
                (r.get("ID"), r.get("Status"), (r.get("Expiration") or {}).get("Days"))
                for r in actual
            ],
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
