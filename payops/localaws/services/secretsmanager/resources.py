"""Secrets Manager's CloudFormation resource bridge: AWS::SecretsManager::Secret, which moto skips,
created from SecretString or GenerateSecretString (`generate_secret_string`, on moto's
GetRandomPassword, with SecretStringTemplate/GenerateStringKey); Ref gives the secret's ARN.
"""

from __future__ import annotations

import json
from typing import Any

from payops.localaws.core.resources import BridgedResource, as_bool, validation_error


def generate_secret_string(backend: Any, spec: dict[str, Any]) -> str:
    """CloudFormation's GenerateSecretString, on moto's own GetRandomPassword."""
    password = backend.get_random_password(
        password_length=int(spec.get("PasswordLength", 32)),
        exclude_characters=spec.get("ExcludeCharacters", ""),
        exclude_numbers=as_bool(spec.get("ExcludeNumbers", False)),
        exclude_punctuation=as_bool(spec.get("ExcludePunctuation", False)),
        exclude_uppercase=as_bool(spec.get("ExcludeUppercase", False)),
        exclude_lowercase=as_bool(spec.get("ExcludeLowercase", False)),
        include_space=as_bool(spec.get("IncludeSpace", False)),
        require_each_included_type=as_bool(spec.get("RequireEachIncludedType", True)),
    )
    password = json.loads(password)["RandomPassword"]  # moto returns the API's JSON body
    template, key = spec.get("SecretStringTemplate"), spec.get("GenerateStringKey")
    if (template is None) != (key is None):
        raise validation_error(
            "GenerateSecretString needs both SecretStringTemplate and GenerateStringKey, or neither"
        )
    if template is None:
        return password
    document = json.loads(template)
    document[key] = password
    return json.dumps(document)


class SecretsManagerSecret(BridgedResource):
    TYPE = "AWS::SecretsManager::Secret"
    NAME_PROPERTY = "Name"
    NAME_LIMIT = 512
    ATTRIBUTES = ("Id",)

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        from moto.secretsmanager.models import secretsmanager_backends

        backend = secretsmanager_backends[account_id][region_name]
        if "SecretString" in properties and "GenerateSecretString" in properties:
            raise validation_error("SecretString and GenerateSecretString are mutually exclusive")
        value = properties.get("SecretString")
        if value is None:
            value = generate_secret_string(backend, properties.get("GenerateSecretString") or {})
        tags = properties.get("Tags")
        backend.create_secret(
            name=name,
            secret_string=value,
            secret_binary=None,
            description=properties.get("Description"),
            tags=tags,
            kms_key_id=properties.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=properties.get("ReplicaRegions") or [],
            force_overwrite=False,
        )
        secret = backend.secrets[name]
        arn = secret.arn
        return cls(
            arn,
            {"Id": arn},
            lambda: backend.delete_secret(arn, None, True),
            secret,
        )


GAPS: dict[str, str] = {
    "AWS::SecretsManager::Secret": (
        "SecretString or GenerateSecretString (with SecretStringTemplate/GenerateStringKey); Ref "
        "returns the ARN (moto: skipped)"
    ),
}

RESOURCES = (SecretsManagerSecret,)
