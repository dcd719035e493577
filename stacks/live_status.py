"""Live status (issue 15): an AppSync GraphQL API whose mutations EventBridge calls directly.

Rule -> AppSync target (`AppSyncParameters.GraphQLOperation` + an InputTransformer that builds
the operation's variables) -> a `publish*` mutation on a NONE data source -> AppSync pushes the
result to the app's subscription. No Lambda and no table: the update is the event itself.

- The schema is `graphql/schema.graphql`; resolver templates are `graphql/resolvers/*.vtl`
  (VTL, a small subset the local AWS executes: see payops/localaws/services/appsync/vtl.py).
- Apps sign in with the Cognito user pool (`cognitoUserPoolId`, the API's default auth mode);
  EventBridge signs with IAM, through a role that may call the two publish mutations only.
- A user receives only their own updates: subscriptions take the Cognito username as
  `appUserId`, the subscription resolver refuses another user's, and AppSync delivers a
  mutation result only to subscriptions whose arguments equal its fields.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_appsync as appsync
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.nag import acknowledge
from stacks.rule_catalogue import RuleCatalogue
from stacks.targets import RuleTargets, rule_role

GRAPHQL_DIR = Path(__file__).resolve().parent.parent / "graphql"
SCHEMA_FILE = GRAPHQL_DIR / "schema.graphql"

ACCESS_FIELDS = ("appUserId", "customer", "subscription", "plan", "access", "until",
                 "features", "stripeEventId")  # fmt: skip
ORDER_FIELDS = ("checkoutSessionId", "appUserId", "status", "stripeEventId", "at")
# Mutation field -> (input type, the fields it returns: every field a subscriber may select,
# since AppSync gives subscribers only what the mutation selected).
MUTATIONS = {
    "publishAccessChange": ("AccessChangeInput", ACCESS_FIELDS),
    "publishOrderStatus": ("OrderStatusInput", ORDER_FIELDS),
}
SUBSCRIPTIONS = ("onAccessChanged", "onOrderStatus")
# rules/<name>.json -> the order status it means (the Stripe event's checkout session).
ORDER_STATUS_RULES = {
    "paid-order": "PAID",
    "awaiting-payment": "AWAITING_PAYMENT",
    "checkout-payment-failed": "FAILED",
}
ORDER_FULFILLED_RULE = "order-fulfilled"  # the fulfilment workflow's own event
# The access projection's own event (rules/live-access-changed.json).
ACCESS_RULE = "live-access-changed"
RULES = (*ORDER_STATUS_RULES, ORDER_FULFILLED_RULE, ACCESS_RULE)


def operation(field: str) -> str:
    """The GraphQL operation an AppSync rule target runs for `field` (variables: {input})."""
    input_type, selected = MUTATIONS[field]
    return (
        f"mutation Publish($input: {input_type}!) "
        f"{{ {field}(input: $input) {{ {' '.join(selected)} }} }}"
    )


def _variables(
    values: dict[str, str], paths: dict[str, str]
) -> events.CfnRule.InputTransformerProperty:
    """{"input": {...}}: `values` are JSON texts or <placeholders> of `paths`."""
    body = ", ".join(f'"{name}": {value}' for name, value in values.items())
    return events.CfnRule.InputTransformerProperty(
        input_paths_map=paths, input_template=f'{{"input": {{{body}}}}}'
    )


def order_status_input(
    status: str, session: str = "$.detail.data.object", event_id: str | None = "$.detail.id"
) -> events.CfnRule.InputTransformerProperty:
    """The session's status update: its id, its client_reference_id (the app user, null for a
    guest checkout), the Stripe event's id (None: not a Stripe event) and the event's time."""
    paths = {
        "session": f"{session}.id",
        "appUserId": f"{session}.client_reference_id",
        "time": "$.time",
    }
    if event_id:
        paths["eventId"] = event_id
    return _variables(
        {
            "checkoutSessionId": "<session>",
            "appUserId": "<appUserId>",
            "status": f'"{status}"',
            "stripeEventId": "<eventId>" if event_id else "null",
            "at": "<time>",
        },
        paths,
    )


def access_change_input() -> events.CfnRule.InputTransformerProperty:
    """The access projection's "Access changed" detail, field for field."""
    return _variables(
        {name: f"<{name}>" for name in ACCESS_FIELDS},
        {name: f"$.detail.{name}" for name in ACCESS_FIELDS},
    )


class LiveStatus(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        catalogue: RuleCatalogue,
        targets: RuleTargets,
        user_pool_id: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.log_role = iam.Role(
            self,
            "LogsRole",
            assumed_by=iam.ServicePrincipal(
                "appsync.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
            description="Lets the live-status API write its error logs",
        )
        self.api = appsync.CfnGraphQLApi(
            self,
            "Api",
            name=f"{stack.stack_name}-live-status",
            authentication_type="AMAZON_COGNITO_USER_POOLS",
            user_pool_config=appsync.CfnGraphQLApi.UserPoolConfigProperty(
                user_pool_id=user_pool_id, aws_region=stack.region, default_action="ALLOW"
            ),
            additional_authentication_providers=[
                appsync.CfnGraphQLApi.AdditionalAuthenticationProviderProperty(
                    authentication_type="AWS_IAM"
                )
            ],
            # ERROR: failed requests are logged without the payloads of successful ones.
            log_config=appsync.CfnGraphQLApi.LogConfigProperty(
                cloud_watch_logs_role_arn=self.log_role.role_arn,
                field_log_level="ERROR",
                exclude_verbose_content=True,
            ),
            xray_enabled=True,
        )
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/appsync/apis/{self.api.attr_api_id}",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.log_role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[f"{self.log_group.log_group_arn}:*"],
            )
        )
        schema = appsync.CfnGraphQLSchema(
            self, "Schema", api_id=self.api.attr_api_id, definition=SCHEMA_FILE.read_text()
        )
        none = appsync.CfnDataSource(
            self, "NoneSource", api_id=self.api.attr_api_id, name="Passthrough", type="NONE"
        )
        for type_name, fields, template in (
            ("Mutation", tuple(MUTATIONS), "publish"),
            ("Subscription", SUBSCRIPTIONS, "own-updates"),
        ):
            for field in fields:
                resolver = appsync.CfnResolver(
                    self,
                    f"{type_name}{field[0].upper()}{field[1:]}",
                    api_id=self.api.attr_api_id,
                    type_name=type_name,
                    field_name=field,
                    kind="UNIT",
                    data_source_name=none.name,
                    request_mapping_template=_template(f"{template}.request"),
                    response_mapping_template=_template(f"{template}.response"),
                )
                resolver.add_resource_dependency(schema)
                resolver.add_resource_dependency(none)

        self.invoke_role = rule_role(
            self,
            "PublishRole",
            "Lets the Stripe event rules call the live-status publish mutations",
        )
        self.invoke_role.add_to_policy(
            iam.PolicyStatement(
                actions=["appsync:GraphQL"],
                resources=[
                    f"{self.api.attr_arn}/types/Mutation/fields/{field}" for field in MUTATIONS
                ],
            )
        )
        endpoint = self.api.attr_graph_ql_endpoint_arn
        for rule, status in ORDER_STATUS_RULES.items():
            catalogue.add_target(
                rule,
                targets.appsync_mutation(
                    endpoint, self.invoke_role, operation("publishOrderStatus"),
                    order_status_input(status),
                ),
            )  # fmt: skip
        catalogue.add_target(
            ORDER_FULFILLED_RULE,
            targets.appsync_mutation(
                endpoint, self.invoke_role, operation("publishOrderStatus"),
                order_status_input("FULFILLED", session="$.detail", event_id=None),
            ),
        )  # fmt: skip
        catalogue.add_target(
            ACCESS_RULE,
            targets.appsync_mutation(
                endpoint, self.invoke_role, operation("publishAccessChange"),
                access_change_input(),
            ),
        )  # fmt: skip
        # Stack-level ids: the output names stay readable (what an app's config reads).
        CfnOutput(stack, "LiveStatusGraphQLUrl", value=self.api.attr_graph_ql_url)
        CfnOutput(stack, "LiveStatusRealtimeUrl", value=self.api.attr_realtime_url)
        acknowledge(
            self.log_role,
            "IAM5[Resource::<LiveStatusLogsFD04EF1C.Arn>:*]",
            "The API's own log group, every stream in it (AppSync names them).",
        )
        acknowledge(
            self.api,
            "ASC3",
            "Errors are logged (field level ERROR) but verbose content is excluded on purpose: "
            "requests carry customers' ids and order details, which stay out of the logs.",
        )


def _template(name: str) -> str:
    return (GRAPHQL_DIR / "resolvers" / f"{name}.vtl").read_text(encoding="utf-8")
