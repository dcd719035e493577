"""Deploy checks for IAM: roles (trust policy, path, session duration, managed and inline policies),
inline policies on their roles, users and groups, and managed policies' default version, read back
and compared with the template; GetAtt getters for a role's Arn and RoleId.
"""

from __future__ import annotations

from payops.localaws.core.checking import Check, CheckFn, Getter


def check_role(c: Check) -> None:
    iam = c.client("iam")
    role = iam.get_role(RoleName=c.physical_id)["Role"]
    c.same_if_set("RoleName", role["RoleName"])
    c.same(
        "AssumeRolePolicyDocument",
        c.props.get("AssumeRolePolicyDocument"),
        role.get("AssumeRolePolicyDocument"),
    )
    c.same_if_set("Path", role.get("Path"))
    c.same_if_set("MaxSessionDuration", role.get("MaxSessionDuration"))
    attached = iam.list_attached_role_policies(RoleName=c.physical_id)["AttachedPolicies"]
    arns = {p["PolicyArn"] for p in attached}
    for arn in c.props.get("ManagedPolicyArns", []):
        if arn not in arns:
            c.problem(f"managed policy {arn}: not attached")
    for policy in c.props.get("Policies", []):
        document = iam.get_role_policy(RoleName=c.physical_id, PolicyName=policy["PolicyName"])
        c.same(
            f"policy {policy['PolicyName']}", policy["PolicyDocument"], document["PolicyDocument"]
        )


def check_policy(c: Check) -> None:
    iam = c.client("iam")
    name, document = c.props["PolicyName"], c.props["PolicyDocument"]
    for role in c.props.get("Roles", []):
        found = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        c.same(f"PolicyDocument on role {role}", document, found)
    for user in c.props.get("Users", []):
        found = iam.get_user_policy(UserName=user, PolicyName=name)["PolicyDocument"]
        c.same(f"PolicyDocument on user {user}", document, found)
    for group in c.props.get("Groups", []):
        found = iam.get_group_policy(GroupName=group, PolicyName=name)["PolicyDocument"]
        c.same(f"PolicyDocument on group {group}", document, found)


def check_managed_policy(c: Check) -> None:
    iam = c.client("iam")
    policy = iam.get_policy(PolicyArn=c.physical_id)["Policy"]
    version = iam.get_policy_version(PolicyArn=c.physical_id, VersionId=policy["DefaultVersionId"])
    c.same("PolicyDocument", c.props.get("PolicyDocument"), version["PolicyVersion"]["Document"])


ATTRIBUTES: dict[tuple[str, str], Getter] = {
    ("AWS::IAM::Role", "Arn"): lambda r, name, _: r.clients("iam").get_role(RoleName=name)["Role"][
        "Arn"
    ],
    ("AWS::IAM::Role", "RoleId"): lambda r, name, _: r.clients("iam").get_role(RoleName=name)[
        "Role"
    ]["RoleId"],
}


CHECKS: dict[str, CheckFn] = {
    "AWS::IAM::Role": check_role,
    "AWS::IAM::Policy": check_policy,
    "AWS::IAM::ManagedPolicy": check_managed_policy,
}
