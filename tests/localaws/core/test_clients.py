"""core/clients.py: one boto3 client per service, region and endpoint for the whole process,
answering whichever mock is active."""

from __future__ import annotations

from moto import mock_aws

from payops.localaws.core.account import REGION
from payops.localaws.core.clients import Clients, new_client


def test_a_client_is_made_once_per_service_region_and_endpoint() -> None:
    sqs = new_client("sqs")
    assert new_client("sqs", REGION, None) is sqs
    assert new_client("sqs", "eu-west-1") is not sqs
    assert new_client("sqs", REGION, "http://localhost:4566") is not sqs
    assert new_client("sns") is not sqs
    with mock_aws():  # two deploy checks' Clients share it (in-process: each wraps it directly)
        first, second = Clients()("sqs"), Clients()("sqs")
        assert first._client is second._client is sqs


def test_a_kept_client_answers_the_mock_that_is_active_now() -> None:
    with mock_aws():
        sqs = new_client("sqs")
        sqs.create_queue(QueueName="first-mock")
        assert [url.rsplit("/", 1)[1] for url in sqs.list_queues()["QueueUrls"]] == ["first-mock"]
    with mock_aws():
        assert new_client("sqs") is sqs
        assert "QueueUrls" not in sqs.list_queues()  # a new mock: none of the first one's queues
        sqs.create_queue(QueueName="second-mock")
        assert [url.rsplit("/", 1)[1] for url in sqs.list_queues()["QueueUrls"]] == ["second-mock"]
