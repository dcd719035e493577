"""Deploy checks for SES: each email identity and configuration set must exist in SES v2 (their
properties are not compared).
"""

from __future__ import annotations

from payops.localaws.core.checking import Check, CheckFn


def check_email_identity(c: Check) -> None:
    c.client("sesv2").get_email_identity(EmailIdentity=c.physical_id)


def check_configuration_set(c: Check) -> None:
    c.client("sesv2").get_configuration_set(ConfigurationSetName=c.physical_id)


CHECKS: dict[str, CheckFn] = {
    "AWS::SES::EmailIdentity": check_email_identity,
    "AWS::SES::ConfigurationSet": check_configuration_set,
}
