"""Deploy checks for KMS: each key's state (Enabled or Disabled) and description, and that each
alias exists; GetAtt getters for a key's Arn and KeyId.
"""

from __future__ import annotations

from payops.localaws.core.checking import Check, CheckFn, Getter
from payops.localaws.core.resources import as_bool


def check_kms_key(c: Check) -> None:
    metadata = c.client("kms").describe_key(KeyId=c.physical_id)["KeyMetadata"]
    enabled = as_bool(c.props.get("Enabled", True))  # "false" from a template is False
    c.same("KeyState", "Enabled" if enabled else "Disabled", metadata["KeyState"])
    c.same_if_set("Description", metadata.get("Description"))


def check_kms_alias(c: Check) -> None:
    aliases = c.client("kms").list_aliases()["Aliases"]
    if not any(a["AliasName"] == c.props["AliasName"] for a in aliases):
        c.problem(f"alias {c.props['AliasName']}: missing")


ATTRIBUTES: dict[tuple[str, str], Getter] = {
    ("AWS::KMS::Key", "Arn"): lambda r, key, _: r.clients("kms").describe_key(KeyId=key)[
        "KeyMetadata"
    ]["Arn"],
    ("AWS::KMS::Key", "KeyId"): lambda r, key, _: r.clients("kms").describe_key(KeyId=key)[
        "KeyMetadata"
    ]["KeyId"],
}


CHECKS: dict[str, CheckFn] = {
    "AWS::KMS::Key": check_kms_key,
    "AWS::KMS::Alias": check_kms_alias,
}
