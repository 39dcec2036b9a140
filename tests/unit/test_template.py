"""template.yaml as CloudFormation sees it: the SAM transform run offline, plus cfn-lint.

Neither `sam validate` nor cfn-lint notices a misspelt ResponseTransferMode (SAM silently
ignores "STREAM"), so these tests read the generated API Gateway integrations themselves.
They also read the IAM policies: what each function may do to the table is the security
boundary between the request path and the admin API. And they hold the alarms and the
dashboard to the metrics that exist: the request metrics' contract (namespace LLMGateway)
and the documented Lambda, SQS and DynamoDB ones, since CloudWatch accepts a misspelt
metric silently and graphs or alarms on nothing.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from gateway.cache.keys import CacheKey
from gateway.cache.settings import MAX_TTL_S
from gateway.config import STORED_RESPONSE_DAYS
from gateway.responses import store as response_store
from gateway.router.cooldowns import cooldown_pk
from gateway.router.usage import usage_pk
from gateway.store import table
from gateway.telemetry import metrics

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

STREAMING_URI = re.compile(
    r"^arn:aws:apigateway:\$\{AWS::Region\}:lambda:path/2021-11-15/functions/"
    r"\$\{ApiFunctionAliaslive\}/response-streaming-invocations$"
)
BUFFERED_ADMIN_URI = (
    "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
    "${AdminFunction.Arn}/invocations"
)
ROUTES = {
    ("/v1/chat/completions", "post"),
    ("/chat/completions", "post"),
    ("/v1/messages", "post"),
    ("/v1/messages/count_tokens", "post"),
    ("/v1/responses", "post"),
    ("/v1/responses/input_tokens", "post"),
    ("/v1/responses/{response_id}", "get"),
    ("/v1/responses/{response_id}", "delete"),
    ("/v1/responses/{response_id}/input_items", "get"),
    ("/v1/models", "get"),
    ("/models", "get"),
    ("/health", "get"),
}
CHAT_ROUTES = {("/v1/chat/completions", "post"), ("/chat/completions", "post")}
ANY = "x-amazon-apigateway-any-method"  # what SAM makes of `Method: any`
ADMIN_ROUTES = {
    ("/key/{proxy+}", ANY),
    ("/team/{proxy+}", ANY),
    ("/user/{proxy+}", ANY),
    ("/spend/{proxy+}", ANY),
    ("/global/{proxy+}", ANY),
}
LWA_LAYER = re.compile(
    r"^arn:\$\{AWS::Partition\}:lambda:\$\{AWS::Region\}:753240598075:layer:"
    r"LambdaAdapterLayerArm64:\d+$"
)
# Shapes of real credentials; none may appear in plain text in the template.
SECRET_SHAPES = re.compile(r"sk-[A-Za-z0-9_-]{8,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{20,}")


class _NoManagedPolicies:
    """Stands in for samtranslator's IAM-backed loader, so no AWS call is made."""

    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    template: dict[str, Any] = yaml_parse(TEMPLATE.read_text(encoding="utf-8"))
    return template


@pytest.fixture(scope="module")
def cfn(sam: dict[str, Any]) -> dict[str, Any]:
    template = copy.deepcopy(sam)
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if key in props:  # local build dirs become what `sam package` would upload
                props[key] = "s3://artifacts/placeholder.zip"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.setenv("AWS_REGION", "us-east-1")
        transformed: dict[str, Any] = transform(template, {}, _NoManagedPolicies())
    return transformed


def _of_type(cfn: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in cfn["Resources"].items() if v["Type"] == kind}


def _integrations(cfn: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    body = cfn["Resources"]["Api"]["Properties"]["Body"]
    return {
        (path, method): spec["x-amazon-apigateway-integration"]
        for path, methods in body["paths"].items()
        for method, spec in methods.items()
    }


def _function(cfn: dict[str, Any], name: str = "ApiFunction") -> dict[str, Any]:
    props: dict[str, Any] = cfn["Resources"][name]["Properties"]
    return props


def _statements(cfn: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [
        s
        for policy in cfn["Resources"][role]["Properties"]["Policies"]
        for s in policy["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def _dynamodb(cfn: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [
        s for s in _statements(cfn, role) if any(a.startswith("dynamodb:") for a in _actions(s))
    ]


def test_exactly_the_gateway_routes_are_exposed(cfn: dict[str, Any]) -> None:
    assert set(_integrations(cfn)) == ROUTES | ADMIN_ROUTES


def test_every_api_function_route_streams(cfn: dict[str, Any]) -> None:
    # Derived from the integrations, not from ROUTES: a route added to ApiFunction later
    # without RESPONSE_STREAM fails here even if nobody updates the list above.
    api_routes = {
        route
        for route, integration in _integrations(cfn).items()
        if "ApiFunction" in json.dumps(integration["uri"])
    }
    assert api_routes == ROUTES
    for route in api_routes:
        integration = _integrations(cfn)[route]
        assert integration.get("responseTransferMode") == "STREAM", route
        assert STREAMING_URI.match(integration["uri"]["Fn::Sub"]), route


@pytest.mark.parametrize("route", sorted(CHAT_ROUTES))
def test_chat_routes_stream(cfn: dict[str, Any], route: tuple[str, str]) -> None:
    integration = _integrations(cfn)[route]
    assert integration["type"] == "aws_proxy"
    assert integration.get("responseTransferMode") == "STREAM"
    assert STREAMING_URI.match(integration["uri"]["Fn::Sub"]), integration["uri"]


@pytest.mark.parametrize("route", sorted(ROUTES - CHAT_ROUTES))
def test_other_routes_stream_too(cfn: dict[str, Any], route: tuple[str, str]) -> None:
    # AWS_LWA_INVOKE_MODE=response_stream frames every response of the function as a stream;
    # a BUFFERED integration cannot parse that and answers 502. Buffered routes would need a
    # second function without the streaming adapter.
    integration = _integrations(cfn)[route]
    assert integration.get("responseTransferMode") == "STREAM"
    assert STREAMING_URI.match(integration["uri"]["Fn::Sub"]), integration["uri"]


@pytest.mark.parametrize("route", sorted(ADMIN_ROUTES))
def test_admin_routes_are_buffered_on_the_admin_function(
    cfn: dict[str, Any], route: tuple[str, str]
) -> None:
    # Mangum answers with one buffered payload; a STREAM integration would wait for a
    # streamed response this function never sends.
    integration = _integrations(cfn)[route]
    assert integration["type"] == "aws_proxy"
    assert integration.get("responseTransferMode", "BUFFERED") == "BUFFERED"
    assert integration["uri"] == {"Fn::Sub": BUFFERED_ADMIN_URI}


def test_no_misspelt_transfer_mode_in_source(sam: dict[str, Any]) -> None:
    events = sam["Resources"]["ApiFunction"]["Properties"]["Events"]
    modes = {e["Properties"].get("ResponseTransferMode") for e in events.values()}
    assert modes == {"RESPONSE_STREAM"}
    admin = sam["Resources"]["AdminFunction"]["Properties"]["Events"]
    assert {e["Properties"].get("ResponseTransferMode") for e in admin.values()} == {None}


def test_regional_rest_api_with_one_stage(cfn: dict[str, Any]) -> None:
    api = cfn["Resources"]["Api"]["Properties"]
    assert api["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    stages = _of_type(cfn, "AWS::ApiGateway::Stage")
    assert [s["Properties"]["StageName"] for s in stages.values()] == ["api"]


def test_base_url_output_is_the_openai_base_url(cfn: dict[str, Any]) -> None:
    value = cfn["Outputs"]["BaseUrl"]["Value"]["Fn::Sub"]
    match = re.fullmatch(
        r"https://\$\{Api\}\.execute-api\.\$\{AWS::Region\}\.\$\{AWS::URLSuffix\}/"
        r"\$\{(\w+)\}/v1",
        value,
    )
    assert match, value
    stage = cfn["Resources"][match.group(1)]
    assert stage["Type"] == "AWS::ApiGateway::Stage"
    assert stage["Properties"]["StageName"] == "api"


def test_runtime_arch_and_snapstart_behind_alias(cfn: dict[str, Any]) -> None:
    fn = _function(cfn)
    assert fn["Runtime"] == "python3.13"
    assert fn["Architectures"] == ["arm64"]
    assert fn["Handler"] == "run.sh"
    assert fn["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert 300 <= fn["Timeout"] <= 900
    aliases = _of_type(cfn, "AWS::Lambda::Alias")
    assert [a["Properties"]["Name"] for a in aliases.values()] == ["live"]
    version = next(iter(aliases.values()))["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]
    assert cfn["Resources"][version]["Type"] == "AWS::Lambda::Version"


def test_layers_are_the_adapter_and_our_dependencies(cfn: dict[str, Any]) -> None:
    layers = _function(cfn)["Layers"]
    subs = [layer["Fn::Sub"] for layer in layers if "Fn::Sub" in layer]
    refs = [layer["Ref"] for layer in layers if "Ref" in layer]
    assert len(subs) == 1, subs
    assert LWA_LAYER.match(subs[0]), subs
    assert len(refs) == 1
    deps = cfn["Resources"][refs[0]]
    assert deps["Type"] == "AWS::Lambda::LayerVersion"
    assert deps["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert deps["Properties"]["CompatibleRuntimes"] == ["python3.13"]


def test_lambda_web_adapter_environment(cfn: dict[str, Any]) -> None:
    env = _function(cfn)["Environment"]["Variables"]
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert env["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert env["PORT"] == "8080"
    assert env["AWS_LWA_READINESS_CHECK_PATH"] == "/health"
    assert env["GATEWAY_CONFIG"] == "/var/task/config.yaml"
    assert (ROOT / "functions/api/config.yaml").is_file()


def test_secrets_are_passed_by_reference_only(cfn: dict[str, Any]) -> None:
    env = _function(cfn)["Environment"]["Variables"]
    assert env["GATEWAY_MASTER_KEY_SECRET_ARN"] == {"Ref": "MasterKeySecret"}
    assert env["GATEWAY_PROVIDER_SECRETS_ARN"] == {"Ref": "ProviderSecrets"}
    assert "GATEWAY_MASTER_KEY" not in env
    assert not SECRET_SHAPES.search(json.dumps(cfn)), "plaintext credential in the template"
    master = cfn["Resources"]["MasterKeySecret"]["Properties"]
    assert "SecretString" not in master
    assert master["GenerateSecretString"]["PasswordLength"] >= 32
    placeholder = json.loads(cfn["Resources"]["ProviderSecrets"]["Properties"]["SecretString"])
    assert placeholder
    assert all(value == "" for value in placeholder.values())


def test_role_reads_exactly_the_two_secrets(cfn: dict[str, Any]) -> None:
    statements = _statements(cfn, "ApiFunctionRole")
    secrets = [s for s in statements if "secretsmanager" in json.dumps(s["Action"])]
    assert len(secrets) == 1
    assert secrets[0]["Action"] == "secretsmanager:GetSecretValue"
    assert secrets[0]["Resource"] == [{"Ref": "MasterKeySecret"}, {"Ref": "ProviderSecrets"}]
    bedrock = [s for s in statements if "bedrock" in json.dumps(s["Action"])]
    assert len(bedrock) == 2
    assert set(bedrock[0]["Action"]) == {
        "bedrock:InvokeModel",
        "bedrock:InvokeModelWithResponseStream",
        "bedrock:CountTokens",
    }
    # Rerank takes no resource; the model it calls is still scoped by InvokeModel above.
    assert bedrock[1]["Action"] == "bedrock:Rerank"
    assert bedrock[1]["Resource"] == "*"


# ---- the table -----------------------------------------------------------------------


def test_gateway_table_keys_indexes_and_ttl_match_the_store(cfn: dict[str, Any]) -> None:
    resource = cfn["Resources"]["GatewayTable"]
    props = resource["Properties"]
    assert resource["DeletionPolicy"] == "Retain"  # keys and the audit trail outlive the stack
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert "ProvisionedThroughput" not in props
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    indexes = {i["IndexName"]: i for i in props["GlobalSecondaryIndexes"]}
    # gateway/store/table.py queries these by name.
    assert set(indexes) == {
        table.KIND_INDEX,
        table.TEAM_INDEX,
        table.USER_INDEX,
        table.KEY_LOG_INDEX,
    }
    for name, index in indexes.items():
        assert index["KeySchema"] == [
            {"AttributeName": f"{name}pk", "KeyType": "HASH"},
            {"AttributeName": f"{name}sk", "KeyType": "RANGE"},
        ]
        assert index["Projection"] == {"ProjectionType": "ALL"}
        assert "ProvisionedThroughput" not in index
    keys = {"pk", "sk"} | {f"{n}{k}" for n in indexes for k in ("pk", "sk")}
    assert {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]} == {
        k: "S" for k in keys
    }
    assert props["TimeToLiveSpecification"] == {
        "AttributeName": table.TTL_ATTRIBUTE,
        "Enabled": True,
    }
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True


@pytest.mark.parametrize("function", ["ApiFunction", "AdminFunction"])
def test_functions_find_the_table_by_reference(cfn: dict[str, Any], function: str) -> None:
    env = _function(cfn, function)["Environment"]["Variables"]
    assert env["GATEWAY_TABLE"] == {"Ref": "GatewayTable"}


# ---- what the request path may do to the table ------------------------------------------

LIMIT_PK = table.limit_pk("rpm", "k")
RECORD_PKS = [table.key_pk("0" * 64), table.team_pk("t"), table.user_pk("u"), LIMIT_PK]
SPEND_PKS = [
    table.ledger_pk("req-1"),
    table.spend_pk("team", "t"),
    table.report_pk("2025-01-01"),
    table.budget_pk("key", "k"),
]


def _leading_keys(statement: dict[str, Any]) -> list[str]:
    condition = statement["Condition"]
    # ForAllValues is true when the request carries no partition key at all; the Null
    # check beside it is what makes the condition refuse such a request.
    assert condition["Null"] == {"dynamodb:LeadingKeys": "false"}, statement
    patterns = condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
    return [patterns] if isinstance(patterns, str) else list(patterns)


def _matches(pk: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(pk, pattern) for pattern in patterns)


def test_api_function_only_reads_records_and_updates_limits(cfn: dict[str, Any]) -> None:
    statements = _dynamodb(cfn, "ApiFunctionRole")
    assert set().union(*map(_actions, statements)) == {
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",  # spend items only (test_api_function_puts_only_spend_items)
    }
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert statement["Resource"] == {"Fn::GetAtt": ["GatewayTable", "Arn"]}  # no index
    reads = [s for s in statements if _actions(s) == {"dynamodb:GetItem"}]
    writes = [s for s in statements if _actions(s) == {"dynamodb:UpdateItem"}]
    assert len(reads) == 1
    assert len(writes) == 1
    assert all(_matches(pk, _leading_keys(reads[0])) for pk in RECORD_PKS)
    assert not _matches(table.audit_pk("key", "x"), _leading_keys(reads[0]))
    assert _matches(LIMIT_PK, _leading_keys(writes[0]))
    assert not any(_matches(pk, _leading_keys(writes[0])) for pk in RECORD_PKS[:3])
    (router,) = [s for s in statements if "dynamodb:BatchGetItem" in _actions(s)]
    assert _actions(router) == {"dynamodb:BatchGetItem", "dynamodb:UpdateItem"}
    assert _matches(cooldown_pk("d"), _leading_keys(router))
    assert _matches(usage_pk("d"), _leading_keys(router))
    assert not any(_matches(pk, _leading_keys(router)) for pk in RECORD_PKS)


@pytest.mark.parametrize(
    "forbidden",
    ["DeleteItem", "Query", "Scan", "BatchWriteItem", "PartiQL"],
)
def test_api_function_cannot_create_delete_or_list(cfn: dict[str, Any], forbidden: str) -> None:
    granted = json.dumps([sorted(_actions(s)) for s in _statements(cfn, "ApiFunctionRole")])
    assert forbidden not in granted
    assert "dynamodb:*" not in granted


def test_api_function_puts_only_spend_items(cfn: dict[str, Any]) -> None:
    # The direct-write fallback (SQS refused the event) writes what the spend function
    # would: ledger, counters, settlements. It must not create keys, teams, users or audit.
    puts = [s for s in _dynamodb(cfn, "ApiFunctionRole") if "dynamodb:PutItem" in _actions(s)]
    assert len(puts) == 1
    patterns = _leading_keys(puts[0])
    assert all(_matches(pk, patterns) for pk in SPEND_PKS)
    assert not any(_matches(pk, patterns) for pk in [*RECORD_PKS, table.audit_pk("key", "x")])


# ---- the response cache bucket -------------------------------------------------------------

CACHE_PREFIX = CacheKey(id="0" * 64, namespace="team:t").object_key.split("/")[0] + "/"


def _bucket(cfn: dict[str, Any], name: str = "ResponseCacheBucket") -> dict[str, Any]:
    resource: dict[str, Any] = cfn["Resources"][name]
    assert resource["Type"] == "AWS::S3::Bucket"
    return resource


def _s3(cfn: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [s for s in _statements(cfn, role) if any(a.startswith("s3:") for a in _actions(s))]


def _on_bucket(cfn: dict[str, Any], role: str, bucket: str) -> list[dict[str, Any]]:
    """The role's S3 statements that name `bucket`."""
    return [s for s in _s3(cfn, role) if f"{bucket}.Arn" in json.dumps(s["Resource"])]


@pytest.mark.parametrize("bucket", ["ResponseCacheBucket", "ResponseStoreBucket"])
def test_buckets_are_encrypted_private_and_unversioned(cfn: dict[str, Any], bucket: str) -> None:
    props = _bucket(cfn, bucket)["Properties"]
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    # Cache: replaced entries are not worth keeping. Store: a deleted response must be gone.
    assert "VersioningConfiguration" not in props
    assert "BucketName" not in props  # names are global: CloudFormation makes one up
    assert "AccessControl" not in props


def test_cache_entries_expire_with_the_longest_ttl(cfn: dict[str, Any]) -> None:
    rules = _bucket(cfn)["Properties"]["LifecycleConfiguration"]["Rules"]
    assert all(rule["Status"] == "Enabled" for rule in rules)
    expiring = [rule for rule in rules if "ExpirationInDays" in rule]
    assert [(r["Prefix"], r["ExpirationInDays"]) for r in expiring] == [
        (CACHE_PREFIX, MAX_TTL_S // 86_400)
    ]
    aborts = [r["AbortIncompleteMultipartUpload"] for r in rules if "AbortIncomplete" in str(r)]
    assert aborts
    assert all(a["DaysAfterInitiation"] <= 7 for a in aborts)


@pytest.mark.parametrize("bucket", ["ResponseCacheBucket", "ResponseStoreBucket"])
def test_buckets_refuse_plain_http(cfn: dict[str, Any], bucket: str) -> None:
    policies = [
        r["Properties"]
        for r in _of_type(cfn, "AWS::S3::BucketPolicy").values()
        if r["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    assert len(policies) == 1
    statements = policies[0]["PolicyDocument"]["Statement"]
    (tls,) = [s for s in statements if "aws:SecureTransport" in json.dumps(s)]
    assert tls["Effect"] == "Deny"
    assert tls["Principal"] == "*"
    assert tls["Action"] in ("s3:*", ["s3:*"])
    assert {"Fn::GetAtt": [bucket, "Arn"]} in tls["Resource"]
    assert {"Fn::Sub": f"${{{bucket}.Arn}}/*"} in tls["Resource"]
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert all(s["Effect"] == "Deny" for s in statements)  # the policy grants nothing


def test_api_function_reads_and_writes_cache_entries_only(cfn: dict[str, Any]) -> None:
    env = _function(cfn)["Environment"]["Variables"]
    assert env["GATEWAY_CACHE_BUCKET"] == {"Ref": "ResponseCacheBucket"}
    (statement,) = _on_bucket(cfn, "ApiFunctionRole", "ResponseCacheBucket")
    assert statement["Effect"] == "Allow"
    # No s3:ListBucket (a missing entry is then a 403, read as a miss), no DeleteObject.
    assert _actions(statement) == {"s3:GetObject", "s3:PutObject"}
    assert statement["Resource"] == {"Fn::Sub": f"${{ResponseCacheBucket.Arn}}/{CACHE_PREFIX}*"}
    assert "Condition" not in statement


def test_only_the_api_function_touches_the_buckets(cfn: dict[str, Any]) -> None:
    for function in ("AdminFunction", "SpendFunction"):
        assert _s3(cfn, f"{function}Role") == []
        env = _function(cfn, function)["Environment"]["Variables"]
        assert not {"GATEWAY_CACHE_BUCKET", "GATEWAY_RESPONSE_STORE_BUCKET"} & set(env)


def test_api_function_s3_access_is_the_two_bucket_statements(cfn: dict[str, Any]) -> None:
    cache = _on_bucket(cfn, "ApiFunctionRole", "ResponseCacheBucket")
    kept = _on_bucket(cfn, "ApiFunctionRole", "ResponseStoreBucket")
    assert len(cache) == len(kept) == 1
    assert _s3(cfn, "ApiFunctionRole") == [*cache, *kept]  # neither grants on the other
    assert not any("s3:ListBucket" in _actions(s) for s in _s3(cfn, "ApiFunctionRole"))


# ---- stored Responses API responses ----------------------------------------------------------

STORE_PREFIX = response_store.object_key("team:t", "resp_x").split("/")[0] + "/"


def test_stored_responses_live_under_the_prefix_the_policy_and_lifecycle_name() -> None:
    assert STORE_PREFIX == response_store.PREFIX == "v1/"
    for scope in ("master", "team:t-1", "key:k-1"):
        assert fnmatch.fnmatchcase(response_store.object_key(scope, "resp_a"), "v1/*")


def test_stored_responses_expire_after_the_stacks_parameter(cfn: dict[str, Any]) -> None:
    parameter = cfn["Parameters"]["StoredResponseDays"]
    assert parameter["Type"] == "Number"
    assert parameter["Default"] == STORED_RESPONSE_DAYS  # the code's default, when unset
    assert parameter["MinValue"] >= 1
    rules = _bucket(cfn, "ResponseStoreBucket")["Properties"]["LifecycleConfiguration"]["Rules"]
    assert all(rule["Status"] == "Enabled" for rule in rules)
    expiring = [rule for rule in rules if "ExpirationInDays" in rule]
    # The same parameter sets the code's TTL (below), so S3 never deletes a record early:
    # it counts from creation and rounds up to the next midnight UTC.
    assert [(r["Prefix"], r["ExpirationInDays"]) for r in expiring] == [
        (STORE_PREFIX, {"Ref": "StoredResponseDays"})
    ]
    aborts = [r["AbortIncompleteMultipartUpload"] for r in rules if "AbortIncomplete" in str(r)]
    assert aborts
    assert all(a["DaysAfterInitiation"] <= 7 for a in aborts)


def test_api_function_finds_the_store_and_its_ttl(cfn: dict[str, Any]) -> None:
    env = _function(cfn)["Environment"]["Variables"]
    assert env["GATEWAY_RESPONSE_STORE_BUCKET"] == {"Ref": "ResponseStoreBucket"}
    assert env["GATEWAY_STORED_RESPONSE_DAYS"] == {"Ref": "StoredResponseDays"}
    outputs = cfn["Outputs"]
    assert outputs["ResponseStoreBucketName"]["Value"] == {"Ref": "ResponseStoreBucket"}


def test_api_function_reads_writes_and_deletes_stored_responses_only(
    cfn: dict[str, Any],
) -> None:
    (statement,) = _on_bucket(cfn, "ApiFunctionRole", "ResponseStoreBucket")
    assert statement["Effect"] == "Allow"
    # DeleteObject for DELETE /v1/responses/{id}; no ListBucket (a missing record is then
    # 403, which the store reads as absent), so no caller can have them enumerated.
    assert _actions(statement) == {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}
    assert statement["Resource"] == {"Fn::Sub": f"${{ResponseStoreBucket.Arn}}/{STORE_PREFIX}*"}
    assert "Condition" not in statement


def test_stored_responses_go_with_the_stack(sam: dict[str, Any]) -> None:
    # User conversation data: no orphaned copy after `sam delete` (S3 refuses to delete a
    # non-empty bucket, so the operator empties it first, deliberately).
    bucket = sam["Resources"]["ResponseStoreBucket"]
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Delete", "Delete")


# ---- the admin function -------------------------------------------------------------------


def test_admin_function_is_buffered_python_without_the_adapter(cfn: dict[str, Any]) -> None:
    fn = _function(cfn, "AdminFunction")
    assert fn["Runtime"] == "python3.13"
    assert fn["Architectures"] == ["arm64"]
    assert fn["Handler"] == "handler.handler"
    assert fn["Timeout"] <= 30
    assert fn["MemorySize"] <= 1024
    deps = [layer for layer in _function(cfn)["Layers"] if "Ref" in layer]
    assert fn["Layers"] == deps  # our dependencies, and no Lambda Web Adapter layer
    env = fn["Environment"]["Variables"]
    assert not [k for k in env if k.startswith("AWS_LWA_") or k == "AWS_LAMBDA_EXEC_WRAPPER"]
    assert env["GATEWAY_MASTER_KEY_SECRET_ARN"] == {"Ref": "MasterKeySecret"}
    assert "GATEWAY_PROVIDER_SECRETS_ARN" not in env


def test_admin_role_manages_records_and_nothing_else(cfn: dict[str, Any]) -> None:
    statements = _statements(cfn, "AdminFunctionRole")
    granted = json.dumps([sorted(_actions(s)) for s in statements])
    assert "bedrock" not in granted
    secrets = [s for s in statements if "secretsmanager" in json.dumps(s["Action"])]
    assert len(secrets) == 1
    assert secrets[0]["Action"] == "secretsmanager:GetSecretValue"
    assert secrets[0]["Resource"] == {"Ref": "MasterKeySecret"}
    dynamodb = _dynamodb(cfn, "AdminFunctionRole")
    assert set().union(*map(_actions, dynamodb)) == {
        f"dynamodb:{a}"
        for a in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem", "Query")
    }
    resources = [r for s in dynamodb for r in s["Resource"]]
    assert {"Fn::GetAtt": ["GatewayTable", "Arn"]} in resources
    assert {"Fn::Sub": "${GatewayTable.Arn}/index/*"} in resources
    assert len(statements) == len(secrets) + len(dynamodb)


def test_admin_url_output_is_the_stage_root(cfn: dict[str, Any]) -> None:
    base = cfn["Outputs"]["BaseUrl"]["Value"]["Fn::Sub"]
    assert cfn["Outputs"]["AdminUrl"]["Value"]["Fn::Sub"] + "/v1" == base


# ---- the spend pipeline ------------------------------------------------------------------

FOURTEEN_DAYS_S = 14 * 86_400


def _esm(cfn: dict[str, Any]) -> dict[str, Any]:
    (mapping,) = [
        m["Properties"]
        for m in _of_type(cfn, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": "SpendFunction"}
    ]
    return mapping


def test_spend_function_reports_partial_batch_failures(cfn: dict[str, Any]) -> None:
    # Without ReportBatchItemFailures the handler's batchItemFailures are ignored and one
    # poison message would redeliver (and re-apply, as duplicates) its whole batch.
    mapping = _esm(cfn)
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["SpendQueue", "Arn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == 100  # gateway/billing/apply.py packs any size
    assert 1 <= mapping["MaximumBatchingWindowInSeconds"] <= 10  # full batches merge counters


def test_spend_queue_redrives_to_its_dead_letter_queue(cfn: dict[str, Any]) -> None:
    queue = cfn["Resources"]["SpendQueue"]["Properties"]
    dlq = cfn["Resources"]["SpendDeadLetterQueue"]
    assert dlq["Type"] == "AWS::SQS::Queue"
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["SpendDeadLetterQueue", "Arn"]
    }
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 5
    assert queue["MessageRetentionPeriod"] == FOURTEEN_DAYS_S
    # A dead letter keeps its original enqueue time: the DLQ must keep it at least as long.
    assert dlq["Properties"]["MessageRetentionPeriod"] >= queue["MessageRetentionPeriod"]
    for props in (queue, dlq["Properties"]):
        assert props["SqsManagedSseEnabled"] is True


def test_spend_queue_visibility_covers_six_function_timeouts(cfn: dict[str, Any]) -> None:
    queue = cfn["Resources"]["SpendQueue"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * _function(cfn, "SpendFunction")["Timeout"]


def test_spend_function_is_plain_python_on_arm(cfn: dict[str, Any]) -> None:
    fn = _function(cfn, "SpendFunction")
    assert fn["Runtime"] == "python3.13"
    assert fn["Architectures"] == ["arm64"]
    assert fn["Handler"] == "handler.handler"
    assert fn["Timeout"] <= 120
    deps = [layer for layer in _function(cfn)["Layers"] if "Ref" in layer]
    assert fn["Layers"] == deps  # no Lambda Web Adapter
    env = fn["Environment"]["Variables"]
    assert env["GATEWAY_TABLE"] == {"Ref": "GatewayTable"}
    assert env["GATEWAY_EVENT_BUS"] == "default"
    assert not [k for k in env if k.startswith("AWS_LWA_") or "SECRET" in k]
    assert (ROOT / "functions/spend/handler.py").is_file()
    assert "build-SpendFunction:" in (ROOT / "functions/spend/Makefile").read_text()


def test_spend_role_writes_spend_items_and_alerts_only(cfn: dict[str, Any]) -> None:
    statements = _statements(cfn, "SpendFunctionRole")
    dynamodb = _dynamodb(cfn, "SpendFunctionRole")
    assert len(dynamodb) == 1
    assert _actions(dynamodb[0]) == {"dynamodb:PutItem", "dynamodb:UpdateItem"}
    assert dynamodb[0]["Resource"] == {"Fn::GetAtt": ["GatewayTable", "Arn"]}
    patterns = _leading_keys(dynamodb[0])
    assert all(_matches(pk, patterns) for pk in SPEND_PKS)
    assert not any(_matches(pk, patterns) for pk in [*RECORD_PKS, table.audit_pk("key", "x")])
    (events,) = [s for s in statements if "events:" in json.dumps(s["Action"])]
    assert events["Action"] == "events:PutEvents"
    assert events["Resource"]["Fn::Sub"].endswith(":event-bus/default")
    assert len(statements) == 2  # SQS polling comes from SAM's AWSLambdaSQSQueueExecutionRole


def test_api_function_sends_spend_events(cfn: dict[str, Any]) -> None:
    env = _function(cfn)["Environment"]["Variables"]
    assert env["GATEWAY_SPEND_QUEUE_URL"] == {"Ref": "SpendQueue"}
    sqs = [s for s in _statements(cfn, "ApiFunctionRole") if "sqs:" in json.dumps(s["Action"])]
    assert len(sqs) == 1
    assert sqs[0]["Action"] in ("sqs:SendMessage", ["sqs:SendMessage"])
    assert sqs[0]["Resource"] == {"Fn::GetAtt": ["SpendQueue", "Arn"]}
    # The direct-write fallback settles budgets, so it may send the soft budget alert.
    (events,) = [s for s in _statements(cfn, "ApiFunctionRole") if "events:" in json.dumps(s)]
    assert events["Action"] == "events:PutEvents"
    assert events["Resource"]["Fn::Sub"].endswith(":event-bus/default")
    assert env["GATEWAY_EVENT_BUS"] == "default"


def test_spend_queue_outputs(cfn: dict[str, Any]) -> None:
    assert cfn["Outputs"]["SpendQueueUrl"]["Value"] == {"Ref": "SpendQueue"}
    assert cfn["Outputs"]["SpendDeadLetterQueueUrl"]["Value"] == {"Ref": "SpendDeadLetterQueue"}


def test_run_sh_is_executable() -> None:
    run = ROOT / "functions/api/run.sh"
    assert run.stat().st_mode & 0o111, "Lambda cannot exec a handler script without +x"
    assert run.read_text(encoding="utf-8").startswith("#!/bin/bash\n")


def test_cfn_lint_is_clean() -> None:
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(TEMPLATE, config=ManualArgs(regions=["us-east-1"]))
    assert [str(m) for m in matches] == []


def test_layer_keeps_every_botocore_service_the_code_calls() -> None:
    makefile = (ROOT / "layers" / "deps" / "Makefile").read_text()
    kept = set(re.search(r"BOTOCORE_SERVICES := (.+)", makefile).group(1).split())  # type: ignore[union-attr]
    used: set[str] = set()
    for path in (ROOT / "shared" / "gateway").rglob("*.py"):
        if "local" in path.parts:
            continue
        used.update(re.findall(r"""client\(\s*["']([a-z0-9-]+)["']""", path.read_text()))
    assert used, "the scan found no AWS client calls at all"
    assert used <= kept, f"layers/deps/Makefile drops {sorted(used - kept)}"


# ---- operations: log groups, alarms, dashboard, Globals -----------------------------------

FUNCTIONS = ("ApiFunction", "AdminFunction", "SpendFunction")
# The request metrics' contract: what gateway/telemetry/metrics.py writes, one EMF
# document per request.
NAMESPACE = metrics.NAMESPACE
SERVICE = metrics.SERVICE
REQUEST_METRICS = {*metrics.COUNTS, "Latency", "TimeToFirstToken", "CacheLookups"}
REQUEST_DIMENSION_SETS = {
    frozenset(dims)
    for dims in (
        {"service"},
        {"service", "ModelGroup"},
        {"service", "ModelGroup", "Provider"},
        {"service", "Team"},
        {"service", "ErrorType"},
        {"service", "Result"},
    )
}
# The AWS metrics the template may read: namespace -> (metric names, dimension sets), as
# documented for Lambda, SQS and DynamoDB (see the comments at the alarms).
AWS_METRICS: dict[str, tuple[set[str], set[frozenset[str]]]] = {
    "AWS/Lambda": (
        {"Errors", "Throttles", "Duration", "ConcurrentExecutions"},
        {frozenset({"FunctionName"})},
    ),
    "AWS/SQS": (
        {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"},
        {frozenset({"QueueName"})},
    ),
    "AWS/DynamoDB": (
        {"ReadThrottleEvents", "WriteThrottleEvents"},
        {frozenset({"TableName"}), frozenset({"TableName", "GlobalSecondaryIndexName"})},
    ),
}
TOPIC = "arn:aws:sns:us-east-1:123456789012:gateway-alarms"
NO_VALUE = object()  # what Ref AWS::NoValue leaves: the property is dropped


def _check_metric(namespace: str, name: str, dimensions: dict[str, Any]) -> None:
    """Fails unless the contract above (or AWS's documentation) has this metric."""
    if namespace == NAMESPACE:
        assert name in REQUEST_METRICS, name
        assert frozenset(dimensions) in REQUEST_DIMENSION_SETS, (name, dimensions)
        assert dimensions.get("service", SERVICE) == SERVICE, (name, dimensions)
        return
    assert namespace in AWS_METRICS, namespace
    names, dimension_sets = AWS_METRICS[namespace]
    assert name in names, (namespace, name)
    assert frozenset(dimensions) in dimension_sets, (namespace, name, dimensions)


def _condition(template: dict[str, Any], expression: Any, parameters: dict[str, str]) -> bool:
    if "Condition" in expression:
        return _condition(template, template["Conditions"][expression["Condition"]], parameters)
    if "Fn::Not" in expression:
        return not _condition(template, expression["Fn::Not"][0], parameters)
    if "Fn::Equals" in expression:
        left, right = (_resolve(template, v, parameters) for v in expression["Fn::Equals"])
        return bool(left == right)
    raise AssertionError(f"unexpected condition {expression}")


def _resolve(template: dict[str, Any], value: Any, parameters: dict[str, str]) -> Any:
    """`value` as CloudFormation would deploy it with these parameter values: Fn::If
    decided, parameter Refs replaced, AWS::NoValue dropped; other intrinsics left as they are."""
    if isinstance(value, list):
        items = [_resolve(template, v, parameters) for v in value]
        return [v for v in items if v is not NO_VALUE]
    if not isinstance(value, dict):
        return value
    if "Fn::If" in value:
        name, if_true, if_false = value["Fn::If"]
        chosen = if_true if _condition(template, {"Condition": name}, parameters) else if_false
        return _resolve(template, chosen, parameters)
    if value == {"Ref": "AWS::NoValue"}:
        return NO_VALUE
    if set(value) == {"Ref"} and value["Ref"] in parameters:
        return parameters[value["Ref"]]
    items = {k: _resolve(template, v, parameters) for k, v in value.items()}
    return {k: v for k, v in items.items() if v is not NO_VALUE}


def _alarms(cfn: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in _of_type(cfn, "AWS::CloudWatch::Alarm").items()}


def _dimensions(metric: dict[str, Any]) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}


def _alarm_metrics(alarm: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(namespace, metric name, dimensions) of every metric the alarm reads."""
    if "MetricName" in alarm:
        return [(alarm["Namespace"], alarm["MetricName"], _dimensions(alarm))]
    return [
        (m["Namespace"], m["MetricName"], _dimensions(m))
        for m in (q["MetricStat"]["Metric"] for q in alarm["Metrics"] if "MetricStat" in q)
    ]


def _single_metric_alarm(cfn: dict[str, Any], namespace: str, name: str, dims: Any) -> Any:
    (alarm,) = [
        a
        for a in _alarms(cfn).values()
        if a.get("Namespace") == namespace
        and a.get("MetricName") == name
        and _dimensions(a) == dims
    ]
    return alarm


def _metric_math(expression: str, values: dict[str, float]) -> float:
    """Evaluates the few metric math forms the alarms use, on one datapoint."""

    def if_(condition: float, if_true: float, if_false: float) -> float:
        return if_true if condition else if_false

    python = expression.replace("IF(", "if_(")
    result: float = eval(python, {"__builtins__": {}, "if_": if_}, dict(values))
    return result


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_logs_to_its_group_with_the_retention_parameter(
    cfn: dict[str, Any], function: str
) -> None:
    # LoggingConfig, not a group named /aws/lambda/<function name>: Lambda would create that
    # group itself on the first log line, racing CloudFormation (AlreadyExists).
    ref = _function(cfn, function)["LoggingConfig"]["LogGroup"]
    assert ref == {"Ref": f"{function}LogGroup"}
    group = cfn["Resources"][ref["Ref"]]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    name = group["Properties"]["LogGroupName"]
    assert name == {"Fn::Sub": f"/aws/lambda/${{AWS::StackName}}/{function}"}
    # A fixed name: a group kept after `sam delete` would block the next stack of that name.
    assert (group["DeletionPolicy"], group["UpdateReplacePolicy"]) == ("Delete", "Delete")


def test_log_retention_accepts_what_cloudwatch_logs_accepts(cfn: dict[str, Any]) -> None:
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", "AWS::Logs::LogGroup")
    parameter = cfn["Parameters"]["LogRetentionDays"]
    assert parameter["Default"] == 30
    assert parameter["AllowedValues"] == schema.schema["properties"]["RetentionInDays"]["enum"]


def test_globals_hold_what_the_functions_share(sam: dict[str, Any], cfn: dict[str, Any]) -> None:
    shared = sam["Globals"]["Function"]
    assert shared["Runtime"] == "python3.13"
    assert shared["Architectures"] == ["arm64"]
    assert shared["Layers"] == [{"Ref": "DependenciesLayer"}]
    common = shared["Environment"]["Variables"]
    assert common == {"GATEWAY_TABLE": {"Ref": "GatewayTable"}, "LOG_LEVEL": {"Ref": "LogLevel"}}
    for function in FUNCTIONS:
        own = sam["Resources"][function]["Properties"]
        assert not {"Runtime", "Architectures"} & set(own), function  # not repeated
        assert {"Ref": "DependenciesLayer"} not in own.get("Layers", []), function
        assert not set(common) & set(own["Environment"]["Variables"]), function
        merged = _function(cfn, function)
        assert merged["Runtime"] == "python3.13"
        assert merged["Architectures"] == ["arm64"]
        first = cfn["Resources"][merged["Layers"][0]["Ref"]]  # globals come first
        assert first["Properties"]["LayerName"] == {"Fn::Sub": "${AWS::StackName}-deps"}
        assert common.items() <= merged["Environment"]["Variables"].items()


def test_alarms_notify_the_topic_only_when_one_is_given(cfn: dict[str, Any]) -> None:
    parameter = cfn["Parameters"]["AlarmTopicArn"]
    assert parameter["Default"] == ""
    assert re.fullmatch(parameter["AllowedPattern"], "")
    assert re.fullmatch(parameter["AllowedPattern"], TOPIC)
    alarms = _alarms(cfn)
    assert len(alarms) == 10
    for name, alarm in alarms.items():
        silent = _resolve(cfn, alarm, {"AlarmTopicArn": ""})
        assert not {"AlarmActions", "OKActions", "InsufficientDataActions"} & set(silent), name
        loud = _resolve(cfn, alarm, {"AlarmTopicArn": TOPIC})
        assert loud["AlarmActions"] == loud["OKActions"] == [TOPIC], name
        assert "InsufficientDataActions" not in loud, name
        # Every metric here is absent while nothing happens, and an idle gateway is healthy.
        assert alarm["TreatMissingData"] == "notBreaching", name


def test_alarms_read_only_documented_metrics(cfn: dict[str, Any]) -> None:
    for name, alarm in _alarms(cfn).items():
        metrics = _alarm_metrics(alarm)
        assert metrics, name
        for namespace, metric, dimensions in metrics:
            _check_metric(namespace, metric, dimensions)


def test_server_error_rate_alarm(cfn: dict[str, Any]) -> None:
    alarm = _alarms(cfn)["ServerErrorRateAlarm"]
    queries = {q["Id"]: q for q in alarm["Metrics"]}
    read = {
        q["MetricStat"]["Metric"]["MetricName"]: (q["Id"], q["MetricStat"])
        for q in queries.values()
        if "MetricStat" in q
    }
    assert set(read) == {"Requests", "ServerErrors"}
    for stat in (s for _, s in read.values()):
        assert stat["Metric"]["Namespace"] == NAMESPACE
        assert _dimensions(stat["Metric"]) == {"service": SERVICE}  # the [service] set
        assert (stat["Stat"], stat["Period"]) == ("Sum", 300)
    (returned,) = [q for q in queries.values() if q.get("ReturnData", True)]
    assert all(not q.get("ReturnData", True) for q in queries.values() if q is not returned)
    assert alarm["Threshold"] == {"Ref": "ServerErrorRateAlarmPercent"}
    assert cfn["Parameters"]["ServerErrorRateAlarmPercent"]["Default"] == 5
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["EvaluationPeriods"] >= alarm["DatapointsToAlarm"] > 1
    requests, errors = read["Requests"][0], read["ServerErrors"][0]

    def rate(n: float, failed: float) -> float:
        return _metric_math(returned["Expression"], {requests: n, errors: failed})

    assert rate(100, 6) == pytest.approx(6)  # a percentage, compared with the parameter (5)
    assert rate(100, 5) == pytest.approx(5)  # not above: no alarm
    assert rate(9, 9) == 0  # too few requests to judge
    assert rate(10, 1) == pytest.approx(10)


def test_latency_alarm(cfn: dict[str, Any]) -> None:
    alarm = _single_metric_alarm(cfn, NAMESPACE, "Latency", {"service": SERVICE})
    assert alarm["ExtendedStatistic"] == "p99"
    assert "Statistic" not in alarm
    assert alarm["Period"] == 300
    assert alarm["Threshold"] == {"Ref": "LatencyP99AlarmMs"}
    assert cfn["Parameters"]["LatencyP99AlarmMs"]["Default"] == 60000
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    # "ignore" would keep a gateway under ~1,000 requests per period from ever alarming.
    assert alarm.get("EvaluateLowSampleCountPercentile", "evaluate") == "evaluate"


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
@pytest.mark.parametrize("function", FUNCTIONS)
def test_lambda_alarms(cfn: dict[str, Any], function: str, metric: str) -> None:
    alarm = _single_metric_alarm(cfn, "AWS/Lambda", metric, {"FunctionName": {"Ref": function}})
    assert (alarm["Statistic"], alarm["ComparisonOperator"]) == ("Sum", "GreaterThanThreshold")
    assert alarm["Threshold"] == 0
    assert alarm["EvaluationPeriods"] == 1


def test_dead_letter_alarm(cfn: dict[str, Any]) -> None:
    queue = {"QueueName": {"Fn::GetAtt": ["SpendDeadLetterQueue", "QueueName"]}}
    alarm = _single_metric_alarm(cfn, "AWS/SQS", "ApproximateNumberOfMessagesVisible", queue)
    assert (alarm["Statistic"], alarm["ComparisonOperator"]) == ("Maximum", "GreaterThanThreshold")
    assert alarm["Threshold"] == 0


def test_table_throttle_alarm_covers_the_table_and_every_index(cfn: dict[str, Any]) -> None:
    alarm = _alarms(cfn)["GatewayTableThrottlesAlarm"]
    table_ref = {"Ref": "GatewayTable"}
    indexes = {
        i["IndexName"]
        for i in cfn["Resources"]["GatewayTable"]["Properties"]["GlobalSecondaryIndexes"]
    }
    stats = {q["Id"]: q["MetricStat"] for q in alarm["Metrics"] if "MetricStat" in q}
    read = {
        (s["Metric"]["MetricName"], _dimensions(s["Metric"]).get("GlobalSecondaryIndexName"))
        for s in stats.values()
    }
    # Index writes throttle the table write behind them (GSI back-pressure); index reads
    # are the admin API's queries and are left to the dashboard.
    assert read == {("ReadThrottleEvents", None), ("WriteThrottleEvents", None)} | {
        ("WriteThrottleEvents", index) for index in indexes
    }
    for stat in stats.values():
        assert stat["Metric"]["Namespace"] == "AWS/DynamoDB"
        assert _dimensions(stat["Metric"])["TableName"] == table_ref
        assert (stat["Stat"], stat["Period"]) == ("Sum", 300)
    (returned,) = [q for q in alarm["Metrics"] if q.get("ReturnData", True)]
    none = dict.fromkeys(stats, 0.0)
    assert _metric_math(returned["Expression"], none) == 0
    for one in stats:  # a throttle on any of them counts
        assert _metric_math(returned["Expression"], {**none, one: 1.0}) == 1
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)


# -- the dashboard


@pytest.fixture(scope="module")
def dashboard(cfn: dict[str, Any]) -> dict[str, Any]:
    """The dashboard body with each ${...} of its Fn::Sub replaced by a dummy value."""
    body = cfn["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    assert isinstance(body, str)  # no variable map: every ${...} names the template's own
    for variable in re.findall(r"\$\{([^}!]+)\}", body):
        resource, _, attribute = variable.partition(".")
        if not resource.startswith("AWS::"):
            assert resource in cfn["Resources"], variable
        if attribute:  # alarms' Arn, queues' QueueName
            assert attribute in ("Arn", "QueueName"), variable
    parsed: dict[str, Any] = json.loads(
        re.sub(r"\$\{([^}!]+)\}", lambda m: f"dummy-{m.group(1)}", body)
    )
    return parsed


def _widget_metrics(dashboard: dict[str, Any]) -> list[tuple[dict[str, Any], list[Any]]]:
    return [
        (widget["properties"], entry)
        for widget in dashboard["widgets"]
        if widget["type"] == "metric"
        for entry in widget["properties"]["metrics"]
    ]


SEARCH = re.compile(r"SEARCH\('\{([^}]+)\}([^']*)', '(\w+)', (\d+)\)")


def _searched(expression: str) -> list[tuple[str, frozenset[str], set[str]]]:
    """(namespace, dimension names, metric names) of each SEARCH in the expression."""
    found = []
    for schema, terms, _, _ in SEARCH.findall(expression):
        namespace, *dimensions = (part.strip() for part in schema.split(","))
        names = set(re.findall(r'MetricName="(\w+)"', terms))
        assert names, expression  # a SEARCH without a metric name would graph anything
        found.append((namespace, frozenset(dimensions), names))
    return found


def _check_expression(expression: str, ids: set[str]) -> None:
    searched = _searched(expression)
    for namespace, dimensions, names in searched:
        service = {"service": SERVICE} if "service" in dimensions else {}
        for name in names:
            _check_metric(namespace, name, {**dict.fromkeys(dimensions), **service})
    if not searched:  # plain math over the ids of the widget's other entries
        assert set(re.findall(r"[a-z]\w*", expression)) <= ids, expression


def test_dashboard_reads_only_the_contracts_metrics(dashboard: dict[str, Any]) -> None:
    for widget in dashboard["widgets"]:
        if widget["type"] != "metric":
            continue
        properties = widget["properties"]
        assert properties["region"] == "dummy-AWS::Region", properties["title"]
        entries = properties["metrics"]
        ids = {e[-1]["id"] for e in entries if isinstance(e[-1], dict) and "id" in e[-1]}
        for entry in entries:
            if isinstance(entry[0], dict):  # a metric math or SEARCH expression
                _check_expression(entry[0]["expression"], ids)
                continue
            namespace, name, *rest = entry
            pairs = rest[:-1] if rest and isinstance(rest[-1], dict) else rest
            assert len(pairs) % 2 == 0, entry  # no "." shorthand: every entry stands alone
            _check_metric(namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True)))


def test_dashboard_shows_every_request_metric(dashboard: dict[str, Any]) -> None:
    shown: set[str] = set()
    per_group: set[str] = set()
    for _, entry in _widget_metrics(dashboard):
        if isinstance(entry[0], dict):
            for namespace, dimensions, names in _searched(entry[0]["expression"]):
                if namespace == NAMESPACE:
                    shown |= names
                if dimensions == {"service", "ModelGroup"}:
                    per_group |= names
        elif entry[0] == NAMESPACE:
            shown.add(entry[1])
    assert shown == REQUEST_METRICS
    assert {"Requests", "Latency", "CostMicros"} <= per_group  # one line per model group


def test_dashboard_covers_the_functions_queues_table_and_alarms(
    cfn: dict[str, Any], dashboard: dict[str, Any]
) -> None:
    lambda_metrics: dict[str, set[str]] = {}
    for _, entry in _widget_metrics(dashboard):
        if entry[0] == "AWS/Lambda":
            lambda_metrics.setdefault(entry[1], set()).add(entry[3])
    functions = {f"dummy-{f}" for f in FUNCTIONS}
    assert lambda_metrics == dict.fromkeys(
        ("Errors", "Throttles", "Duration", "ConcurrentExecutions"), functions
    )
    flat = json.dumps(dashboard)
    assert "dummy-SpendDeadLetterQueue.QueueName" in flat
    assert "dummy-GatewayTable" in flat
    (alarm_widget,) = [w for w in dashboard["widgets"] if w["type"] == "alarm"]
    assert set(alarm_widget["properties"]["alarms"]) == {f"dummy-{a}.Arn" for a in _alarms(cfn)}
    for widget in dashboard["widgets"]:
        assert widget["x"] + widget["width"] <= 24, widget


def test_dashboard_outputs(cfn: dict[str, Any]) -> None:
    name = cfn["Resources"]["OperationsDashboard"]["Properties"]["DashboardName"]["Fn::Sub"]
    assert "${AWS::Region}" in name  # dashboards are global to the account
    assert cfn["Outputs"]["DashboardName"]["Value"] == {"Ref": "OperationsDashboard"}
    url = cfn["Outputs"]["DashboardUrl"]["Value"]["Fn::Sub"]
    assert url.endswith("#dashboards:name=${OperationsDashboard}")
    assert "region=${AWS::Region}" in url


def test_request_metrics_service_is_the_api_functions(cfn: dict[str, Any]) -> None:
    env = _function(cfn)["Environment"]["Variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == SERVICE  # the alarms' `service` dimension


def test_team_metrics_are_the_operators_choice(cfn: dict[str, Any]) -> None:
    parameter = cfn["Parameters"]["MetricsByTeam"]
    assert parameter["Default"] == "false"
    assert parameter["AllowedValues"] == ["false", "true"]
    variables = cfn["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["GATEWAY_METRICS_BY_TEAM"] == {"Ref": "MetricsByTeam"}


def test_opentelemetry_export_is_off_unless_an_endpoint_is_given(cfn: dict[str, Any]) -> None:
    parameters = cfn["Parameters"]
    assert parameters["OtelEndpoint"]["Default"] == ""  # gateway/telemetry/otel.py: off
    assert parameters["OtelHeaders"]["NoEcho"] is True  # may carry a vendor's API key
    variables = cfn["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["GATEWAY_OTEL_ENDPOINT"] == {"Ref": "OtelEndpoint"}
    assert variables["GATEWAY_OTEL_HEADERS"] == {"Ref": "OtelHeaders"}
