"""Deploy checks for ECR: each repository must exist (its properties are not compared)."""

from __future__ import annotations

from payops.localaws.core.checking import Check, CheckFn


def check_repository(c: Check) -> None:
    c.client("ecr").describe_repositories(repositoryNames=[c.physical_id])


CHECKS: dict[str, CheckFn] = {
    "AWS::ECR::Repository": check_repository,
}
