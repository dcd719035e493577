"""Base classes of the CloudFormation resource bridges: `BridgedResource` for a type moto has no
model for (the subclass's `create` builds it on moto's backend; an update replaces it),
`ExtendsMoto` for moto's own model with `before_create`/`after_create` hooks, `FifoNamed` (a
generated FIFO name ends in .fifo), `NoOpResource` (creates nothing), and small helpers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar


def validation_error(message: str) -> Exception:
    from moto.cloudformation.exceptions import ValidationError

    return ValidationError(message=message)


class BridgedResource:
    """What moto's ResourceMap keeps for a bridged resource (duck-typed CloudFormationModel)."""

    TYPE: ClassVar[str] = ""
    NAME_PROPERTY: ClassVar[str | None] = None
    NAME_LIMIT: ClassVar[int] = 255
    ATTRIBUTES: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        physical_id: str,
        attributes: dict[str, Any] | None = None,
        on_delete: Callable[[], None] | None = None,
        model: Any = None,
    ) -> None:
        self._physical_id = physical_id
        self.attributes = attributes or {}
        self._on_delete = on_delete
        self.model = model  # moto's own object, where there is one
        self.cf_resource_type = self.TYPE
        self.logical_resource_id = ""

    @property
    def physical_resource_id(self) -> str:
        return self._physical_id

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name in self.attributes:
            return self.attributes[attribute_name]
        raise UnformattedGetAttTemplateException()

    def is_created(self) -> bool:
        return True

    def delete(self, account_id: str, region_name: str) -> None:
        if self._on_delete is not None:
            self._on_delete()

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY or ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> BridgedResource:
        properties = cloudformation_json.get("Properties") or {}
        name = (properties.get(cls.NAME_PROPERTY) if cls.NAME_PROPERTY else None) or fit_name(
            resource_name, cls.NAME_LIMIT
        )
        return cls.create(name, properties, account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: BridgedResource,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> BridgedResource:
        # Replacement: good enough for a local stack (AWS updates some properties in place).
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        return None  # the handle's delete() did the work

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        raise NotImplementedError


def fit_name(generated: str, limit: int) -> str:
    """moto's generated '<stack>-<logical id>-<suffix>', cut to a service's name limit."""
    if len(generated) <= limit:
        return generated
    head, _, suffix = generated.rpartition("-")
    return f"{head[: max(1, limit - len(suffix) - 1)]}-{suffix}"


def as_bool(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def lower_keys(value: Any) -> Any:
    """CloudFormation spells Step Functions' API members with a capital letter."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [lower_keys(v) for v in value]
    return value


class ExtendsMoto:
    """Delegates to moto's model for TYPE and completes what moto's create leaves out."""

    TYPE: ClassVar[str] = ""

    @classmethod
    def moto_class(cls) -> Any:
        from moto.cloudformation.parsing import get_model_map

        return get_model_map()[cls.TYPE]

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.moto_class().cloudformation_name_type()

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return cls.moto_class().has_cfn_attr(attr)

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        properties = cloudformation_json.setdefault("Properties", {})
        resource_name = cls.before_create(resource_name, properties)
        model = cls.moto_class().create_from_cloudformation_json(
            resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        cls.after_create(model, properties, account_id, region_name)
        return model

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        model = cls.moto_class().update_from_cloudformation_json(
            original_resource, new_resource_name, cloudformation_json, account_id, region_name
        )
        cls.after_create(
            model, cloudformation_json.get("Properties") or {}, account_id, region_name
        )
        return model

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        cls.moto_class().delete_from_cloudformation_json(
            resource_name, cloudformation_json, account_id, region_name
        )

    @classmethod
    def before_create(cls, resource_name: str, properties: dict[str, Any]) -> str:
        return resource_name

    @classmethod
    def after_create(
        cls, model: Any, properties: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        return None


class FifoNamed(ExtendsMoto):
    FIFO_PROPERTY: ClassVar[str] = ""
    LIMIT: ClassVar[int] = 80

    @classmethod
    def before_create(cls, resource_name: str, properties: dict[str, Any]) -> str:
        if as_bool(properties.get(cls.FIFO_PROPERTY)) and not str(resource_name).endswith(".fifo"):
            return fit_name(str(resource_name), cls.LIMIT - 5) + ".fifo"
        return resource_name


class NoOpResource(BridgedResource):
    """AWS::CDK::Metadata: CloudFormation records it; nothing is created."""

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        return cls(name)
