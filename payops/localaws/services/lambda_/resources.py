"""Lambda's CloudFormation resource bridges: AWS::Lambda::Url (moto skips it; one with a Qualifier
is refused) and AWS::Lambda::Function, created on moto's backend from an API-shaped request so that
the properties moto's model drops (Architectures, Layers, TracingConfig, EphemeralStorage, Tags...)
are kept.
"""

from __future__ import annotations

from typing import Any

from payops.localaws.core.resources import BridgedResource, ExtendsMoto, validation_error


class LambdaUrl(BridgedResource):
    TYPE = "AWS::Lambda::Url"
    ATTRIBUTES = ("FunctionArn", "FunctionUrl")

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        from moto.awslambda.utils import get_backend

        if properties.get("Qualifier"):
            raise validation_error("AWS::Lambda::Url with a Qualifier: not modelled by moto")
        backend = get_backend(account_id, region_name)
        target = properties["TargetFunctionArn"]
        config = {
            key: properties[key] for key in ("AuthType", "Cors", "InvokeMode") if key in properties
        }
        url = backend.create_function_url_config(target, config)
        function_arn = url.function.function_arn
        return cls(
            function_arn,
            {"FunctionArn": function_arn, "FunctionUrl": url.url},
            lambda: backend.delete_function_url_config(target),
            url,
        )


class LambdaFunction(ExtendsMoto):
    TYPE = "AWS::Lambda::Function"
    _PASSED = (
        "Description", "MemorySize", "Publish", "Timeout", "VpcConfig", "Environment",
        "ReservedConcurrentExecutions", "Architectures", "Layers", "TracingConfig",
        "EphemeralStorage", "PackageType", "ImageConfig", "DeadLetterConfig", "KmsKeyArn",
    )  # fmt: skip

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        import base64

        from moto.awslambda.utils import get_backend

        properties = cloudformation_json["Properties"]
        code = dict(properties["Code"])
        if "ZipFile" in code:  # inline source, as moto itself turns it into a package
            plain = cls.moto_class()._create_zipfile_from_plaintext_code(code["ZipFile"])
            code["ZipFile"] = base64.b64encode(plain)
        spec: dict[str, Any] = {
            "Code": code,
            "FunctionName": properties.get("FunctionName") or resource_name,
            "Handler": properties.get("Handler"),
            "Role": properties["Role"],
            "Runtime": properties.get("Runtime"),
        }
        spec.update({key: properties[key] for key in cls._PASSED if key in properties})
        if properties.get("Tags"):
            spec["Tags"] = {tag["Key"]: tag["Value"] for tag in properties["Tags"]}
        return get_backend(account_id, region_name).create_function(spec)


GAPS: dict[str, str] = {
    "AWS::Lambda::Url": ("function URL with FunctionUrl/FunctionArn attributes (moto: skipped)"),
    "AWS::Lambda::Function": (
        "Architectures, Layers, TracingConfig, EphemeralStorage, KmsKeyArn, DeadLetterConfig, "
        "Tags and FunctionName are honoured (moto drops them)"
    ),
}

RESOURCES = (LambdaUrl, LambdaFunction)
