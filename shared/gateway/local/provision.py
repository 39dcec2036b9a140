"""Create the template's AWS resources in the local AWS emulation (moto server).

Resources are read from template.yaml's own definitions (a parameter takes its
default), so the local stack and the deployed stack cannot drift: a resource type
this module does not know is skipped with a note, never invented.
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


def resolve_parameters(value: Any, parameters: dict[str, Any]) -> Any:
    """`value` with each `!Ref <parameter>` replaced by the parameter's value, at any
    depth; a Ref to a resource stays as it is."""
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in parameters:
            return parameters[value["Ref"]]
        return {key: resolve_parameters(item, parameters) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_parameters(item, parameters) for item in value]
    return value


def properties(logical_id: str, template: dict[str, Any] | None = None) -> dict[str, Any]:
    """A resource's properties as deployed with the parameters' defaults."""
    template = template or load_template()
    defaults = {
        name: spec["Default"]
        for name, spec in (template.get("Parameters") or {}).items()
        if "Default" in spec
    }
    props = template["Resources"][logical_id].get("Properties") or {}
    resolved: dict[str, Any] = resolve_parameters(props, defaults)
    return resolved


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


# CloudFormation's lifecycle rule fields -> S3 API's (PutBucketLifecycleConfiguration).
_RULE_FIELDS = {"Id", "Status", "Prefix", "ExpirationInDays", "AbortIncompleteMultipartUpload"}


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    unknown = set(rule) - _RULE_FIELDS
    if unknown:  # never dropped silently: the local bucket would not be the deployed one
        raise ValueError(f"lifecycle rule fields not translated yet: {sorted(unknown)}")
    out: dict[str, Any] = {"Status": rule["Status"], "Filter": {}}
    if "Id" in rule:
        out["ID"] = rule["Id"]
    if "Prefix" in rule:
        out["Filter"] = {"Prefix": rule["Prefix"]}
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "AbortIncompleteMultipartUpload" in rule:
        out["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
    return out


def create_bucket(client: Any, name: str, props: dict[str, Any]) -> str:
    """An S3 bucket as the template defines it (encryption, public access block, object
    ownership, lifecycle). The emulation stores the lifecycle but never runs it. The
    bucket policy (TLS only) is not applied: the emulation speaks plain HTTP."""
    region = client.meta.region_name
    placement: dict[str, Any] = {}
    if region != "us-east-1":  # the one region S3 refuses a location constraint for
        placement["CreateBucketConfiguration"] = {"LocationConstraint": region}
    client.create_bucket(Bucket=name, **placement)
    encryption = props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration")
    if encryption:
        rules = [  # CloudFormation's ServerSideEncryptionByDefault is the API's Apply...
            {"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"]}
            for r in encryption
        ]
        client.put_bucket_encryption(
            Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules}
        )
    if "PublicAccessBlockConfiguration" in props:
        client.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
        )
    if "OwnershipControls" in props:
        client.put_bucket_ownership_controls(
            Bucket=name, OwnershipControls=props["OwnershipControls"]
        )
    lifecycle = props.get("LifecycleConfiguration")
    if lifecycle:
        client.put_bucket_lifecycle_configuration(
            Bucket=name,
            LifecycleConfiguration={"Rules": [_lifecycle_rule(r) for r in lifecycle["Rules"]]},
        )
    return name


# CloudFormation's AWS::SQS::Queue properties that are queue attributes of the same name.
_QUEUE_ATTRIBUTES = {
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
}


def _queue_attribute(value: Any, arns: dict[str, str]) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):  # RedrivePolicy: JSON, its target's !GetAtt X.Arn resolved
        resolved = {}
        for key, item in value.items():
            if isinstance(item, dict) and "Fn::GetAtt" in item:
                target, attribute = item["Fn::GetAtt"]
                if attribute != "Arn" or target not in arns:
                    raise ValueError(f"cannot resolve {item} (create {target} first)")
                item = arns[target]
            resolved[key] = item
        return json.dumps(resolved)
    return str(value)


def create_queues(
    client: Any, queues: dict[str, dict[str, Any]], suffix: str = ""
) -> dict[str, str]:
    """SQS queues as the template defines them (dead-letter targets first); logical id ->
    queue URL. Queue names are the logical ids (plus `suffix`, for tests sharing a server)."""
    unknown = {k for props in queues.values() for k in props} - _QUEUE_ATTRIBUTES
    if unknown:  # never dropped silently: the local queue would not be the deployed one
        raise ValueError(f"queue properties not translated yet: {sorted(unknown)}")
    arns: dict[str, str] = {}
    urls: dict[str, str] = {}
    pending = dict(queues)
    while pending:
        ready = [q for q, props in pending.items() if _targets(props) <= set(arns)]
        if not ready:
            raise ValueError(f"queues with unresolvable dead-letter targets: {sorted(pending)}")
        for logical_id in ready:
            props = pending.pop(logical_id)
            attributes = {k: _queue_attribute(v, arns) for k, v in props.items()}
            url: str = client.create_queue(QueueName=logical_id + suffix, Attributes=attributes)[
                "QueueUrl"
            ]
            arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
            arns[logical_id], urls[logical_id] = arn["Attributes"]["QueueArn"], url
    return urls


def _targets(props: dict[str, Any]) -> set[str]:
    target = (props.get("RedrivePolicy") or {}).get("deadLetterTargetArn")
    return {target["Fn::GetAtt"][0]} if isinstance(target, dict) else set()


def provision(session: Any, template: dict[str, Any] | None = None) -> dict[str, str]:
    """Create every supported resource; return logical id -> ARN, name or (queues) URL."""
    template = template or load_template()
    created: dict[str, str] = {}
    queues: dict[str, dict[str, Any]] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        kind = resource.get("Type")
        props = properties(logical_id, template)
        if kind == "AWS::SQS::Queue":
            queues[logical_id] = props
        elif kind == "AWS::SecretsManager::Secret":
            created[logical_id] = _secret(session.client("secretsmanager"), logical_id, props)
        elif kind == "AWS::DynamoDB::Table":
            created[logical_id] = create_table(session.client("dynamodb"), logical_id, props)
        elif kind == "AWS::S3::Bucket":  # bucket names are lower case
            created[logical_id] = create_bucket(session.client("s3"), logical_id.lower(), props)
    if queues:
        created.update(create_queues(session.client("sqs"), queues))
    return created


def secret_value(session: Any, arn: str) -> str:
    value: str = session.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    return value


def put_json_secret(session: Any, arn: str, values: dict[str, str]) -> None:
    session.client("secretsmanager").put_secret_value(SecretId=arn, SecretString=json.dumps(values))
