"""Create the template's AWS resources in the local AWS emulation (moto server).

Resources are read from template.yaml's own definitions, so the local stack and
the deployed stack cannot drift: a resource type this module does not know is
skipped with a note, never invented.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    from cfnlint.decode import cfn_yaml

    loaded: dict[str, Any] = cfn_yaml.load(str(path))
    return loaded


def _secret(client: Any, logical_id: str, props: dict[str, Any]) -> str:
    if "SecretString" in props and isinstance(props["SecretString"], str):
        value = props["SecretString"]
    else:
        generate = props.get("GenerateSecretString", {})
        value = "sk-local-" + secrets.token_urlsafe(int(generate.get("PasswordLength", 32)))
    name = props.get("Name") if isinstance(props.get("Name"), str) else logical_id
    arn: str = client.create_secret(Name=name, SecretString=value)["ARN"]
    return arn


TABLE_PROPERTIES = (
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "BillingMode",
)  # SSESpecification is CloudFormation's spelling, not the API's; moto ignores it anyway


def create_table(client: Any, name: str, props: dict[str, Any]) -> str:
    """A DynamoDB table as the template defines it (keys, indexes, billing, TTL)."""
    args = {k: props[k] for k in TABLE_PROPERTIES if k in props}
    client.create_table(TableName=name, **args)
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        client.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    return name


def provision(session: Any, template: dict[str, Any] | None = None) -> dict[str, str]:
    """Create every supported resource; return logical id -> ARN or name."""
    template = template or load_template()
    created: dict[str, str] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        kind = resource.get("Type")
        props = resource.get("Properties", {}) or {}
        if kind == "AWS::SecretsManager::Secret":
            created[logical_id] = _secret(session.client("secretsmanager"), logical_id, props)
        elif kind == "AWS::DynamoDB::Table":
            created[logical_id] = create_table(session.client("dynamodb"), logical_id, props)
    return created


def secret_value(session: Any, arn: str) -> str:
    value: str = session.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    return value


def put_json_secret(session: Any, arn: str, values: dict[str, str]) -> None:
    session.client("secretsmanager").put_secret_value(SecretId=arn, SecretString=json.dumps(values))
