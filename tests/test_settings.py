from __future__ import annotations

import pytest

from payops.settings import WEBHOOK_SOURCE, Settings, SettingsError


def test_defaults_are_partner_mode_with_documented_thresholds() -> None:
    settings = Settings.load({}, env={})
    assert settings.ingress == "partner"
    assert settings.large_order_threshold_jpy == 30000
    assert settings.large_invoice_threshold_jpy == 5000
    assert settings.event_source == settings.stripe_event_source_name


def test_context_strings_are_parsed_like_cdk_dash_c() -> None:
    settings = Settings.load(
        {"ingress": "webhook", "largeOrderThresholdJpy": "50000", "staffEmails": "a@x.jp, b@y.jp"},
        env={},
    )
    assert settings.ingress == "webhook"
    assert settings.large_order_threshold_jpy == 50000
    assert settings.staff_emails == ("a@x.jp", "b@y.jp")
    assert settings.event_source == WEBHOOK_SOURCE


def test_context_beats_environment_which_beats_default() -> None:
    env = {"PAYOPS_LARGE_ORDER_THRESHOLD_JPY": "40000", "PAYOPS_INGRESS": "webhook"}
    assert Settings.load({}, env=env).large_order_threshold_jpy == 40000
    assert (
        Settings.load({"largeOrderThresholdJpy": 45000}, env=env).large_order_threshold_jpy == 45000
    )
    assert Settings.load({}, env=env).ingress == "webhook"


@pytest.mark.parametrize(
    ("context", "needle"),
    [
        ({"ingress": "kafka"}, "setting 'ingress': expected one of partner, webhook"),
        ({"stripeEventSourceName": "aws.partner/shopify.com/x"}, "setting 'stripeEventSourceName'"),
        ({"stripeEventSourceName": "aws.partner/stripe.com/"}, "setting 'stripeEventSourceName'"),
        (
            {"largeOrderThresholdJpy": "30k"},
            "setting 'largeOrderThresholdJpy': expected a positive",
        ),
        ({"largeOrderThresholdJpy": "-1"}, "setting 'largeOrderThresholdJpy'"),
        ({"largeOrderThresholdJpy": True}, "setting 'largeOrderThresholdJpy'"),
        ({"webhookToleranceSeconds": "0"}, "setting 'webhookToleranceSeconds'"),
        ({"staffEmails": "ops@shop.jp,not-an-email"}, "setting 'staffEmails': 'not-an-email'"),
    ],
)
def test_invalid_settings_name_the_setting_in_one_line(context: dict, needle: str) -> None:
    with pytest.raises(SettingsError) as err:
        Settings.load(context, env={})
    assert needle in str(err.value)
    assert "\n" not in str(err.value)
