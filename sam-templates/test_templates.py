"""Validate every SAM template in this directory, offline.

For each ``*.yaml`` here:

1. cfn-lint (all default rules, region us-east-1) must report nothing: no error, no warning.
2. aws-sam-translator must transform it into plain CloudFormation (the same library ``sam build``,
   ``sam deploy`` and the CloudFormation SAM transform use), with fake parameter values and a
   stub in place of IAM; the result must contain what that front door needs.

No AWS access and no built layer zip are needed: neither tool reads ContentUri/CodeUri paths.

    make test-templates
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # samtranslator asks boto3 for a region
logging.getLogger("samtranslator").setLevel(logging.ERROR)  # metrics / feature-toggle chatter

import cfnlint.api  # noqa: E402
from cfnlint.decode.decode import decode_str  # noqa: E402
from samtranslator.translator.transform import transform  # noqa: E402

HERE = Path(__file__).resolve().parent
TEMPLATES = sorted(HERE.glob("*.yaml"))

REGION = "us-east-1"
PSEUDO_PARAMETERS = {
    "AWS::Region": REGION,
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "lambda-wsgi-test",
    "AWS::StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/lambda-wsgi-test/1",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NotificationARNs": [],
}
# Values for parameters that have no Default (alb.yaml's network).
FAKE_PARAMETERS = {
    "VpcId": "vpc-0123456789abcdef0",
    "SubnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
}

EXEC_WRAPPER = "/opt/lambda-wsgi"
LAYER_ZIP = "../dist/lambda-wsgi-layer-x86_64.zip"
RUNTIMES = ["python3.11", "python3.12", "python3.13"]


class _NoIamManagedPolicyLoader:
    """Stands in for samtranslator's ManagedPolicyLoader, which would list policies through IAM."""

    def load(self) -> dict[str, str]:
        return {}


def _load(path: Path) -> dict[str, Any]:
    template, errors = decode_str(path.read_text())
    assert not errors, f"{path.name} does not parse: {errors}"
    assert isinstance(template, dict)
    return template


ARTIFACT_BUCKET = "sam-artifacts-123456789012"
_LOCAL_URI_PROPERTY = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}


def _packaged(sam: dict[str, Any]) -> dict[str, Any]:
    """What `sam package`/`sam deploy` does before the transform: each local CodeUri/ContentUri
    (after `sam build`) is uploaded and replaced by its S3 URI. The transform accepts only those."""
    for logical_id, resource in sam["Resources"].items():
        prop = _LOCAL_URI_PROPERTY.get(resource["Type"])
        if prop and isinstance(resource["Properties"].get(prop), str):
            assert not resource["Properties"][prop].startswith("s3://")
            resource["Properties"][prop] = f"s3://{ARTIFACT_BUCKET}/{logical_id}"
    return sam


def _translate(path: Path) -> dict[str, Any]:
    return transform(
        _packaged(_load(path)), {**PSEUDO_PARAMETERS, **FAKE_PARAMETERS}, _NoIamManagedPolicyLoader()
    )


def _of_type(cfn: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [r.get("Properties", {}) for r in cfn["Resources"].values() if r["Type"] == type_]


def _one(cfn: dict[str, Any], type_: str) -> dict[str, Any]:
    found = _of_type(cfn, type_)
    assert len(found) == 1, f"expected one {type_}, found {len(found)}"
    return found[0]


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def test_templates_exist() -> None:
    assert {p.name for p in TEMPLATES} == set(FRONT_DOOR_CHECKS)


@pytest.mark.parametrize("path", TEMPLATES, ids=_ids(TEMPLATES))
def test_cfn_lint_clean(path: Path) -> None:
    matches = cfnlint.api.lint(path.read_text(), regions=[REGION])
    assert not matches, f"{path.name}:\n" + "\n".join(
        f"  {m.rule.id} line {m.linenumber}: {m.message}" for m in matches
    )


@pytest.mark.parametrize("path", TEMPLATES, ids=_ids(TEMPLATES))
def test_sam_shape(path: Path) -> None:
    """What every template shares, checked on the SAM source."""
    sam = _load(path)
    assert sam["Transform"] == "AWS::Serverless-2016-10-31"
    params = sam["Parameters"]
    assert params["PythonRuntime"]["Default"] == "python3.12"
    assert params["PythonRuntime"]["AllowedValues"] == RUNTIMES
    assert params["Architecture"]["AllowedValues"] == ["x86_64"]
    assert params["WsgiErrorMode"]["AllowedValues"] == ["respond", "raise"]

    layers = {k: r for k, r in sam["Resources"].items() if r["Type"] == "AWS::Serverless::LayerVersion"}
    wsgi_layer = layers["LambdaWsgiLayer"]["Properties"]
    assert wsgi_layer["ContentUri"] == LAYER_ZIP
    assert wsgi_layer["CompatibleRuntimes"] == RUNTIMES
    assert wsgi_layer["CompatibleArchitectures"] == ["x86_64"]
    assert (HERE / layers["AppDepsLayer"]["Properties"]["ContentUri"] / "requirements.txt").is_file()

    fn = sam["Resources"]["AppFunction"]["Properties"]
    assert fn["Handler"] == "app.app"
    assert (HERE / fn["CodeUri"] / "app.py").is_file()
    assert fn["Runtime"] == {"Ref": "PythonRuntime"}
    assert fn["Architectures"] == [{"Ref": "Architecture"}]
    assert {"Ref": "LambdaWsgiLayer"} in fn["Layers"]
    env = fn["Environment"]["Variables"]
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == EXEC_WRAPPER
    assert env["WSGI_ERROR_MODE"] == {"Ref": "WsgiErrorMode"}
    assert set(env) >= {"WSGI_BASE_PATH", "WSGI_TEXT_MIME_TYPES", "WSGI_INVOKE_MODE"}
    assert "Url" in sam["Outputs"]


@pytest.mark.parametrize("path", TEMPLATES, ids=_ids(TEMPLATES))
def test_transforms(path: Path) -> None:
    """The SAM transform succeeds; the function, its layers and its wiring come out right."""
    cfn = _translate(path)
    assert "Transform" not in cfn
    assert not [r for r in cfn["Resources"].values() if r["Type"].startswith("AWS::Serverless::")]

    fn = _one(cfn, "AWS::Lambda::Function")
    assert fn["Handler"] == "app.app"
    assert fn["Runtime"] == {"Ref": "PythonRuntime"}
    assert fn["Environment"]["Variables"]["AWS_LAMBDA_EXEC_WRAPPER"] == EXEC_WRAPPER

    assert fn["Code"] == {"S3Bucket": ARTIFACT_BUCKET, "S3Key": "AppFunction"}
    layers = _of_type(cfn, "AWS::Lambda::LayerVersion")
    assert sorted(layer["Content"]["S3Key"] for layer in layers) == ["AppDepsLayer", "LambdaWsgiLayer"]
    wsgi_layer = next(layer for layer in layers if layer["Content"]["S3Key"] == "LambdaWsgiLayer")
    assert wsgi_layer["CompatibleRuntimes"] == RUNTIMES
    assert wsgi_layer["CompatibleArchitectures"] == ["x86_64"]
    # Layers are referenced by their (hash-suffixed) logical ids.
    layer_ids = {k for k, r in cfn["Resources"].items() if r["Type"] == "AWS::Lambda::LayerVersion"}
    assert {ref["Ref"] for ref in fn["Layers"]} == layer_ids


def _invoke_mode(path: Path) -> str:
    return "response_stream" if "streaming" in path.stem else "buffered"


@pytest.mark.parametrize("path", TEMPLATES, ids=_ids(TEMPLATES))
def test_invoke_mode(path: Path) -> None:
    fn = _one(_translate(path), "AWS::Lambda::Function")
    assert fn["Environment"]["Variables"]["WSGI_INVOKE_MODE"] == _invoke_mode(path)


# ---------------------------------------------------------------- front-door checks (transformed)


def check_http_api(cfn: dict[str, Any]) -> None:
    _one(cfn, "AWS::ApiGatewayV2::Api")
    stage = _one(cfn, "AWS::ApiGatewayV2::Stage")
    assert stage["StageName"] == "$default"
    body = _one(cfn, "AWS::ApiGatewayV2::Api")["Body"]
    assert list(body["paths"]) == ["$default"]  # one catch-all route
    route = body["paths"]["$default"]["x-amazon-apigateway-any-method"]
    assert route["isDefaultRoute"] is True
    assert route["x-amazon-apigateway-integration"]["payloadFormatVersion"] == "2.0"
    assert route["x-amazon-apigateway-integration"]["type"] == "aws_proxy"
    perm = _one(cfn, "AWS::Lambda::Permission")
    assert perm["Principal"] == "apigateway.amazonaws.com"


def check_rest_api(cfn: dict[str, Any]) -> None:
    api = _one(cfn, "AWS::ApiGateway::RestApi")
    assert api["BinaryMediaTypes"] == ["*~1*"]
    assert api["Body"]["x-amazon-apigateway-binary-media-types"] == ["*/*"]
    assert api["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    assert set(api["Body"]["paths"]) == {"/", "/{proxy+}"}
    for path_item in api["Body"]["paths"].values():
        integration = path_item["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"]
        assert integration["type"] == "aws_proxy"
    stages = _of_type(cfn, "AWS::ApiGateway::Stage")
    assert [s["StageName"] for s in stages] == [{"Ref": "Stage"}]  # no extra stage named "Stage"
    assert _one(cfn, "AWS::ApiGateway::Deployment")
    assert cfn["Parameters"]["Stage"]["Default"] == "prod"
    perms = _of_type(cfn, "AWS::Lambda::Permission")
    assert len(perms) == 2
    assert {p["Principal"] for p in perms} == {"apigateway.amazonaws.com"}


def check_alb(cfn: dict[str, Any]) -> None:
    tg = _one(cfn, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert tg["TargetType"] == "lambda"
    assert {"Key": "lambda.multi_value_headers.enabled", "Value": "true"} in tg["TargetGroupAttributes"]
    assert tg["Targets"] == [{"Id": {"Fn::GetAtt": ["AppFunction", "Arn"]}}]
    lb = _one(cfn, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert lb["Type"] == "application"
    assert lb["Subnets"] == {"Ref": "SubnetIds"}
    listeners = _of_type(cfn, "AWS::ElasticLoadBalancingV2::Listener")
    assert sorted(lst["Port"] for lst in listeners) == [80, 443]  # 443 only with CertificateArn
    for listener in listeners:
        assert listener["DefaultActions"] == [{"Type": "forward", "TargetGroupArn": {"Ref": "TargetGroup"}}]
    perm = _one(cfn, "AWS::Lambda::Permission")
    assert perm["Principal"] == "elasticloadbalancing.amazonaws.com"
    assert perm["Action"] == "lambda:InvokeFunction"
    # ELB checks the permission when the target is registered, so it must exist first.
    depends_on = cfn["Resources"]["TargetGroup"].get("DependsOn", [])
    assert "AppFunctionAlbPermission" in ([depends_on] if isinstance(depends_on, str) else depends_on)


def _check_function_url(cfn: dict[str, Any], invoke_mode: str) -> None:
    url = _one(cfn, "AWS::Lambda::Url")
    assert url["AuthType"] == "NONE"
    assert url["InvokeMode"] == invoke_mode
    # A public URL needs both permissions (lambda:InvokeFunction with InvokedViaFunctionUrl).
    perms = _of_type(cfn, "AWS::Lambda::Permission")
    assert sorted(p["Action"] for p in perms) == ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"]
    assert {p["Principal"] for p in perms} == {"*"}
    assert cfn["Outputs"]["Url"]["Value"] == {"Fn::GetAtt": ["AppFunctionUrl", "FunctionUrl"]}


def check_function_url(cfn: dict[str, Any]) -> None:
    _check_function_url(cfn, "BUFFERED")


def check_function_url_streaming(cfn: dict[str, Any]) -> None:
    _check_function_url(cfn, "RESPONSE_STREAM")


FRONT_DOOR_CHECKS = {
    "http-api.yaml": check_http_api,
    "rest-api.yaml": check_rest_api,
    "alb.yaml": check_alb,
    "function-url.yaml": check_function_url,
    "function-url-streaming.yaml": check_function_url_streaming,
}


@pytest.mark.parametrize("path", TEMPLATES, ids=_ids(TEMPLATES))
def test_front_door(path: Path) -> None:
    """Every template has front-door checks (a new template without any fails here)."""
    assert path.name in FRONT_DOOR_CHECKS, f"no front-door checks for {path.name}: add them to FRONT_DOOR_CHECKS"
    FRONT_DOOR_CHECKS[path.name](_translate(path))
