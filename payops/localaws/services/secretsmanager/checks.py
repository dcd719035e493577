"""Deploy checks for Secrets Manager: each secret's name, description and value; a SecretString must
be stored as given; a generated value must have the asked length and hold no excluded character, and
the rest of its document must equal the SecretStringTemplate; GetAtt Id.
"""

from __future__ import annotations

import json

from payops.localaws.core.checking import Check, CheckFn, Getter


def check_secret(c: Check) -> None:
    client = c.client("secretsmanager")
    secret = client.describe_secret(SecretId=c.physical_id)
    c.same_if_set("Name", secret["Name"])
    c.same_if_set("Description", secret.get("Description"))
    value = client.get_secret_value(SecretId=c.physical_id).get("SecretString")
    if "SecretString" in c.raw:
        if value != c.props["SecretString"]:
            c.problem("SecretString: the stored value differs from the template's")
        return
    spec = c.props.get("GenerateSecretString") or {}
    generated = value
    if value is not None and spec.get("SecretStringTemplate"):
        document = json.loads(value)
        generated = document.pop(spec["GenerateStringKey"], None)
        c.same("SecretStringTemplate", json.loads(spec["SecretStringTemplate"]), document)
    if not generated:
        c.problem("GenerateSecretString: no generated value")
        return
    c.same("generated length", int(spec.get("PasswordLength", 32)), len(generated))
    excluded = set(str(spec.get("ExcludeCharacters", ""))) & set(generated)
    if excluded:
        c.problem(f"generated value holds excluded characters {sorted(excluded)}")


ATTRIBUTES: dict[tuple[str, str], Getter] = {
    ("AWS::SecretsManager::Secret", "Id"): lambda r, arn, _: r.clients(
        "secretsmanager"
    ).describe_secret(SecretId=arn)["ARN"],
}


CHECKS: dict[str, CheckFn] = {
    "AWS::SecretsManager::Secret": check_secret,
}
