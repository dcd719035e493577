"""SES's CloudFormation resource bridges, both skipped by moto and created on its SES v2 backend:
AWS::SES::EmailIdentity (so SES sends from the identity) and AWS::SES::ConfigurationSet.
"""

from __future__ import annotations

from typing import Any

from payops.localaws.core.resources import BridgedResource


def _sesv2(account_id: str, region_name: str) -> Any:
    from moto.sesv2.models import sesv2_backends

    return sesv2_backends[account_id][region_name]


class SesEmailIdentity(BridgedResource):
    TYPE = "AWS::SES::EmailIdentity"
    NAME_PROPERTY = "EmailIdentity"

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        backend = _sesv2(account_id, region_name)
        config_set = (properties.get("ConfigurationSetAttributes") or {}).get(
            "ConfigurationSetName"
        )
        identity = backend.create_email_identity(
            email_identity=name,
            tags=None,
            dkim_signing_attributes=properties.get("DkimSigningAttributes"),
            configuration_set_name=config_set,
        )
        return cls(name, {}, lambda: backend.delete_email_identity(name), identity)


class SesConfigurationSet(BridgedResource):
    TYPE = "AWS::SES::ConfigurationSet"
    NAME_PROPERTY = "Name"
    NAME_LIMIT = 64

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        backend = _sesv2(account_id, region_name)
        backend.create_configuration_set(
            configuration_set_name=name,
            tracking_options=properties.get("TrackingOptions") or {},
            delivery_options=properties.get("DeliveryOptions") or {},
            reputation_options=properties.get("ReputationOptions") or {},
            sending_options=properties.get("SendingOptions") or {},
            tags=properties.get("Tags") or [],
            suppression_options=properties.get("SuppressionOptions") or {},
            vdm_options=properties.get("VdmOptions") or {},
        )
        return cls(name, {}, lambda: backend.delete_configuration_set(name))


GAPS: dict[str, str] = {
    "AWS::SES::EmailIdentity": ("the identity is verified, so SES sends from it (moto: skipped)"),
    "AWS::SES::ConfigurationSet": ("created on moto's SES v2 backend (moto: skipped)"),
}

RESOURCES = (SesEmailIdentity, SesConfigurationSet)
