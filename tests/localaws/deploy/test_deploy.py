"""deploy(): the synthesized stack into moto, with bootstrap and assets, then checked in full."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import Synthesized
from moto import mock_aws

from payops.localaws import deploy as deploy_module
from payops.localaws.core.account import REGION
from payops.localaws.core.moto_pin import MOTO_VERSION
from payops.localaws.deploy import DeployError, assert_deployed, deploy, read_assembly
from payops.localaws.deploy import create as deploy_create
from payops.localaws.deploy import verify as deploy_verify
from payops.localaws.deploy.verify import physical_ids_of as list_ids
from payops.localaws.services import lambda_ as lambda_bridge


@pytest.fixture
def aws() -> Iterator[Any]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield lambda service: boto3.client(service, region_name=REGION)


def stack_secrets(template: dict[str, Any]) -> dict[str, str]:
    """What the operator creates before deploying: the secrets the template only references."""
    # Built at runtime, never shaped like a real key.
    return {
        name: "sk_test_" + secrets.token_hex(4)
        for _, name in deploy_module.referenced_secrets(template)
    }


# ---------------------------------------------------------------------------------------------
# A stack holding every resource type the PayOps stack uses (it is still growing)


def build_kitchen_sink(outdir: Path, *, extra: Any = None) -> str:
    import aws_cdk as cdk
    from aws_cdk import aws_cloudwatch as cloudwatch
    from aws_cdk import aws_cloudwatch_actions as actions
    from aws_cdk import aws_dynamodb as dynamodb
    from aws_cdk import aws_events as events
    from aws_cdk import aws_events_targets as targets
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs
    from aws_cdk import aws_s3 as s3
    from aws_cdk import aws_secretsmanager as secretsmanager
    from aws_cdk import aws_ses as ses
    from aws_cdk import aws_sns as sns
    from aws_cdk import aws_sns_subscriptions as subscriptions
    from aws_cdk import aws_sqs as sqs
    from aws_cdk import aws_stepfunctions as sfn

    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "Sink")
    destroy = cdk.RemovalPolicy.DESTROY
    bus = events.EventBus(stack, "Bus", event_bus_name="sink-bus")
    bus.archive(
        "Archive",
        event_pattern=events.EventPattern(source=["shop"]),
        retention=cdk.Duration.days(3),
    )
    key = kms.Key(stack, "TopicKey", enable_key_rotation=True, removal_policy=destroy)
    topic = sns.Topic(stack, "Topic", master_key=key)
    dlq = sqs.Queue(stack, "Dlq", retention_period=cdk.Duration.days(14))
    queue = sqs.Queue(
        stack,
        "Queue",
        visibility_timeout=cdk.Duration.seconds(45),
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=3),
    )
    sqs.Queue(stack, "Ordered", fifo=True, content_based_deduplication=True)
    topic.add_subscription(
        subscriptions.SqsSubscription(
            queue,
            raw_message_delivery=True,
            filter_policy={"kind": sns.SubscriptionFilter.string_filter(allowlist=["paid"])},
        )
    )
    topic.add_subscription(subscriptions.EmailSubscription("ops@example.com"))
    table = dynamodb.Table(
        stack,
        "Table",
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        time_to_live_attribute="expiresAt",
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        removal_policy=destroy,
    )
    api_key = secretsmanager.Secret(stack, "ApiKey")
    secretsmanager.Secret(
        stack, "Plain", secret_string_value=cdk.SecretValue.unsafe_plain_text("x")
    )
    connection = events.Connection(
        stack,
        "Connection",
        authorization=events.Authorization.api_key("Authorization", api_key.secret_value),
    )
    destination = events.ApiDestination(
        stack,
        "Destination",
        connection=connection,
        endpoint="https://api.example.com/v1/coupons",
        http_method=events.HttpMethod.POST,
    )
    definition = json.dumps(
        {
            "StartAt": "Put",
            "States": {
                "Put": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::dynamodb:putItem",
                    "Parameters": {"TableName": "${Table}", "Item": {"pk": {"S.$": "$.id"}}},
                    "Next": "Publish",
                },
                "Publish": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sns:publish",
                    "Parameters": {"TopicArn": "${Topic}", "Message.$": "$"},
                    "End": True,
                },
            },
        }
    )
    machine = sfn.StateMachine(
        stack,
        "Flow",
        state_machine_type=sfn.StateMachineType.EXPRESS,
        definition_body=sfn.DefinitionBody.from_string(definition),
        definition_substitutions={"Table": table.table_name, "Topic": topic.topic_arn},
        logs=sfn.LogOptions(
            destination=logs.LogGroup(stack, "FlowLogs", removal_policy=destroy),
            level=sfn.LogLevel.ALL,
        ),
    )
    table.grant_read_write_data(machine)
    topic.grant_publish(machine)
    function = lambda_.Function(
        stack,
        "Fn",
        runtime=lambda_.Runtime.PYTHON_3_12,
        architecture=lambda_.Architecture.ARM_64,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return event\n"),
        environment={"TABLE": table.table_name},
        log_group=logs.LogGroup(
            stack, "FnLogs", retention=logs.RetentionDays.ONE_WEEK, removal_policy=destroy
        ),
    )
    url = function.add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE)
    rule = events.Rule(
        stack,
        "Rule",
        event_bus=bus,
        event_pattern=events.EventPattern(
            source=["shop"], detail_type=["checkout.session.completed"]
        ),
    )
    rule.add_target(
        targets.SqsQueue(
            queue, dead_letter_queue=dlq, message=events.RuleTargetInput.from_event_path("$.detail")
        )
    )
    rule.add_target(
        targets.SnsTopic(
            topic,
            message=events.RuleTargetInput.from_object({"id": events.EventField.from_path("$.id")}),
            dead_letter_queue=dlq,
        )
    )
    rule.add_target(targets.SfnStateMachine(machine, dead_letter_queue=dlq, retry_attempts=2))
    rule.add_target(targets.LambdaFunction(function))
    rule.add_target(targets.ApiDestination(destination))
    alarm = cloudwatch.Alarm(
        stack,
        "DlqAlarm",
        metric=dlq.metric_approximate_number_of_messages_visible(),
        threshold=1,
        evaluation_periods=1,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    alarm.add_alarm_action(actions.SnsAction(topic))
    bucket = s3.Bucket(
        stack,
        "Downloads",
        enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        lifecycle_rules=[s3.LifecycleRule(id="expire", expiration=cdk.Duration.days(7))],
        removal_policy=destroy,
    )
    config_set = ses.ConfigurationSet(stack, "Mail")
    ses.EmailIdentity(
        stack,
        "Sender",
        identity=ses.Identity.email("shop@example.com"),
        configuration_set=config_set,
    )
    for name, value in {
        "Url": url.url,
        "ConnectionArn": connection.connection_arn,
        "DestinationArn": destination.api_destination_arn,
        "ApiKeyArn": api_key.secret_arn,
        "AlarmArn": alarm.alarm_arn,
        "BucketName": bucket.bucket_name,
    }.items():
        cdk.CfnOutput(stack, name, value=value)
    if extra is not None:
        extra(stack)
    return app.synth().directory


@pytest.fixture(scope="session")
def kitchen_sink(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_kitchen_sink(tmp_path_factory.mktemp("sink"))


def template_types(template: dict[str, Any]) -> set[str]:
    return {r["Type"] for r in template["Resources"].values()}


def test_kitchen_sink_covers_the_types_the_stack_uses(kitchen_sink: str) -> None:
    template = read_assembly(kitchen_sink, "Sink").template
    assert template_types(template) >= {
        "AWS::SNS::Topic", "AWS::SNS::Subscription", "AWS::SNS::TopicPolicy", "AWS::SQS::Queue",
        "AWS::SQS::QueuePolicy", "AWS::DynamoDB::Table", "AWS::StepFunctions::StateMachine",
        "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::Events::EventBus", "AWS::Events::Rule",
        "AWS::Events::Connection", "AWS::Events::ApiDestination", "AWS::Events::Archive",
        "AWS::CloudWatch::Alarm", "AWS::SecretsManager::Secret", "AWS::Lambda::Function",
        "AWS::Lambda::Url", "AWS::Lambda::Permission", "AWS::Logs::LogGroup", "AWS::S3::Bucket",
        "AWS::S3::BucketPolicy", "AWS::KMS::Key", "AWS::SES::EmailIdentity",
        "AWS::SES::ConfigurationSet",
    }  # fmt: skip


def test_kitchen_sink_deploys_with_every_resource_as_declared(
    kitchen_sink: str, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    listed: list[str] = []  # the stack's resources are listed once; the deploy check reuses them
    for module in (deploy_create, deploy_verify):
        monkeypatch.setattr(
            module, "physical_ids_of", lambda c, name: listed.append(name) or list_ids(c, name)
        )
    deployed = deploy(kitchen_sink, "Sink")
    assert listed == ["Sink"]
    template = deployed.template
    assert set(deployed.physical_ids) == set(template["Resources"])
    # Read back through the APIs, independently of assert_deployed:
    (rule,) = deployed.resources_of("AWS::Events::Rule").values()
    rule_targets = aws("events").list_targets_by_rule(Rule=rule, EventBusName="sink-bus")["Targets"]
    assert len(rule_targets) == 5
    (dlq,) = [u for u in deployed.resources_of("AWS::SQS::Queue").values() if "Dlq" in u]
    dlq_arn = aws("sqs").get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    assert sum(t.get("DeadLetterConfig", {}).get("Arn") == dlq_arn for t in rule_targets) == 3
    (table,) = deployed.resources_of("AWS::DynamoDB::Table").values()
    ttl = aws("dynamodb").describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiresAt"}
    (machine,) = deployed.resources_of("AWS::StepFunctions::StateMachine").values()
    described = aws("stepfunctions").describe_state_machine(stateMachineArn=machine)
    assert described["type"] == "EXPRESS"
    assert json.loads(described["definition"])["States"]["Put"]["Parameters"]["TableName"] == table
    assert deployed.outputs["Url"].startswith("https://")
    # The connection got the API key from the stack's own secret ({{resolve:...}} with its ARN).
    connection = aws("events").describe_connection(
        Name=deployed.outputs["ConnectionArn"].split("/")[1]
    )
    secretsmanager = aws("secretsmanager")
    api_key = secretsmanager.get_secret_value(SecretId=deployed.outputs["ApiKeyArn"])[
        "SecretString"
    ]
    stored = secretsmanager.get_secret_value(SecretId=connection["SecretArn"])["SecretString"]
    assert json.loads(stored)["api_key_value"] == api_key
    assert len(aws("cloudwatch").describe_alarms()["MetricAlarms"]) == 1
    # The enforce-SSL downloads bucket still takes writes (the local endpoint stands for HTTPS).
    aws("s3").put_object(Bucket=deployed.outputs["BucketName"], Key="file.pdf", Body=b"%PDF")


def test_a_stack_deployed_again_gets_the_same_names_and_is_not_parsed_again(
    kitchen_sink: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Physical names are drawn from moto's random source seeded per stack, so a new local AWS
    gets the same names and the state machine's definition (which embeds them) is the string
    already parsed. Nothing drawn after the deploy repeats."""
    from executions import count_parses
    from moto.moto_api._internal import mock_random

    names, after = [], []
    parses: list[str] = []
    for second in (False, True):
        if second:
            parses = count_parses(monkeypatch)
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            names.append(deploy(kitchen_sink, "Sink").physical_ids)
            after.append(mock_random.uuid4())
    assert names[0] == names[1]
    (table,) = [v for k, v in names[0].items() if k.startswith("Table")]
    assert table.startswith("Sink-Table") and len(table.rsplit("-", 1)[1]) == 12
    assert parses == []  # the second deploy's definition was known
    assert after[0] != after[1]


def test_assert_deployed_lists_every_difference(kitchen_sink: str, aws: Any) -> None:
    deployed = deploy(kitchen_sink, "Sink")
    ids = deployed.physical_ids
    logical = {
        kind: next(k for k, v in deployed.template["Resources"].items() if v["Type"] == kind)
        for kind in template_types(deployed.template)
    }
    (queue_id,) = [k for k in deployed.resources_of("AWS::SQS::Queue") if k.startswith("Queue")]
    (rule,) = deployed.resources_of("AWS::Events::Rule").values()
    # (moto's SetQueueAttributes drops a Policy it is not given: pass it along.)
    policy = aws("sqs").get_queue_attributes(QueueUrl=ids[queue_id], AttributeNames=["Policy"])
    aws("sqs").set_queue_attributes(
        QueueUrl=ids[queue_id], Attributes={"RedrivePolicy": "", **policy["Attributes"]}
    )
    aws("events").disable_rule(Name=rule, EventBusName="sink-bus")
    target_ids = [
        t["Id"]
        for t in aws("events").list_targets_by_rule(Rule=rule, EventBusName="sink-bus")["Targets"]
    ]
    aws("events").remove_targets(Rule=rule, EventBusName="sink-bus", Ids=target_ids[:1])
    table = ids[logical["AWS::DynamoDB::Table"]]
    aws("dynamodb").update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": False, "AttributeName": "expiresAt"}
    )
    (sqs_subscription,) = [
        k for k, v in deployed.template["Resources"].items()
        if v["Type"] == "AWS::SNS::Subscription" and v["Properties"]["Protocol"] == "sqs"
    ]  # fmt: skip
    aws("sns").set_subscription_attributes(
        SubscriptionArn=ids[sqs_subscription],
        AttributeName="RawMessageDelivery",
        AttributeValue="false",
    )
    machine = ids[logical["AWS::StepFunctions::StateMachine"]]
    aws("stepfunctions").update_state_machine(
        stateMachineArn=machine,
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
    )
    aws("cloudwatch").delete_alarms(AlarmNames=[ids[logical["AWS::CloudWatch::Alarm"]]])
    aws("lambda").delete_function_url_config(FunctionName=ids[logical["AWS::Lambda::Function"]])

    with pytest.raises(DeployError) as error:
        assert_deployed(deployed.template, "Sink")
    problems = error.value.problems
    text = "\n".join(problems)

    def reported(logical_id: str, kind: str, words: str) -> bool:
        return any(p.startswith(f"{logical_id} {kind}: ") and words in p for p in problems)

    rule_id = next(iter(deployed.resources_of("AWS::Events::Rule")))
    assert reported(queue_id, "AWS::SQS::Queue", "RedrivePolicy"), text
    assert reported(rule_id, "AWS::Events::Rule", "State"), text
    assert reported(rule_id, "AWS::Events::Rule", f"target {target_ids[0]}: missing"), text
    assert reported(logical["AWS::DynamoDB::Table"], "AWS::DynamoDB::Table", "TTL status"), text
    assert reported(sqs_subscription, "AWS::SNS::Subscription", "RawMessageDelivery"), text
    assert reported(
        logical["AWS::StepFunctions::StateMachine"],
        "AWS::StepFunctions::StateMachine",
        "definition",
    ), text
    assert reported(logical["AWS::CloudWatch::Alarm"], "AWS::CloudWatch::Alarm", "missing"), text
    assert reported(logical["AWS::Lambda::Url"], "AWS::Lambda::Url", "missing"), text
    assert len(problems) == 8, text  # one line per difference, nothing else


# ---------------------------------------------------------------------------------------------
# The app itself, both ingress modes


@pytest.mark.parametrize("mode", ["partner", "webhook"])
def test_the_app_deploys_in_each_ingress_mode(
    mode: str,
    request: pytest.FixtureRequest,
    aws: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    synthesized: Synthesized = request.getfixturevalue(mode)
    assembly = synthesized.assembly
    registered: list[tuple[str, str]] = []
    original = lambda_bridge.register_code_dir

    def register(name: str, path: str) -> None:
        registered.append((name, path))
        original(name, path)

    monkeypatch.setattr(lambda_bridge, "register_code_dir", register)
    template = read_assembly(assembly).template
    deployed = deploy(assembly, secrets=stack_secrets(template))
    timings = deployed.timings
    with capsys.disabled():  # the lead wants the number
        print(f"\nin-process deploy, {mode} ingress: {timings['total']:.2f} s {timings}")
    steps = sum(seconds for step, seconds in timings.items() if step != "total")
    assert 0 < steps <= timings["total"] + 0.01

    assert set(deployed.physical_ids) == set(template["Resources"])
    assert len(deployed.resources_of("AWS::Events::Rule")) == sum(
        r["Type"] == "AWS::Events::Rule" for r in template["Resources"].values()
    )
    buses = deployed.resources_of("AWS::Events::EventBus")
    # The Stripe bus and the app event bus (the stack's own events and those it puts back).
    assert sorted(buses) == sorted([k for k in buses if k.startswith(("Ingress", "AppEvents"))])
    (bus,) = [name for logical, name in buses.items() if logical.startswith("Ingress")]
    assert deployed.outputs["EventBusName"] == bus
    assert deployed.outputs["AppEventBusName"] in buses.values()
    assert aws("events").describe_event_bus(Name=bus)["Name"] == bus
    # Every Lambda with a cdk.out asset runs its code from that directory.
    functions = deployed.resources_of("AWS::Lambda::Function")
    with_assets = {
        logical_id for logical_id, r in template["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function" and "S3Key" in r["Properties"]["Code"]
    }  # fmt: skip
    assert sorted(name for name, _ in registered) == sorted(functions[i] for i in with_assets)
    for _, path in registered:
        assert Path(path).is_dir() and Path(path).resolve().is_relative_to(Path(assembly).resolve())
    if mode == "webhook":
        assert deployed.outputs["WebhookUrl"].startswith("https://")
        receiver = next(i for i in functions if i.startswith("IngressReceiver"))
        # Its handler runs (from cdk.out) and refuses an unsigned webhook.
        response = aws("lambda").invoke(
            FunctionName=functions[receiver],
            Payload=json.dumps(
                {"headers": {}, "body": "{}", "requestContext": {"http": {"method": "POST"}}}
            ),
        )
        answer = json.loads(response["Payload"].read())
        assert 400 <= int(answer["statusCode"]) < 500, answer


# ---------------------------------------------------------------------------------------------
# Failing loudly


def test_an_uncreatable_type_fails_before_anything_is_created(tmp_path: Path, aws: Any) -> None:
    import aws_cdk as cdk

    def schedule(stack: Any) -> None:  # (Scheduler is bridged since issue 16: GameLift is not)
        cdk.CfnResource(stack, "Nightly", type="AWS::GameLift::Fleet", properties={})

    assembly = build_kitchen_sink(tmp_path, extra=schedule)
    with pytest.raises(DeployError) as error:
        deploy(assembly, "Sink")
    assert error.value.problems == [
        "Nightly AWS::GameLift::Fleet: cannot be created by the local AWS "
        f"(moto {MOTO_VERSION}); "
        "bridge it in payops/localaws/services/<svc>/resources.py"
    ]
    assert aws("cloudformation").list_stacks()["StackSummaries"] == []


def test_a_resource_that_fails_fails_the_deploy_naming_it(tmp_path: Path, aws: Any) -> None:
    from aws_cdk import aws_events as events

    def broken(stack: Any) -> None:
        events.CfnRule(
            stack, "Orphan", event_bus_name="no-such-bus", event_pattern={"source": ["x"]}
        )

    assembly = build_kitchen_sink(tmp_path, extra=broken)
    with pytest.raises(DeployError) as error:
        deploy(assembly, "Sink")
    (problem,) = error.value.problems
    assert problem.startswith("Orphan AWS::Events::Rule: CREATE_FAILED: ")
    assert "no-such-bus" in problem
    assert "CREATE_FAILED" in str(error.value)


def test_a_referenced_secret_must_exist(partner: Synthesized, aws: Any) -> None:
    assembly = partner.assembly
    names = [name for _, name in deploy_module.referenced_secrets(read_assembly(assembly).template)]
    if not names:
        pytest.skip("the stack references no secret by name")
    with pytest.raises(DeployError) as error:
        deploy(assembly)
    assert all(
        f"{{{{resolve:secretsmanager:{name}}}}}: no such secret" in str(error.value)
        for name in names
    )


def test_an_old_bootstrap_is_refused(kitchen_sink: str, aws: Any) -> None:
    aws("ssm").put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="5", Type="String")
    with pytest.raises(DeployError, match="CDK bootstrap stack version 6 required"):
        deploy(kitchen_sink, "Sink")


def test_deploy_refuses_to_talk_to_anything_but_moto(
    kitchen_sink: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with pytest.raises(RuntimeError, match="mock_aws"):
        deploy(kitchen_sink, "Sink")


def test_read_assembly_finds_template_and_assets(webhook: Synthesized) -> None:
    assembly = webhook.assembly
    artifact = read_assembly(assembly)
    assert artifact.template == webhook.json
    zipped = [a for a in artifact.assets if a.packaging == "zip"]
    assert zipped and all(a.source.is_dir() for a in zipped)
    assert all(a.bucket.startswith("cdk-hnb659fds-assets-") for a in artifact.assets)
    with pytest.raises(DeployError, match="no template"):
        read_assembly(assembly, "NoSuchStack")


def _template_urls_read(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The TemplateURLs moto's CreateStack reads a template from (none for a TemplateBody)."""
    from moto.cloudformation.responses import CloudFormationResponse

    urls: list[str] = []
    original = CloudFormationResponse._get_stack_from_s3_url

    def read(self: Any, template_url: str) -> str:
        urls.append(template_url)
        return original(self, template_url)

    monkeypatch.setattr(CloudFormationResponse, "_get_stack_from_s3_url", read)
    return urls


def test_the_stack_is_created_from_its_published_template_as_cdk_deploy_does(
    kitchen_sink: str, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cdk deploy` creates the stack by TemplateURL when the assembly publishes its template
    (stackTemplateAssetObjectUrl); a template over 51,200 bytes cannot go as TemplateBody."""
    urls = _template_urls_read(monkeypatch)
    artifact = read_assembly(kitchen_sink, "Sink")
    assert artifact.template_url and artifact.template_url.startswith("s3://cdk-hnb659fds-assets-")
    deploy(kitchen_sink, "Sink")
    (url,) = urls
    bucket, key = url.removeprefix(f"https://s3.{REGION}.amazonaws.com/").split("/", 1)
    assert bucket.startswith("cdk-hnb659fds-assets-") and key.endswith(".json")
    body = aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    assert json.loads(body) == artifact.template  # the published template is the stack's


def test_an_assembly_that_does_not_publish_its_template_sends_the_body(
    kitchen_sink: str, aws: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import shutil

    copy = tmp_path / "assembly"
    shutil.copytree(kitchen_sink, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    for entry in manifest["artifacts"].values():
        entry.get("properties", {}).pop("stackTemplateAssetObjectUrl", None)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    urls = _template_urls_read(monkeypatch)
    deploy(copy, "Sink")
    assert urls == []
    stored = aws("cloudformation").get_template(StackName="Sink")["TemplateBody"]
    assert (json.loads(stored) if isinstance(stored, str) else stored) == read_assembly(
        copy, "Sink"
    ).template
