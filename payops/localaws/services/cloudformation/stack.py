"""CloudFormation bridges: moto 5.2.5 creates what CloudFormation would create from our template.

moto's CloudFormation skips every resource type it has no model for (with a log warning), so a
stack can reach CREATE_COMPLETE with its subscriptions, secrets or alarms missing. `install()`
patches moto in place (class and module level, so `mock_aws` and `ThreadedMotoServer` in this
process both get it):

- resource types are looked up here first: the types in `BRIDGES` are implemented on moto's own
  backends (SNS subscriptions, secrets, EventBridge connections, API destinations and archives,
  CloudWatch alarms, Lambda URLs ...) or complete moto's model (DynamoDB TTL, Step Functions
  state machines in the executing backend, Lambda architectures ...);
- a template holding any type that still cannot be created is refused at CreateStack /
  CreateChangeSet / UpdateStack with a ValidationError naming every such resource;
- a resource that fails to create leaves the stack in CREATE_FAILED with an event naming it
  (moto raised out of CreateStack and left the stack CREATE_IN_PROGRESS).

Each resource bridge returns a small handle (`BridgedResource`) that moto's ResourceMap stores:
physical id for `Ref`, attributes for `Fn::GetAtt`, `delete()` for stack deletion. The handles do
not subclass moto's CloudFormationModel on purpose: moto builds its type map from that class's
subclasses, and these must exist only while installed (tests show each gap with them removed).

Pinned to moto 5.2.5: `install()` refuses any other version, the patched internals are private.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
import threading
from collections.abc import Callable
from typing import Any, ClassVar

from payops.localaws.moto_pin import MOTO_VERSION, require_pinned_moto

BRIDGES: dict[str, str] = {
    "cfn.unsupported_types": (
        "a template with a resource type moto cannot create is refused, naming each resource "
        "(moto skips it with a log warning, or crashes on an Output GetAtt of it)"
    ),
    "cfn.create_failed": (
        "a resource that fails to create sets CREATE_FAILED with an event naming it (moto raises "
        "out of CreateStack and leaves the stack CREATE_IN_PROGRESS)"
    ),
    "cfn.stack_resources": (
        "listing a stack's resources never creates one (moto creates missing ones lazily while "
        "listing, so a failed stack fails again, and lists skipped ones with empty ids)"
    ),
    "cfn.change_set_outputs": (
        "a stack created from a change set (cdk bootstrap's CDKToolkit) has its Outputs (moto "
        "keeps the empty outputs of the change set's placeholder stack); a resource failing in "
        "ExecuteChangeSet is named in the error and the stack events"
    ),
    "cfn.template_rules": (
        "the template's Rules (CDK's CheckBootstrapVersion) are evaluated (moto ignores them)"
    ),
    "cfn.ssm_parameter_types": (
        "a missing SSM parameter behind an AWS::SSM::Parameter::Value parameter (the CDK "
        "bootstrap version) fails with CloudFormation's ValidationError (moto: ParameterNotFound)"
    ),
    "cfn.dynamic_references": (
        "{{resolve:secretsmanager:...}} and {{resolve:ssm:...}} are resolved at deploy time "
        "(moto passes them through as literal text)"
    ),
    "cfn.cdk_metadata": "AWS::CDK::Metadata is accepted and creates nothing, as on AWS",
    "AWS::Events::EventBus": (
        "Ref returns the bus name (moto returns its model object); Policy is applied (moto "
        "drops it)"
    ),
    "AWS::Logs::LogGroup": "GetAtt Arn ends in ':*' as on AWS (moto's lacks it, so IAM differs)",
    "AWS::Events::Archive": (
        "EventPattern is taken as an object, names stay within 48 characters, Ref returns the "
        "name (moto crashes on the object pattern)"
    ),
    "AWS::Events::Connection": "created on moto's events backend (moto: skipped)",
    "AWS::Events::ApiDestination": "created on moto's events backend (moto: skipped)",
    "AWS::KMS::Key": (
        "KeyPolicy is stored as JSON, KeyUsage/KeySpec/MultiRegion honoured, GetAtt KeyId "
        "(moto stores the policy object: DescribeKey then fails with a TypeError)"
    ),
    "AWS::SNS::Subscription": (
        "subscribe with RawMessageDelivery, FilterPolicy(Scope), RedrivePolicy, DeliveryPolicy "
        "(moto: skipped)"
    ),
    "AWS::SNS::TopicPolicy": "sets each topic's Policy (moto: skipped)",
    "AWS::SQS::QueuePolicy": "sets each queue's Policy (moto: skipped)",
    "AWS::S3::BucketPolicy": "puts the bucket policy (moto: skipped; cdk bootstrap has one)",
    "s3.bucket_policy_conditions": (
        "bucket policy statements apply only when their Condition holds for an HTTPS request "
        "(moto applies a Deny whatever its Condition: enforceSSL buckets refuse every request)"
    ),
    "AWS::SecretsManager::Secret": (
        "SecretString or GenerateSecretString (with SecretStringTemplate/GenerateStringKey); "
        "Ref returns the ARN (moto: skipped)"
    ),
    "AWS::Lambda::Url": "function URL with FunctionUrl/FunctionArn attributes (moto: skipped)",
    "AWS::CloudWatch::Alarm": "metric and metric-math alarms (moto: skipped)",
    "AWS::SES::EmailIdentity": "the identity is verified, so SES sends from it (moto: skipped)",
    "AWS::SES::ConfigurationSet": "created on moto's SES v2 backend (moto: skipped)",
    "AWS::DynamoDB::Table": (
        "TimeToLiveSpecification and PointInTimeRecoverySpecification are applied (moto: ignored)"
    ),
    "AWS::StepFunctions::StateMachine": (
        "created in the backend the API uses (with execute_state_machine moto puts it where no "
        "API call finds it); StateMachineType, DefinitionSubstitutions, Definition, "
        "DefinitionS3Location, LoggingConfiguration and TracingConfiguration are honoured"
    ),
    "AWS::Lambda::Function": (
        "Architectures, Layers, TracingConfig, EphemeralStorage, KmsKeyArn, DeadLetterConfig, "
        "Tags and FunctionName are honoured (moto drops them)"
    ),
    "AWS::SQS::Queue": "a generated FIFO queue name ends in .fifo, as CloudFormation makes it",
    "AWS::SNS::Topic": "a generated FIFO topic name ends in .fifo, as CloudFormation makes it",
    "AWS::IAM::Role": (
        "ManagedPolicyArns are attached, AWS managed ones loaded on demand (moto ignores them)"
    ),
    "AWS::S3::Bucket": (
        "VersioningConfiguration, LifecycleConfiguration, PublicAccessBlockConfiguration, "
        "CorsConfiguration and OwnershipControls are applied (moto: only encryption and tags)"
    ),
}

# Resource types CloudFormation accepts that create nothing a test could look at.
NO_OP_TYPES = frozenset({"AWS::CDK::Metadata"})

_lock = threading.Lock()
_originals: dict[str, tuple[Any, str, Any, bool]] = {}  # key -> (owner, attr, value, existed)
_DYNAMIC_REFERENCE = re.compile(r"\{\{resolve:(ssm|ssm-secure|secretsmanager):([^{}]*)\}\}")


def _original(key: str) -> Any:
    return _originals[key][2]


def _validation_error(message: str) -> Exception:
    from moto.cloudformation.exceptions import ValidationError

    return ValidationError(message=message)


# ---------------------------------------------------------------------------------------------
# Resource handles


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
        name = (properties.get(cls.NAME_PROPERTY) if cls.NAME_PROPERTY else None) or _fit(
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


def _fit(generated: str, limit: int) -> str:
    """moto's generated '<stack>-<logical id>-<suffix>', cut to a service's name limit."""
    if len(generated) <= limit:
        return generated
    head, _, suffix = generated.rpartition("-")
    return f"{head[: max(1, limit - len(suffix) - 1)]}-{suffix}"


def _bool(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


# --- EventBridge -----------------------------------------------------------------------------


def _events(account_id: str, region_name: str) -> Any:
    from moto.events.models import events_backends

    return events_backends[account_id][region_name]


class EventsArchive(BridgedResource):
    TYPE = "AWS::Events::Archive"
    NAME_PROPERTY = "ArchiveName"
    NAME_LIMIT = 48
    ATTRIBUTES = ("Arn", "ArchiveName")

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        backend = _events(account_id, region_name)
        pattern = properties.get("EventPattern")
        archive = backend.create_archive(
            name,
            properties["SourceArn"],
            properties.get("Description"),
            None if pattern is None else _json_text(pattern),
            properties.get("RetentionDays"),
        )
        archive.event_bus_name = backend._get_event_bus(properties["SourceArn"]).name
        return cls(
            archive.name,
            {"Arn": archive.arn, "ArchiveName": archive.name},
            lambda: archive.delete(account_id, region_name),
            archive,
        )


class EventsConnection(BridgedResource):
    TYPE = "AWS::Events::Connection"
    NAME_PROPERTY = "Name"
    NAME_LIMIT = 64
    ATTRIBUTES = ("Arn", "ArnForPolicy", "SecretArn")

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        backend = _events(account_id, region_name)
        connection = backend.create_connection(
            name,
            properties.get("Description"),
            properties["AuthorizationType"],
            properties.get("AuthParameters") or {},
        )
        return cls(
            name,
            {
                "Arn": connection.arn,
                "ArnForPolicy": connection.arn.rsplit("/", 1)[0],
                "SecretArn": connection.secret_arn,
            },
            lambda: backend.delete_connection(name),
            connection,
        )


class EventsApiDestination(BridgedResource):
    TYPE = "AWS::Events::ApiDestination"
    NAME_PROPERTY = "Name"
    NAME_LIMIT = 64
    ATTRIBUTES = ("Arn", "ArnForPolicy")

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        backend = _events(account_id, region_name)
        backend.create_api_destination(
            name,
            properties.get("Description"),
            properties["ConnectionArn"],
            properties["InvocationEndpoint"],
            properties.get("InvocationRateLimitPerSecond"),
            properties["HttpMethod"],
        )
        destination = backend.destinations[name]
        return cls(
            name,
            {"Arn": destination.arn, "ArnForPolicy": destination.arn.rsplit("/", 1)[0]},
            lambda: backend.delete_api_destination(name),
            destination,
        )


# --- SNS / SQS / S3 policies and subscriptions -----------------------------------------------


def _sns(account_id: str, region_name: str) -> Any:
    from moto.sns.models import sns_backends

    return sns_backends[account_id][region_name]


def _sqs(account_id: str, region_name: str) -> Any:
    from moto.sqs.models import sqs_backends

    return sqs_backends[account_id][region_name]


class SnsSubscription(BridgedResource):
    TYPE = "AWS::SNS::Subscription"
    ATTRIBUTES = ("Arn",)
    _ATTRIBUTE_PROPERTIES = (
        "RawMessageDelivery",
        "FilterPolicyScope",
        "FilterPolicy",
        "RedrivePolicy",
        "DeliveryPolicy",
        "SubscriptionRoleArn",
    )

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        topic_arn = properties["TopicArn"]
        backend = _sns(account_id, region_name)
        if properties.get("Region") not in (None, region_name):
            backend = _sns(account_id, properties["Region"])
        subscription = backend.subscribe(
            topic_arn, properties.get("Endpoint"), properties["Protocol"]
        )
        arn = subscription.arn
        for key in cls._ATTRIBUTE_PROPERTIES:
            if key not in properties:
                continue
            value = properties[key]
            text = str(_bool(value)).lower() if key == "RawMessageDelivery" else _json_text(value)
            backend.set_subscription_attributes(arn, key, text)
        return cls(arn, {"Arn": arn}, lambda: backend.unsubscribe(arn), subscription)


class SnsTopicPolicy(BridgedResource):
    TYPE = "AWS::SNS::TopicPolicy"
    ATTRIBUTES = ("Id",)

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        backend = _sns(account_id, region_name)
        topics = list(properties["Topics"])
        policy = _json_text(properties["PolicyDocument"])
        for arn in topics:
            backend.set_topic_attribute(arn, "policy", policy)

        def delete() -> None:  # AWS puts back each topic's default policy
            for arn in topics:
                topic = backend.topics.get(arn)
                if topic is not None:
                    default = topic._create_default_topic_policy(
                        region_name, account_id, topic.name
                    )
                    backend.set_topic_attribute(arn, "policy", json.dumps(default))

        return cls(name, {"Id": name}, delete)


class SqsQueuePolicy(BridgedResource):
    TYPE = "AWS::SQS::QueuePolicy"
    ATTRIBUTES = ("Id",)

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        backend = _sqs(account_id, region_name)
        queues = [str(url).rstrip("/").rsplit("/", 1)[-1] for url in properties["Queues"]]
        policy = _json_text(properties["PolicyDocument"])
        for queue in queues:
            backend.set_queue_attributes(queue, {"Policy": policy})

        def delete() -> None:
            for queue in queues:
                if queue in backend.queues:
                    backend.set_queue_attributes(queue, {"Policy": ""})

        return cls(name, {"Id": name}, delete)


class S3BucketPolicy(BridgedResource):
    TYPE = "AWS::S3::BucketPolicy"

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        from moto.s3.models import s3_backends
        from moto.utilities.utils import get_partition

        backend = s3_backends[account_id][get_partition(region_name)]
        bucket = properties["Bucket"]
        backend.put_bucket_policy(bucket, _json_text(properties["PolicyDocument"]).encode())
        return cls(name, {}, lambda: backend.delete_bucket_policy(bucket))


# --- Secrets Manager -------------------------------------------------------------------------


def generate_secret_string(backend: Any, spec: dict[str, Any]) -> str:
    """CloudFormation's GenerateSecretString, on moto's own GetRandomPassword."""
    password = backend.get_random_password(
        password_length=int(spec.get("PasswordLength", 32)),
        exclude_characters=spec.get("ExcludeCharacters", ""),
        exclude_numbers=_bool(spec.get("ExcludeNumbers", False)),
        exclude_punctuation=_bool(spec.get("ExcludePunctuation", False)),
        exclude_uppercase=_bool(spec.get("ExcludeUppercase", False)),
        exclude_lowercase=_bool(spec.get("ExcludeLowercase", False)),
        include_space=_bool(spec.get("IncludeSpace", False)),
        require_each_included_type=_bool(spec.get("RequireEachIncludedType", True)),
    )
    password = json.loads(password)["RandomPassword"]  # moto returns the API's JSON body
    template, key = spec.get("SecretStringTemplate"), spec.get("GenerateStringKey")
    if (template is None) != (key is None):
        raise _validation_error(
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
            raise _validation_error("SecretString and GenerateSecretString are mutually exclusive")
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


# --- Lambda URL, CloudWatch alarm, SES -------------------------------------------------------


class LambdaUrl(BridgedResource):
    TYPE = "AWS::Lambda::Url"
    ATTRIBUTES = ("FunctionArn", "FunctionUrl")

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        from moto.awslambda.utils import get_backend

        if properties.get("Qualifier"):
            raise _validation_error("AWS::Lambda::Url with a Qualifier: not modelled by moto")
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


def _metric_queries(metrics: list[dict[str, Any]] | None) -> list[Any] | None:
    from moto.cloudwatch.models import Dimension, Metric, MetricDataQuery, MetricStat

    if not metrics:
        return None
    queries = []
    for metric in metrics:
        stat = metric.get("MetricStat")
        metric_stat = None
        if stat:
            inner = stat.get("Metric", {})
            metric_stat = MetricStat(
                metric=Metric(
                    metric_name=inner.get("MetricName"),
                    namespace=inner.get("Namespace"),
                    dimensions=[
                        Dimension(name=d["Name"], value=d["Value"])
                        for d in inner.get("Dimensions", [])
                    ],
                ),
                period=stat.get("Period"),
                stat=stat.get("Stat"),
                unit=stat.get("Unit"),
            )
        queries.append(
            MetricDataQuery(
                query_id=metric.get("Id"),
                label=metric.get("Label"),
                period=metric.get("Period"),
                return_data=metric.get("ReturnData"),
                expression=metric.get("Expression"),
                metric_stat=metric_stat,
            )
        )
    return queries


class CloudWatchAlarm(BridgedResource):
    TYPE = "AWS::CloudWatch::Alarm"
    NAME_PROPERTY = "AlarmName"
    ATTRIBUTES = ("Arn",)

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        from moto.cloudwatch.models import cloudwatch_backends

        backend = cloudwatch_backends[account_id][region_name]
        p = properties
        alarm = backend.put_metric_alarm(
            name=name,
            namespace=p.get("Namespace"),
            metric_name=p.get("MetricName"),
            comparison_operator=p["ComparisonOperator"],
            evaluation_periods=int(p["EvaluationPeriods"]),
            period=int(p["Period"]) if p.get("Period") is not None else None,
            threshold=float(p["Threshold"]) if p.get("Threshold") is not None else None,
            statistic=p.get("Statistic"),
            description=p.get("AlarmDescription"),
            dimensions=p.get("Dimensions") or [],
            alarm_actions=p.get("AlarmActions") or [],
            metric_data_queries=_metric_queries(p.get("Metrics")),
            datapoints_to_alarm=(
                int(p["DatapointsToAlarm"]) if p.get("DatapointsToAlarm") is not None else None
            ),
            extended_statistic=p.get("ExtendedStatistic"),
            ok_actions=p.get("OKActions") or [],
            insufficient_data_actions=p.get("InsufficientDataActions") or [],
            unit=p.get("Unit"),
            actions_enabled=_bool(p.get("ActionsEnabled", True)),
            treat_missing_data=p.get("TreatMissingData"),
            evaluate_low_sample_count_percentile=p.get("EvaluateLowSampleCountPercentile"),
            threshold_metric_id=p.get("ThresholdMetricId"),
        )
        return cls(name, {"Arn": alarm.alarm_arn}, lambda: backend.delete_alarms([name]), alarm)


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


class KmsKey(BridgedResource):
    TYPE = "AWS::KMS::Key"
    ATTRIBUTES = ("Arn", "KeyId")

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        from moto.kms.models import kms_backends

        backend = kms_backends[account_id][region_name]
        policy = properties.get("KeyPolicy")
        key = backend.create_key(
            policy=None if policy is None else _json_text(policy),
            key_usage=properties.get("KeyUsage", "ENCRYPT_DECRYPT"),
            key_spec=properties.get("KeySpec", "SYMMETRIC_DEFAULT"),
            description=properties.get("Description") or "",
            tags=properties.get("Tags") or [],
            multi_region=_bool(properties.get("MultiRegion", False)),
        )
        key.key_rotation_status = _bool(properties.get("EnableKeyRotation", False))
        key.enabled = _bool(properties.get("Enabled", True))
        if not key.enabled:
            key.key_state = "Disabled"
        delete_after = int(properties.get("PendingWindowInDays", 30))
        return cls(
            key.id,
            {"Arn": key.arn, "KeyId": key.id},
            lambda: backend.schedule_key_deletion(key.id, delete_after),
            key,
        )


# --- Step Functions --------------------------------------------------------------------------


def _definition(properties: dict[str, Any], account_id: str, region_name: str) -> str:
    if "DefinitionString" in properties:
        definition = str(properties["DefinitionString"])
    elif "Definition" in properties:
        definition = json.dumps(properties["Definition"])
    elif "DefinitionS3Location" in properties:
        from moto.s3.models import s3_backends
        from moto.utilities.utils import get_partition

        location = properties["DefinitionS3Location"]
        backend = s3_backends[account_id][get_partition(region_name)]
        key = backend.get_object(location["Bucket"], location["Key"], location.get("Version"))
        if key is None:
            raise _validation_error(f"DefinitionS3Location not found: {location}")
        definition = key.value.decode()
    else:
        raise _validation_error(
            "StateMachine needs DefinitionString, Definition or DefinitionS3Location"
        )
    for name, value in (properties.get("DefinitionSubstitutions") or {}).items():
        text = json.dumps(value) if isinstance(value, bool) else str(value)
        definition = definition.replace("${" + name + "}", text)
    return definition


class StepFunctionsStateMachine(BridgedResource):
    TYPE = "AWS::StepFunctions::StateMachine"
    NAME_PROPERTY = "StateMachineName"
    NAME_LIMIT = 80
    ATTRIBUTES = ("Arn", "Name")

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        from moto.stepfunctions.responses import get_backend
        from moto.stepfunctions.utils import cfn_to_api_tags

        # The backend the API answers from: the executing one under execute_state_machine.
        backend = get_backend(account_id, region_name)
        machine = backend.create_state_machine(
            name,
            _definition(properties, account_id, region_name),
            properties.get("RoleArn", ""),
            tags=cfn_to_api_tags(properties.get("Tags", [])),
            loggingConfiguration=_lower_keys(properties.get("LoggingConfiguration")),
            tracingConfiguration=_lower_keys(properties.get("TracingConfiguration")),
            encryptionConfiguration=_lower_keys(properties.get("EncryptionConfiguration")),
            sm_type=properties.get("StateMachineType") or "STANDARD",
        )
        arn = machine.arn
        return cls(
            arn,
            {"Arn": arn, "Name": machine.name},
            lambda: backend.delete_state_machine(arn),
            machine,
        )


def _lower_keys(value: Any) -> Any:
    """CloudFormation spells Step Functions' API members with a capital letter."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    return value


# --- Extensions of moto's own models ---------------------------------------------------------


class _Extends:
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


class DynamoDBTable(_Extends):
    TYPE = "AWS::DynamoDB::Table"

    @classmethod
    def after_create(
        cls, model: Any, properties: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        from moto.dynamodb.models import dynamodb_backends

        backend = dynamodb_backends[account_id][region_name]
        ttl = properties.get("TimeToLiveSpecification")
        if ttl:
            backend.update_time_to_live(
                model.name,
                {"AttributeName": ttl.get("AttributeName"), "Enabled": _bool(ttl.get("Enabled"))},
            )
        pitr = properties.get("PointInTimeRecoverySpecification")
        if pitr:
            enabled = _bool(pitr.get("PointInTimeRecoveryEnabled"))
            backend.update_continuous_backups(model.name, {"PointInTimeRecoveryEnabled": enabled})


class _FifoName(_Extends):
    FIFO_PROPERTY: ClassVar[str] = ""
    LIMIT: ClassVar[int] = 80

    @classmethod
    def before_create(cls, resource_name: str, properties: dict[str, Any]) -> str:
        if _bool(properties.get(cls.FIFO_PROPERTY)) and not str(resource_name).endswith(".fifo"):
            return _fit(str(resource_name), cls.LIMIT - 5) + ".fifo"
        return resource_name


class SqsQueue(_FifoName):
    TYPE = "AWS::SQS::Queue"
    FIFO_PROPERTY = "FifoQueue"


class SnsTopic(_FifoName):
    TYPE = "AWS::SNS::Topic"
    FIFO_PROPERTY = "FifoTopic"
    LIMIT = 256


@functools.cache
def _aws_managed_policies() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return dict(json.loads(aws_managed_policies_data))


def attachable_policy(backend: Any, arn: str) -> None:
    """Make an AWS managed policy known to moto's IAM on first use (moto loads none by default)."""
    from moto.iam.models import AWSManagedPolicy

    if arn in backend.managed_policies:
        return
    match = re.fullmatch(r"arn:aws[\w-]*:iam::aws:policy(/(?:[^/]+/)*)([^/]+)", arn)
    data = _aws_managed_policies().get(match.group(2)) if match else None
    if match and data and data.get("Path") == match.group(1):
        policy = AWSManagedPolicy.from_data(
            match.group(2), backend.account_id, backend.region_name, data
        )
        backend.managed_policies[policy.arn] = policy


class IamRole(_Extends):
    TYPE = "AWS::IAM::Role"

    @classmethod
    def after_create(
        cls, model: Any, properties: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        from moto.iam.models import iam_backends
        from moto.utilities.utils import get_partition

        backend = iam_backends[account_id][get_partition(region_name)]
        for arn in properties.get("ManagedPolicyArns") or []:
            attachable_policy(backend, arn)
            backend.attach_role_policy(arn, model.name)


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the shape of the S3 API (what moto's backend parses)."""
    api: dict[str, Any] = {"ID": rule.get("Id"), "Status": rule.get("Status", "Enabled")}
    api["Filter"] = {"Prefix": rule.get("Prefix") or ""}
    if rule.get("ExpirationInDays") is not None:
        api["Expiration"] = {"Days": str(rule["ExpirationInDays"])}
    elif rule.get("ExpirationDate") is not None:
        api["Expiration"] = {"Date": rule["ExpirationDate"]}
    elif rule.get("ExpiredObjectDeleteMarker") is not None:
        api["Expiration"] = {"ExpiredObjectDeleteMarker": str(rule["ExpiredObjectDeleteMarker"])}
    noncurrent = rule.get("NoncurrentVersionExpiration") or {}
    days = noncurrent.get("NoncurrentDays", rule.get("NoncurrentVersionExpirationInDays"))
    if days is not None:
        api["NoncurrentVersionExpiration"] = {"NoncurrentDays": str(days)}
    if rule.get("AbortIncompleteMultipartUpload"):
        days = rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
        api["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": str(days)}
    transitions = rule.get("Transitions") or ([rule["Transition"]] if "Transition" in rule else [])
    if transitions:
        api["Transition"] = [
            {"Days": t.get("TransitionInDays"), "Date": t.get("TransitionDate"),
             "StorageClass": t["StorageClass"]}
            for t in transitions
        ]  # fmt: skip
    nv_transitions = rule.get("NoncurrentVersionTransitions") or []
    if nv_transitions:
        api["NoncurrentVersionTransition"] = [
            {"NoncurrentDays": t["TransitionInDays"], "StorageClass": t["StorageClass"]}
            for t in nv_transitions
        ]
    return api


class S3Bucket(_Extends):
    TYPE = "AWS::S3::Bucket"

    @classmethod
    def after_create(
        cls, model: Any, properties: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        from moto.s3.models import s3_backends
        from moto.utilities.utils import get_partition

        backend = s3_backends[account_id][get_partition(region_name)]
        name = model.name
        versioning = properties.get("VersioningConfiguration")
        if versioning:
            backend.put_bucket_versioning(name, versioning["Status"])
        lifecycle = (properties.get("LifecycleConfiguration") or {}).get("Rules")
        if lifecycle:
            backend.put_bucket_lifecycle(name, [_lifecycle_rule(rule) for rule in lifecycle])
        block = properties.get("PublicAccessBlockConfiguration")
        if block:
            backend.put_public_access_block(
                name, {key: str(_bool(value)).lower() for key, value in block.items()}
            )
        cors = (properties.get("CorsConfiguration") or {}).get("CorsRules")
        if cors:
            backend.put_bucket_cors(name, [_cors_rule(rule) for rule in cors])
        ownership = properties.get("OwnershipControls")
        if ownership:
            backend.put_bucket_ownership_controls(name, ownership["Rules"][0]["ObjectOwnership"])


def _cors_rule(rule: dict[str, Any]) -> dict[str, Any]:
    api: dict[str, Any] = {
        "AllowedMethod": rule["AllowedMethods"],
        "AllowedOrigin": rule["AllowedOrigins"],
    }
    if rule.get("AllowedHeaders"):
        api["AllowedHeader"] = rule["AllowedHeaders"]
    if rule.get("ExposedHeaders"):
        api["ExposeHeader"] = rule["ExposedHeaders"]
    if rule.get("MaxAge") is not None:
        api["MaxAgeSeconds"] = str(rule["MaxAge"])
    if rule.get("Id"):
        api["ID"] = rule["Id"]
    return api


class LambdaFunction(_Extends):
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


class NoOpResource(BridgedResource):
    """AWS::CDK::Metadata: CloudFormation records it; nothing is created."""

    @classmethod
    def create(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> BridgedResource:
        return cls(name)


RESOURCE_BRIDGES: dict[str, Any] = {
    cls.TYPE: cls
    for cls in (
        EventsArchive,
        EventsConnection,
        EventsApiDestination,
        SnsSubscription,
        SnsTopicPolicy,
        SqsQueuePolicy,
        S3BucketPolicy,
        SecretsManagerSecret,
        LambdaUrl,
        CloudWatchAlarm,
        SesEmailIdentity,
        SesConfigurationSet,
        KmsKey,
        StepFunctionsStateMachine,
        DynamoDBTable,
        SqsQueue,
        SnsTopic,
        S3Bucket,
        IamRole,
        LambdaFunction,
    )
}


# ---------------------------------------------------------------------------------------------
# Which types can be created


def creatable(resource_type: str) -> bool:
    """True if a stack with this resource type can be created here (bridges installed)."""
    from moto.cloudformation.parsing import NULL_MODELS, get_model_map

    if resource_type in RESOURCE_BRIDGES or resource_type in NO_OP_TYPES:
        return True
    if resource_type.startswith("Custom::") or resource_type in NULL_MODELS:
        return False  # custom resources need their provider Lambda to call back: not modelled
    return resource_type in get_model_map()


def uncreatable_resources(template: dict[str, Any]) -> list[tuple[str, str]]:
    """(logical id, type) of every resource in `template` that cannot be created here."""
    resources = (template or {}).get("Resources") or {}
    return [
        (logical_id, str(resource.get("Type")))
        for logical_id, resource in resources.items()
        if not creatable(str(resource.get("Type")))
    ]


def _refuse_uncreatable(template: dict[str, Any]) -> None:
    missing = uncreatable_resources(template)
    if missing:
        listed = ", ".join(f"{logical_id} ({kind})" for logical_id, kind in missing)
        raise _validation_error(
            f"Template format error: the local AWS (moto {MOTO_VERSION} + payops bridges) cannot "
            f"create these resources: {listed}. Bridge the type in "
            "payops/localaws/cloudformation_bridge.py."
        )


def _resource_class_from_type(resource_type: str) -> Any:
    if resource_type in RESOURCE_BRIDGES:
        return RESOURCE_BRIDGES[resource_type]
    if resource_type in NO_OP_TYPES:
        return type("NoOp", (NoOpResource,), {"TYPE": resource_type})
    if not creatable(resource_type):
        raise _validation_error(
            f"Resource type {resource_type} cannot be created by the local AWS "
            f"(moto {MOTO_VERSION})"
        )
    return _original("parsing.resource_class_from_type")(resource_type)


# ---------------------------------------------------------------------------------------------
# Parsing: dynamic references, template Rules, SSM parameter types


def _resolve_dynamic(text: str, account_id: str, region_name: str) -> str:
    def replace(match: re.Match[str]) -> str:
        service, reference = match.group(1), match.group(2)
        try:
            return _dynamic_value(service, reference, account_id, region_name)
        except Exception as exc:
            raise _validation_error(
                f"Unable to resolve dynamic reference {match.group(0)!r}: {exc}"
            ) from exc

    return _DYNAMIC_REFERENCE.sub(replace, text)


def _dynamic_value(service: str, reference: str, account_id: str, region_name: str) -> str:
    if service in ("ssm", "ssm-secure"):
        from moto.ssm.models import ssm_backends

        name, _, version = reference.partition(":")
        parameter = ssm_backends[account_id][region_name].get_parameter(
            f"{name}:{version}" if version else name
        )
        if parameter is None:
            raise KeyError(f"SSM parameter {name} not found")
        return str(parameter.value)
    from moto.secretsmanager.models import secretsmanager_backends

    parts = reference.split(":")
    cut = 7 if reference.startswith("arn:") else 1  # an ARN holds colons itself
    secret_id = ":".join(parts[:cut])
    rest = parts[cut:] + [""] * 4
    field, json_key, stage, version = rest[0] or "SecretString", rest[1], rest[2], rest[3]
    if field != "SecretString":
        raise ValueError(f"only SecretString can be referenced, not {field}")
    value = secretsmanager_backends[account_id][region_name].get_secret_value(
        secret_id, version or None, stage or None
    )
    if json_key:
        return str(json.loads(value["SecretString"])[json_key])
    return str(value["SecretString"])


def _clean_json(resource_json: Any, resources_map: Any) -> Any:
    cleaned = _original("parsing.clean_json")(resource_json, resources_map)
    if isinstance(cleaned, str) and "{{resolve:" in cleaned:
        return _resolve_dynamic(cleaned, resources_map._account_id, resources_map._region_name)
    return cleaned


def _rule_value(node: Any, parameters: dict[str, Any]) -> Any:
    """Template Rules use a small set of functions; anything else fails loudly."""
    if isinstance(node, list):
        return [_rule_value(item, parameters) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) != 1:
        return {key: _rule_value(value, parameters) for key, value in node.items()}
    ((name, arg),) = node.items()
    if name == "Ref":
        if arg not in parameters:
            raise _validation_error(f"Template Rules: Ref to unknown parameter {arg}")
        return parameters[arg]
    values = _rule_value(arg, parameters)
    if name == "Fn::Equals":
        return str(values[0]) == str(values[1])
    if name == "Fn::Not":
        return not values[0]
    if name == "Fn::And":
        return all(values)
    if name == "Fn::Or":
        return any(values)
    if name == "Fn::Contains":
        return str(values[1]) in [str(v) for v in values[0]]
    if name == "Fn::EachMemberEquals":
        return all(str(v) == str(values[1]) for v in values[0])
    if name == "Fn::EachMemberIn":
        return all(str(v) in [str(w) for w in values[1]] for v in values[0])
    raise _validation_error(f"Template Rules: {name} is not evaluated by the local AWS")


def check_template_rules(template: dict[str, Any], parameters: dict[str, Any]) -> None:
    """Raise CloudFormation's ValidationError for the first failing Rules assertion."""
    for rule_name, rule in ((template or {}).get("Rules") or {}).items():
        condition = rule.get("RuleCondition")
        if condition is not None and not _rule_value(condition, parameters):
            continue
        for assertion in rule.get("Assertions") or []:
            if not _rule_value(assertion["Assert"], parameters):
                description = assertion.get("AssertDescription") or f"Rule {rule_name} failed"
                raise _validation_error(description)


def _load_conditions(self: Any) -> None:
    _original("ResourceMap.load_conditions")(self)
    check_template_rules(self._template, dict(self._parsed_resources))


def _load(self: Any) -> None:
    _refuse_uncreatable(self._template)
    _original("ResourceMap.load")(self)


def _update(self: Any, template: dict[str, Any], parameters: dict[str, Any] | None = None) -> None:
    _refuse_uncreatable(template)
    _original("ResourceMap.update")(self, template, parameters)


def _parse_ssm_parameter(self: Any, value: str, value_type: str) -> Any:
    from moto.ssm.exceptions import ParameterNotFound

    try:
        return _original("ResourceMap.parse_ssm_parameter")(self, value, value_type)
    except (ParameterNotFound, AttributeError):
        # AttributeError: moto dereferences the missing parameter (None.value)
        raise _validation_error(
            f"Unable to fetch parameters [{value}] from parameter store for this account."
        ) from None


# ---------------------------------------------------------------------------------------------
# Failures name the resource; the stack ends CREATE_FAILED


class ResourceCreationFailed(Exception):
    def __init__(self, logical_id: str, resource_type: str, cause: BaseException) -> None:
        reason = str(cause) or type(cause).__name__
        message = getattr(cause, "message", None)
        if isinstance(message, str) and message:
            reason = message
        super().__init__(f"{logical_id} ({resource_type}): {reason}")
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.reason = f"{type(cause).__name__}: {reason}"


def _parse_and_create_resource(
    logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str,
    region_name: str,
) -> Any:  # fmt: skip
    try:
        return _original("parsing.parse_and_create_resource")(
            logical_id, resource_json, resources_map, account_id, region_name
        )
    except ResourceCreationFailed:
        raise
    except Exception as exc:
        raise ResourceCreationFailed(logical_id, str(resource_json.get("Type")), exc) from exc


def _resource_failed(stack: Any, failure: ResourceCreationFailed, status: str) -> None:
    from moto.cloudformation.models import Event

    stack.events.append(
        Event(
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_resource_id=failure.logical_id,
            physical_resource_id="",
            resource_type=failure.resource_type,
            resource_status=status,
            resource_status_reason=failure.reason,
            resource_properties=None,
        )
    )


def _create_resources(self: Any) -> None:
    try:
        _original("Stack.create_resources")(self)
    except ResourceCreationFailed as failure:
        self.status = "CREATE_FAILED"
        _resource_failed(self, failure, "CREATE_FAILED")
        self._add_stack_event(
            "CREATE_FAILED",
            resource_status_reason=f"The following resource(s) failed to create: "
            f"[{failure.logical_id}]. {failure.reason}",
        )


def _apply_change_set(self: Any) -> None:
    try:
        _original("ChangeSet.apply")(self)
    except ResourceCreationFailed as failure:
        _resource_failed(self.stack, failure, f"{self.change_set_type}_FAILED")
        raise _validation_error(f"Resource {failure}") from failure
    # moto built the stack's outputs from the empty template of the change set's first step.
    stack = self.stack
    stack.template = self.template
    stack._parse_template()
    stack.description = stack.template_dict.get("Description")
    stack.output_map = stack._create_output_map()


# ---------------------------------------------------------------------------------------------
# Install


def _event_bus_physical_id(self: Any) -> str:
    return self.name


def _create_event_bus(cls: Any, resource_name: str, cloudformation_json: Any, *args: Any,
                      **kwargs: Any) -> Any:  # fmt: skip
    """moto's EventBus, with its Policy property applied (moto drops it)."""
    original = _original("EventBus.create_from_cloudformation_json").__func__
    bus = original(cls, resource_name, cloudformation_json, *args, **kwargs)
    policy = (cloudformation_json.get("Properties") or {}).get("Policy")
    if policy:
        bus.add_policy(json.loads(policy) if isinstance(policy, str) else policy)
    return bus


# What a request to the local endpoint stands for: AWS's HTTPS endpoint.
REQUEST_CONTEXT = {"aws:securetransport": "true", "s3:tlsversion": "1.3"}
_NUMERIC = {
    "NumericEquals": lambda a, b: a == b,
    "NumericNotEquals": lambda a, b: a != b,
    "NumericLessThan": lambda a, b: a < b,
    "NumericLessThanEquals": lambda a, b: a <= b,
    "NumericGreaterThan": lambda a, b: a > b,
    "NumericGreaterThanEquals": lambda a, b: a >= b,
}


def condition_holds(conditions: dict[str, Any], context: dict[str, str] | None = None) -> bool:
    """An IAM Condition block against the request context; unknown operators do not hold."""
    context = REQUEST_CONTEXT if context is None else context
    for operator, entries in conditions.items():
        base = operator.removesuffix("IfExists")
        for key, expected in entries.items():
            wanted = [str(v) for v in (expected if isinstance(expected, list) else [expected])]
            actual = context.get(key.lower())
            if base == "Null":
                holds = (actual is None) == (wanted[0].lower() == "true")
            elif actual is None:
                holds = operator.endswith("IfExists")
            elif base == "Bool":
                holds = actual.lower() in [w.lower() for w in wanted]
            elif base == "StringEquals":
                holds = actual in wanted
            elif base == "StringNotEquals":
                holds = actual not in wanted
            elif base in ("StringLike", "StringNotLike"):
                matched = any(fnmatch.fnmatchcase(actual, w) for w in wanted)
                holds = matched if base == "StringLike" else not matched
            elif base in _NUMERIC:
                holds = any(_NUMERIC[base](float(actual), float(w)) for w in wanted)
            else:
                holds = False
            if not holds:
                return False
    return True


def _bucket_permission(self: Any, action: str, resource: str) -> Any:
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    if self.policy is None:
        return PermissionResult.NEUTRAL
    text = self.policy.decode() if isinstance(self.policy, bytes) else self.policy
    statements = json.loads(text)["Statement"]
    permitted = False
    for statement in statements if isinstance(statements, list) else [statements]:
        # A statement whose Condition does not hold does not apply (moto: applies regardless).
        if statement.get("Condition") and not condition_holds(statement["Condition"]):
            continue
        bare = {key: value for key, value in statement.items() if key != "Condition"}
        result = IAMPolicyStatement(bare).is_action_permitted(action, resource)
        if result == PermissionResult.DENIED:
            return result
        permitted = permitted or result == PermissionResult.PERMITTED
    return PermissionResult.PERMITTED if permitted else PermissionResult.NEUTRAL


def _log_group_attribute(self: Any, attribute_name: str) -> Any:
    value = _original("LogGroup.get_cfn_attribute")(self, attribute_name)
    # CloudFormation's LogGroup Arn ends in ":*" (IAM grants on it cover the streams).
    if attribute_name == "Arn" and not str(value).endswith(":*"):
        return f"{value}:*"
    return value


def _stack_outputs(self: Any) -> list[dict[str, Any]] | None:
    # A failed stack has no outputs (moto would evaluate them, creating what they reference).
    if self.status == "CREATE_FAILED":
        return None
    return _original("Stack.outputs").fget(self)


def _stack_resources(self: Any) -> list[Any]:
    # What was created, in template order; listing must never create (or retry) a resource.
    resource_map = self.resource_map
    parsed = resource_map._parsed_resources
    return [parsed[key] for key in resource_map._resource_json_map if parsed.get(key) is not None]


def _patches() -> list[tuple[str, Any, str, Any]]:
    from moto.cloudformation import parsing
    from moto.cloudformation.models import ChangeSet, Stack
    from moto.events.models import EventBus
    from moto.logs.models import LogGroup
    from moto.s3.models import FakeBucket

    return [
        ("parsing.resource_class_from_type", parsing, "resource_class_from_type",
         _resource_class_from_type),
        ("parsing.parse_and_create_resource", parsing, "parse_and_create_resource",
         _parse_and_create_resource),
        ("parsing.clean_json", parsing, "clean_json", _clean_json),
        ("ResourceMap.load", parsing.ResourceMap, "load", _load),
        ("ResourceMap.update", parsing.ResourceMap, "update", _update),
        ("ResourceMap.load_conditions", parsing.ResourceMap, "load_conditions", _load_conditions),
        ("ResourceMap.parse_ssm_parameter", parsing.ResourceMap, "parse_ssm_parameter",
         _parse_ssm_parameter),
        ("Stack.create_resources", Stack, "create_resources", _create_resources),
        ("Stack.stack_resources", Stack, "stack_resources", property(_stack_resources)),
        ("Stack.outputs", Stack, "outputs", property(_stack_outputs)),
        ("ChangeSet.apply", ChangeSet, "apply", _apply_change_set),
        ("LogGroup.get_cfn_attribute", LogGroup, "get_cfn_attribute", _log_group_attribute),
        ("FakeBucket.get_permission", FakeBucket, "get_permission", _bucket_permission),
        ("EventBus.physical_resource_id", EventBus, "physical_resource_id",
         property(_event_bus_physical_id)),
        ("EventBus.create_from_cloudformation_json", EventBus,
         "create_from_cloudformation_json", classmethod(_create_event_bus)),
    ]  # fmt: skip


def install() -> None:
    """Patch moto in place (idempotent). Works for mock_aws and ThreadedMotoServer alike."""
    require_pinned_moto("cloudformation_bridge")
    with _lock:
        if _originals:
            return
        for key, owner, attribute, replacement in _patches():
            existed = attribute in vars(owner)
            _originals[key] = (owner, attribute, vars(owner).get(attribute), existed)
            setattr(owner, attribute, replacement)


def uninstall() -> None:
    """Put moto's own code back (for tests that show a gap)."""
    with _lock:
        for owner, attribute, original, existed in _originals.values():
            if existed:
                setattr(owner, attribute, original)
            else:
                delattr(owner, attribute)
        _originals.clear()


def is_installed() -> bool:
    return bool(_originals)


__all__ = [
    "BRIDGES",
    "MOTO_VERSION",
    "NO_OP_TYPES",
    "RESOURCE_BRIDGES",
    "BridgedResource",
    "ResourceCreationFailed",
    "check_template_rules",
    "creatable",
    "generate_secret_string",
    "install",
    "is_installed",
    "uncreatable_resources",
    "uninstall",
]
