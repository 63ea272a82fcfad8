"""Validate every SAM template in this directory, offline.

For each ``*.yaml`` here:

1. cfn-lint (all default rules, region us-east-1) must report nothing: no error, no warning.
2. aws-sam-translator must transform it into plain CloudFormation (the same library ``sam build``,
   ``sam deploy`` and the CloudFormation SAM transform use), with fake parameter values and a
   stub in place of IAM; the result must contain what that front door needs.
3. That CloudFormation, once for each runtime the template allows, must give no cfn-lint error.
   cfn-lint 1.58 checks a SAM template against SAM's own schemas without transforming it, so
   its rules for AWS::Lambda::Function (E2530: which runtimes SnapStart supports) see only
   the transformed template.

No AWS access and no built layer zip are needed: neither tool reads ContentUri/CodeUri paths.

    make test-templates
"""

from __future__ import annotations

import logging
import os
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # samtranslator asks boto3 for a region
logging.getLogger("samtranslator").setLevel(logging.ERROR)  # metrics / feature-toggle chatter

import copy  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402

import cfnlint.api  # noqa: E402
from cfnlint.decode.decode import decode_str  # noqa: E402
from samtranslator.translator.transform import transform  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
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
# Values for parameters that have no Default (alb.yaml's and the capacity provider's network).
FAKE_PARAMETERS = {
    "VpcId": "vpc-0123456789abcdef0",
    "SubnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
    "SecurityGroupIds": ["sg-0123456789abcdef0"],
}

EXEC_WRAPPER = "/opt/lambda-wsgi"
# Lambda's architectures (x86_64, arm64), each with the layer zip `make layer` writes for it.
LAYER_ZIPS = {"x86_64": "../dist/lambda-wsgi-layer-x86_64.zip", "arm64": "../dist/lambda-wsgi-layer-arm64.zip"}
ARCHITECTURES = list(LAYER_ZIPS)
# The layer's bootstraps: every managed Python runtime Lambda has from 3.10 on (Lambda's runtime
# table: python3.10 and 3.11 on Amazon Linux 2, python3.12, 3.13 and 3.14 on Amazon Linux 2023).
RUNTIMES = ["python3.10", "python3.11", "python3.12", "python3.13", "python3.14"]

SNAPSTART = "http-api-snapstart.yaml"
MANAGED_INSTANCES = "http-api-managed-instances.yaml"
# The runtimes a template may offer: every one the layer serves, except where the platform
# feature needs a newer Python. SnapStart for Python: "Python 3.12 and later" (Lambda's SnapStart
# docs), python3.14 included (cfn-lint's E2530 refuses only python3.10 and 3.11 and older, see
# test_transformed_lint_has_no_error; aws-cdk-lib 2.275's Runtime.PYTHON_3_14.supports_snap_start
# is true as well). Managed Instances: "Python 3.13 and later" (Lambda's
# "Lambda Managed Instances runtimes" page).
ALLOWED_RUNTIMES = {
    SNAPSTART: ["python3.12", "python3.13", "python3.14"],
    MANAGED_INSTANCES: ["python3.13", "python3.14"],
}
DEFAULT_RUNTIME = {MANAGED_INSTANCES: "python3.13"}


def _runtimes(path: Path) -> list[str]:
    return ALLOWED_RUNTIMES.get(path.name, RUNTIMES)


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


def _s3_key(logical_id: str, local_path: str) -> str:
    """The S3 key our stand-in for `sam package` gives a resource's upload: its logical id and the
    name of the local file or directory (so the transformed template says which zip it deploys)."""
    return f"{logical_id}/{PurePosixPath(local_path).name}"


def _packaged(sam: dict[str, Any]) -> dict[str, Any]:
    """What `sam package`/`sam deploy` does before the transform: each local CodeUri/ContentUri
    (after `sam build`) is uploaded and replaced by its S3 URI. The transform accepts only those."""
    for logical_id, resource in sam["Resources"].items():
        prop = _LOCAL_URI_PROPERTY.get(resource["Type"])
        if prop and isinstance(resource["Properties"].get(prop), str):
            local_path = resource["Properties"][prop]
            assert not local_path.startswith("s3://")
            resource["Properties"][prop] = f"s3://{ARTIFACT_BUCKET}/{_s3_key(logical_id, local_path)}"
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
    assert params["PythonRuntime"]["Default"] == DEFAULT_RUNTIME.get(path.name, "python3.12")
    assert params["PythonRuntime"]["AllowedValues"] == _runtimes(path)
    assert params["Architecture"]["AllowedValues"] == ARCHITECTURES
    assert params["Architecture"]["Default"] == "x86_64"
    assert params["WsgiErrorMode"]["AllowedValues"] == ["respond", "raise"]

    layers = {k: r for k, r in sam["Resources"].items() if r["Type"] == "AWS::Serverless::LayerVersion"}
    # One lambda-wsgi layer per architecture, each with the zip `make layer` writes for it.
    wsgi_layers = {k: r for k, r in layers.items() if r["Properties"]["ContentUri"] in LAYER_ZIPS.values()}
    assert sorted(r["Properties"]["ContentUri"] for r in wsgi_layers.values()) == sorted(LAYER_ZIPS.values())
    for layer in wsgi_layers.values():
        props = layer["Properties"]
        assert props["CompatibleRuntimes"] == RUNTIMES
        assert props["CompatibleArchitectures"] == [a for a, z in LAYER_ZIPS.items() if z == props["ContentUri"]]
        assert "Condition" in layer  # only one of them is created, see test_architecture_picks_its_layers
    # The example's dependencies, built by `sam build` once per architecture.
    deps_layers = [r for k, r in layers.items() if k not in wsgi_layers]
    assert sorted(r["Metadata"]["BuildArchitecture"] for r in deps_layers) == sorted(ARCHITECTURES)
    for layer in deps_layers:
        props = layer["Properties"]
        assert (HERE / props["ContentUri"] / "requirements.txt").is_file()
        assert props["CompatibleArchitectures"] == [layer["Metadata"]["BuildArchitecture"]]
        assert props["CompatibleRuntimes"] == RUNTIMES
        assert layer["Metadata"]["BuildMethod"] in _runtimes(path)
        assert "Condition" in layer

    fn = sam["Resources"]["AppFunction"]["Properties"]
    assert fn["Handler"] == "app.app"
    assert (HERE / fn["CodeUri"] / "app.py").is_file()
    assert fn["Runtime"] == {"Ref": "PythonRuntime"}
    assert fn["Architectures"] == [{"Ref": "Architecture"}]
    assert len(fn["Layers"]) == 2  # lambda-wsgi and the app's dependencies, each for the architecture
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

    assert fn["Code"] == {"S3Bucket": ARTIFACT_BUCKET, "S3Key": "AppFunction/flask"}
    layers = _of_type(cfn, "AWS::Lambda::LayerVersion")
    assert sorted(layer["Content"]["S3Key"] for layer in layers) == [
        "AppDepsLayerArm64/flask-deps",
        "AppDepsLayerX86/flask-deps",
        "LambdaWsgiLayerArm64/lambda-wsgi-layer-arm64.zip",
        "LambdaWsgiLayerX86/lambda-wsgi-layer-x86_64.zip",
    ]
    for layer in layers:
        assert layer["CompatibleRuntimes"] == RUNTIMES
    # Layers are referenced by their (hash-suffixed) logical ids, in an Fn::If on the architecture
    # (which one is created and used: test_architecture_picks_its_layers).
    layer_ids = {k for k, r in cfn["Resources"].items() if r["Type"] == "AWS::Lambda::LayerVersion"}
    referenced = set()
    for choice in fn["Layers"]:
        condition, if_arm64, if_x86 = choice["Fn::If"]
        assert condition == "IsArm64"
        referenced |= {if_arm64["Ref"], if_x86["Ref"]}
    assert referenced == layer_ids


def _invoke_mode(path: Path) -> str:
    return "response_stream" if "streaming" in path.stem else "buffered"


@pytest.mark.parametrize("path", TEMPLATES, ids=_ids(TEMPLATES))
def test_invoke_mode(path: Path) -> None:
    fn = _one(_translate(path), "AWS::Lambda::Function")
    assert fn["Environment"]["Variables"]["WSGI_INVOKE_MODE"] == _invoke_mode(path)


# ---------------------------------------------------------------- architectures


def _parameter_values(cfn: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Every parameter's value for a deploy with `overrides`: the default, or the fake value."""
    values = {name: p["Default"] for name, p in cfn["Parameters"].items() if "Default" in p}
    return {**values, **FAKE_PARAMETERS, **PSEUDO_PARAMETERS, **overrides}


def _conditions(cfn: dict[str, Any], values: dict[str, Any]) -> dict[str, bool]:
    """What CloudFormation makes of each condition with these parameter values (Fn::Equals, Not,
    And, Or, Condition and Ref, the functions a condition may use)."""
    definitions = cfn.get("Conditions", {})

    def value(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        ((function, argument),) = node.items()
        if function == "Ref":
            return values[argument]
        if function == "Condition":
            return value(definitions[argument])
        if function == "Fn::Equals":
            left, right = argument
            return value(left) == value(right)
        if function == "Fn::Not":
            return not value(argument[0])
        if function == "Fn::And":
            return all(value(a) for a in argument)
        if function == "Fn::Or":
            return any(value(a) for a in argument)
        raise AssertionError(f"{function} in a condition")

    return {name: bool(value(definition)) for name, definition in definitions.items()}


_NO_VALUE = object()


def _deployed(cfn: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """The template as CloudFormation creates it with these parameter values: resources whose
    Condition is false left out, each Fn::If replaced by its chosen branch (AWS::NoValue: the
    property or list item dropped), and each Ref to a parameter replaced by its value."""
    values = _parameter_values(cfn, overrides)
    conditions = _conditions(cfn, values)

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            items = [resolve(item) for item in node]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if list(node) == ["Fn::If"]:
            condition, if_true, if_false = node["Fn::If"]
            return resolve(if_true if conditions[condition] else if_false)
        if list(node) == ["Ref"] and node["Ref"] == "AWS::NoValue":
            return _NO_VALUE
        if list(node) == ["Ref"] and node["Ref"] in cfn["Parameters"]:
            return values[node["Ref"]]
        resolved = {key: resolve(item) for key, item in node.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    created = {k: r for k, r in cfn["Resources"].items() if conditions.get(r.get("Condition"), True)}
    outputs = {k: o for k, o in cfn.get("Outputs", {}).items() if conditions.get(o.get("Condition"), True)}
    return {"Resources": resolve(created), "Outputs": resolve(outputs)}


def _dangling_references(deployed: dict[str, Any]) -> list[str]:
    """Every Ref, Fn::GetAtt or DependsOn in the deployed template to a resource it does not
    create (CloudFormation refuses such a template), except pseudo parameters."""
    resources = deployed["Resources"]
    found = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, where)
        elif isinstance(node, dict):
            for key, item in node.items():
                if key == "Ref" and isinstance(item, str) and item not in PSEUDO_PARAMETERS and item not in resources:
                    found.append(f"{where}: Ref {item}")
                elif key == "Fn::GetAtt" and item[0] not in resources:
                    found.append(f"{where}: Fn::GetAtt {item[0]}")
                else:
                    walk(item, where)

    for logical_id, resource in resources.items():
        walk(resource.get("Properties", {}), logical_id)
        depends_on = resource.get("DependsOn", [])
        for target in [depends_on] if isinstance(depends_on, str) else depends_on:
            if target not in resources:
                found.append(f"{logical_id}: DependsOn {target}")
    walk(deployed["Outputs"], "Outputs")
    return found


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("path", TEMPLATES, ids=_ids(TEMPLATES))
def test_architecture_picks_its_layers(path: Path, arch: str) -> None:
    """With Architecture=arch, the stack creates the lambda-wsgi layer from that architecture's
    zip and not the other's, the example's dependencies built for that architecture, a function
    (and for Managed Instances, instances) of that architecture using exactly those two layers,
    and nothing that refers to a resource left out by the conditions."""
    sam = _load(path)
    deployed = _deployed(_translate(path), {"Architecture": arch})
    assert not _dangling_references(deployed)

    layers = {k: r["Properties"] for k, r in deployed["Resources"].items() if r["Type"] == "AWS::Lambda::LayerVersion"}
    keys = sorted(layer["Content"]["S3Key"] for layer in layers.values())
    zips = [PurePosixPath(k).name for k in keys if k.endswith(".zip")]
    assert zips == [PurePosixPath(LAYER_ZIPS[arch]).name]
    other_zips = [PurePosixPath(z).name for a, z in LAYER_ZIPS.items() if a != arch]
    assert not [z for z in other_zips if z in json.dumps(deployed)]
    for layer in layers.values():
        assert layer["CompatibleArchitectures"] == [arch]
    # The dependency layer that is created is the one `sam build` builds for this architecture.
    deps = [k.split("/")[0] for k in keys if not k.endswith(".zip")]
    assert [sam["Resources"][d]["Metadata"]["BuildArchitecture"] for d in deps] == [arch]

    fn = _one(deployed, "AWS::Lambda::Function")
    assert fn["Architectures"] == [arch]
    assert sorted(ref["Ref"] for ref in fn["Layers"]) == sorted(layers)
    assert deployed["Outputs"]["LambdaWsgiLayerArn"]["Value"] in [
        {"Ref": k} for k, layer in layers.items() if layer["Content"]["S3Key"].endswith(".zip")
    ]
    for provider in _of_type(deployed, "AWS::Lambda::CapacityProvider"):
        assert provider["InstanceRequirements"]["Architectures"] == [arch]


def test_deployed_template_helpers_see_a_wrong_choice() -> None:
    """The control for test_architecture_picks_its_layers: with the branches of the function's
    Fn::If swapped, the arm64 stack would use the x86_64 layers, which it does not create."""
    cfn = _translate(HERE / "http-api.yaml")
    fn = next(r for r in cfn["Resources"].values() if r["Type"] == "AWS::Lambda::Function")
    for choice in fn["Properties"]["Layers"]:
        condition, if_true, if_false = choice["Fn::If"]
        choice["Fn::If"] = [condition, if_false, if_true]
    deployed = _deployed(cfn, {"Architecture": "arm64"})
    dangling = _dangling_references(deployed)
    assert len(dangling) == 2 and all(d.startswith("AppFunction: Ref ") and "X86" in d for d in dangling), dangling


def _with_runtime(cfn: dict[str, Any], runtime: str) -> dict[str, Any]:
    """The transformed template with the PythonRuntime parameter's value in place of its Ref."""
    cfn = copy.deepcopy(cfn)
    functions = [r for r in cfn["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert functions
    for function in functions:
        assert function["Properties"]["Runtime"] == {"Ref": "PythonRuntime"}
        function["Properties"]["Runtime"] = runtime
    return cfn


def _lint_errors(cfn: dict[str, Any]) -> list[str]:
    """cfn-lint's errors (not its warnings: the transform's own output has some, such as an
    Fn::Sub without variables) for a transformed template."""
    matches = cfnlint.api.lint(json.dumps(cfn), regions=[REGION])
    return [f"{m.rule.id} {'/'.join(map(str, m.path))}: {m.message}" for m in matches if m.rule.id.startswith("E")]


@pytest.mark.parametrize("path", TEMPLATES, ids=_ids(TEMPLATES))
def test_transformed_lint_has_no_error(path: Path) -> None:
    """The CloudFormation that is deployed, with each runtime the template offers (its
    PythonRuntime parameter's AllowedValues, whatever test_sam_shape expects them to be), passes
    cfn-lint's rules for the generated resources (AWS::Lambda::Function, Version, Alias,
    CapacityProvider, the API)."""
    cfn = _translate(path)
    offered = _load(path)["Parameters"]["PythonRuntime"]["AllowedValues"]
    for runtime in offered:
        errors = _lint_errors(_with_runtime(cfn, runtime))
        assert not errors, f"{path.name} with {runtime}:\n  " + "\n  ".join(errors)


def test_transformed_lint_rejects_snapstart_on_python311() -> None:
    """The control for the check above: the same lint refuses SnapStart on python3.11 (E2530),
    so offering python3.11 in the SnapStart template would fail it."""
    errors = _lint_errors(_with_runtime(_translate(HERE / SNAPSTART), "python3.11"))
    assert [e for e in errors if e.startswith("E2530 ")] == [
        "E2530 Resources/AppFunction/Properties/SnapStart/ApplyOn: "
        "'python3.11' is not supported for 'SnapStart' enabled functions"
    ]


# ---------------------------------------------------------------- SnapStart and Managed Instances


@pytest.mark.parametrize("path", TEMPLATES, ids=_ids(TEMPLATES))
def test_platform_features_only_where_asked(path: Path) -> None:
    """SnapStart only in the SnapStart template, a capacity provider only in the Managed
    Instances one, a published alias in both and nowhere else."""
    cfn = _translate(path)
    fn = _one(cfn, "AWS::Lambda::Function")
    assert ("SnapStart" in fn) == (path.name == SNAPSTART)
    assert ("CapacityProviderConfig" in fn) == (path.name == MANAGED_INSTANCES)
    assert bool(_of_type(cfn, "AWS::Lambda::CapacityProvider")) == (path.name == MANAGED_INSTANCES)
    assert bool(_of_type(cfn, "AWS::Lambda::Alias")) == (path.name in (SNAPSTART, MANAGED_INSTANCES))


def _check_invokes_alias(cfn: dict[str, Any]) -> None:
    """AutoPublishAlias: a version of the function, the alias `live` on that version, and the API
    integration and its permission on the alias (SnapStart and Managed Instances serve published
    versions only; $LATEST would run without either)."""
    versions = [k for k, r in cfn["Resources"].items() if r["Type"] == "AWS::Lambda::Version"]
    assert len(versions) == 1
    assert cfn["Resources"][versions[0]]["Properties"]["FunctionName"] == {"Ref": "AppFunction"}
    aliases = {k: r["Properties"] for k, r in cfn["Resources"].items() if r["Type"] == "AWS::Lambda::Alias"}
    assert list(aliases) == ["AppFunctionAliaslive"]
    alias = aliases["AppFunctionAliaslive"]
    assert alias["Name"] == "live"
    assert alias["FunctionName"] == {"Ref": "AppFunction"}
    assert alias["FunctionVersion"] == {"Fn::GetAtt": [versions[0], "Version"]}
    body = _one(cfn, "AWS::ApiGatewayV2::Api")["Body"]
    uri = body["paths"]["$default"]["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"]["uri"]
    assert uri == {
        "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
        "${AppFunctionAliaslive}/invocations"
    }
    assert _one(cfn, "AWS::Lambda::Permission")["FunctionName"] == {"Ref": "AppFunctionAliaslive"}


def test_snapstart() -> None:
    sam_fn = _load(HERE / SNAPSTART)["Resources"]["AppFunction"]["Properties"]
    assert sam_fn["AutoPublishAlias"] == "live"
    assert sam_fn["SnapStart"] == {"ApplyOn": "PublishedVersions"}

    cfn = _translate(HERE / SNAPSTART)
    fn = _one(cfn, "AWS::Lambda::Function")
    assert fn["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert fn["Environment"]["Variables"]["AWS_LAMBDA_EXEC_WRAPPER"] == EXEC_WRAPPER
    # What SnapStart cannot be combined with (Lambda's SnapStart limitations).
    assert not {"ProvisionedConcurrencyConfig", "FileSystemConfigs"} & set(fn)
    assert fn.get("EphemeralStorage", {"Size": 512})["Size"] <= 512
    assert cfn["Outputs"]["FunctionAlias"]["Value"] == {"Ref": "AppFunctionAliaslive"}


def _bootstrap_max_concurrency() -> int:
    """The largest AWS_LAMBDA_MAX_CONCURRENCY the bootstrap accepts (runtime/src/config.rs)."""
    found = re.search(r"const MAX_CONCURRENCY_LIMIT: usize = (\d+);", (ROOT / "runtime/src/config.rs").read_text())
    assert found, "MAX_CONCURRENCY_LIMIT not found in runtime/src/config.rs"
    return int(found.group(1))


def test_managed_instances() -> None:
    sam = _load(HERE / MANAGED_INSTANCES)
    max_concurrency = sam["Parameters"]["MaxConcurrency"]
    assert max_concurrency["Type"] == "Number"
    assert max_concurrency["MinValue"] == 1
    # No higher than the bootstrap accepts, nor than Lambda's PerExecutionEnvironmentMaxConcurrency
    # maximum (1600, AWS::Lambda::Function LambdaManagedInstancesCapacityProviderConfig).
    assert max_concurrency["MaxValue"] == min(_bootstrap_max_concurrency(), 1600)
    assert 1 <= max_concurrency["Default"] <= max_concurrency["MaxValue"]
    assert sam["Resources"]["AppFunction"]["Properties"]["AutoPublishAlias"] == "live"

    cfn = _translate(HERE / MANAGED_INSTANCES)
    provider_ids = [k for k, r in cfn["Resources"].items() if r["Type"] == "AWS::Lambda::CapacityProvider"]
    assert provider_ids == ["AppCapacityProvider"]
    provider = cfn["Resources"]["AppCapacityProvider"]["Properties"]
    assert provider["VpcConfig"] == {"SubnetIds": {"Ref": "SubnetIds"}, "SecurityGroupIds": {"Ref": "SecurityGroupIds"}}
    # The instances' architecture is the function's.
    assert provider["InstanceRequirements"] == {"Architectures": [{"Ref": "Architecture"}]}
    # The operator role SAM generates lets Lambda manage the EC2 instances.
    role_arn = provider["PermissionsConfig"]["CapacityProviderOperatorRoleArn"]
    assert role_arn == {"Fn::GetAtt": ["AppCapacityProviderOperatorRole", "Arn"]}
    role = cfn["Resources"]["AppCapacityProviderOperatorRole"]
    assert role["Type"] == "AWS::IAM::Role"
    assert role["Properties"]["ManagedPolicyArns"] == [
        f"arn:{PSEUDO_PARAMETERS['AWS::Partition']}:iam::aws:policy/AWSLambdaManagedEC2ResourceOperator"
    ]

    fn = _one(cfn, "AWS::Lambda::Function")
    config = fn["CapacityProviderConfig"]["LambdaManagedInstancesCapacityProviderConfig"]
    assert config == {
        "CapacityProviderArn": {"Fn::GetAtt": ["AppCapacityProvider", "Arn"]},
        "PerExecutionEnvironmentMaxConcurrency": {"Ref": "MaxConcurrency"},
        "ExecutionEnvironmentMemoryGiBPerVCpu": 2,
    }
    # Memory per vCPU is 2, 4 or 8 GiB; the function's memory is whole vCPUs' worth of it.
    assert fn["MemorySize"] % (config["ExecutionEnvironmentMemoryGiBPerVCpu"] * 1024) == 0
    assert fn["Environment"]["Variables"]["AWS_LAMBDA_EXEC_WRAPPER"] == EXEC_WRAPPER
    assert "VpcConfig" not in fn  # the capacity provider places it; SAM refuses both


def test_managed_instances_lint_ignore_hides_only_the_capacity_provider_arn() -> None:
    """The template ignores cfn-lint's E1010 on AppFunction, because cfn-lint 1.58's schema of
    AWS::Serverless::CapacityProvider has no attributes, so it rejects `!GetAtt X.Arn`, the form
    SAM's docs use and the translator resolves. Without the ignore, that is the only finding;
    when a newer cfn-lint knows the attribute, this fails and the ignore can go."""
    sam = _load(HERE / MANAGED_INSTANCES)
    metadata = sam["Resources"]["AppFunction"].pop("Metadata")
    assert metadata == {"cfn-lint": {"config": {"ignore_checks": ["E1010"]}}}
    matches = cfnlint.api.lint(json.dumps(sam), regions=[REGION])
    assert [(m.rule.id, m.path, m.message) for m in matches] == [
        (
            "E1010",
            ["Resources", "AppFunction", "Properties", "CapacityProviderConfig", "Arn", "Fn::GetAtt", 1],
            f"'Arn' is not one of [] in [{REGION!r}]",
        )
    ]


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


def check_http_api_alias(cfn: dict[str, Any]) -> None:
    check_http_api(cfn)
    _check_invokes_alias(cfn)


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
    SNAPSTART: check_http_api_alias,
    MANAGED_INSTANCES: check_http_api_alias,
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
