"""Cognito user pools (cognito-idp): moto's users and attributes, reached from Step Functions.

The stack creates no user pool (the app's own pool is named by the `cognitoUserPoolId` setting),
so there is no resource bridge here: tests create the pool in moto before deploying.

moto gaps bridged here (`SERVICE.gaps`):
- cognito.sfn_sdk_service_name
- cognito.attribute_schema
"""

from __future__ import annotations

from payops.localaws.core.patch import Patches
from payops.localaws.core.registry import Service
from payops.localaws.services.cognito_idp import bridge

PATCHES = Patches("cognito_idp", bridge.sdk_service_name_patches, bridge.attribute_patches)

SERVICE = Service(name="cognito_idp", gaps={**bridge.GAPS}, patches=PATCHES)

__all__ = ["PATCHES", "SERVICE"]
