"""The Stripe API as Step Functions HTTP Tasks reach it: one EventBridge connection per stack.

The key: create the Secrets Manager secret named by the `stripeApiKeySecretName` setting
(default `payops/stripe-api-key`) BEFORE `cdk deploy`, holding the bare Stripe secret key exactly as
the dashboard shows it (`sk_live_...`, or better a restricted key `rk_live_...` allowed to write
coupons, promotion codes, refunds and subscriptions and to read invoices and subscriptions). The
template only holds a `{{resolve:secretsmanager:...}}` dynamic reference behind the literal
"Bearer " prefix; CloudFormation resolves it at deploy time and EventBridge keeps the resulting
`Authorization` header in its own managed secret (`events!connection/<name>/...`). After rotating
the key in Stripe, update the secret and redeploy (or `aws events update-connection`): the
connection holds a copy.

Stripe-Version: every request pins STRIPE_API_VERSION, so the request and response shapes the
workflows rely on do not change when the account's default version is upgraded. 2024-06-20 is the
version of the bundled Stripe events; it still has `invoice.payment_intent` (removed in
2025-03-31.basil) and the top-level `coupon` of promotion codes (moved to `promotion[coupon]` in
2025-09-30.clover).
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import ArnFormat, SecretValue, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.nag import acknowledge

STRIPE_API_ROOT = "https://api.stripe.com"
STRIPE_API_VERSION = "2024-06-20"
_CONSTRUCT_ID = "StripeApi"


class StripeApi(Construct):
    """The EventBridge connection (API_KEY auth, header `Authorization: Bearer <key>`)."""

    def __init__(self, scope: Construct, construct_id: str, *, api_key_secret_name: str) -> None:
        super().__init__(scope, construct_id)
        key = SecretValue.secrets_manager(api_key_secret_name)
        self.connection = events.Connection(
            self,
            "Connection",
            description="Stripe API for the payment workflows (key from Secrets Manager "
            f"'{api_key_secret_name}')",
            authorization=events.Authorization.api_key(
                "Authorization", SecretValue(f"Bearer {key.unsafe_unwrap()}")
            ),
        )
        self.connection_arn = self.connection.connection_arn
        # EventBridge names the managed secret events!connection/<connection name>/<uuid>.
        self.connection_secret_arn = Stack.of(self).format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=f"events!connection/{self.connection.connection_name}/*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    @classmethod
    def of(cls, scope: Construct, *, api_key_secret_name: str) -> StripeApi:
        """The stack's one connection (created on first use), shared by every workflow."""
        stack = Stack.of(scope)
        found = stack.node.try_find_child(_CONSTRUCT_ID)
        if isinstance(found, StripeApi):
            return found
        return cls(stack, _CONSTRUCT_ID, api_key_secret_name=api_key_secret_name)

    def grant_invoke(
        self, scope: Construct, machine: sfn.StateMachine, *, methods: Iterable[str]
    ) -> iam.Policy:
        """What the HTTP Task needs, as AWS documents it, and no more: call api.stripe.com with
        these methods from this state machine, read this connection's credentials and its
        managed secret.

        A separate Policy rather than the role's default policy: the state machine depends on its
        default policy, so that policy cannot name the state machine's own ARN.
        """
        policy = iam.Policy(
            scope,
            "StripeApiPolicy",
            statements=[
                iam.PolicyStatement(
                    actions=["states:InvokeHTTPEndpoint"],
                    resources=[machine.state_machine_arn],
                    conditions={
                        "StringEquals": {"states:HTTPMethod": sorted(set(methods))},
                        "StringLike": {"states:HTTPEndpoint": f"{STRIPE_API_ROOT}/*"},
                    },
                ),
                iam.PolicyStatement(
                    actions=["events:RetrieveConnectionCredentials"],
                    resources=[self.connection_arn],
                ),
                iam.PolicyStatement(
                    actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                    resources=[self.connection_secret_arn],
                ),
            ],
        )
        policy.attach_to_role(machine.role)
        stack = Stack.of(self)
        cfn_connection = self.connection.node.find_child("Connection")  # the L2 names it so
        connection_id = stack.resolve(stack.get_logical_id(cfn_connection))  # type: ignore[arg-type]
        acknowledge(
            policy,
            f"IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:"
            f"secret:events!connection/<{connection_id}>/*]",
            "The connection's managed secret gets a random suffix from EventBridge; the ARN is "
            "pinned to this connection's name (events!connection/<name>/*) as AWS documents.",
        )
        return policy
