"""Synthesize the CDK app offline and check what it would deploy.

The stack is synthesized in this process (aws-cdk-lib runs on jsii, which starts Node.js) with
cdk.json's context plus the values under test, and a small dummy layer zip made here, so neither
`make layer` nor AWS is needed. The template is checked with aws_cdk.assertions.Template and
cfn-lint (the same release as sam-templates/ use). One test runs app.py as the `cdk` CLI would
(CDK_OUTDIR, CDK_CONTEXT_JSON); one runs the local (pip) bundling of the app against wheels made
here, with no index.

    make test-cdk
"""

from __future__ import annotations

import ast
import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import cfnlint.api
import pytest
from aws_cdk.assertions import Match, Template

from lambda_wsgi_stack import (
    REPO_ROOT,
    LambdaWsgiStack,
    PipLocalBundling,
    SettingsError,
    StackSettings,
    default_layer_zip,
)
from lambda_wsgi_stack import EXTENSION, PIP_EXEC_WRAPPER

HERE = Path(__file__).resolve().parent
CDK_JSON = json.loads((HERE / "cdk.json").read_text())
# Layers are unpacked into /opt (AWS Lambda docs, "Lambda layers"); layer/build.py puts the
# wrapper at the zip's root as lambda-wsgi.
EXEC_WRAPPER = "/opt/lambda-wsgi"
PYTHONS = ["3.10", "3.11", "3.12", "3.13", "3.14"]
# Skips bundling (pip) where a test does not look at the app's package: synthesis stays offline.
NO_BUNDLING = {"aws:cdk:bundling-stacks": []}


def _elf_head(arch: str) -> bytes:
    """The first 20 bytes of a 64-bit little-endian ELF shared object for the architecture."""
    machine = {"x86_64": 62, "arm64": 183}[arch]  # EM_X86_64, EM_AARCH64 (System V ABI)
    return b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8) + struct.pack("<HH", 3, machine)


# What `uname -m` says on each Lambda architecture (the layer's wrapper is told its own).
UNAME_MACHINES = {"x86_64": "x86_64", "arm64": "aarch64"}


def _layer(path: Path, arch: str, wrapper: bool = True, machine: str | None = None,
           extension_arch: str | None = None) -> Path:
    """A stand-in for make layer's zip: the wrapper, told its CPU (`machine`, by default the
    architecture's), and the package's extension (an ELF head for `extension_arch`) under python/."""
    with zipfile.ZipFile(path, "w") as archive:
        if wrapper:
            archive.writestr("lambda-wsgi", f"#!/bin/sh\nlayer_machine={machine or UNAME_MACHINES[arch]}  # stand-in\n")
        archive.writestr("python/lambda_wsgi/__init__.py", "")
        archive.writestr(f"python/{EXTENSION}", _elf_head(extension_arch or arch))
    return path


def _bootstrap_layer(path: Path) -> Path:
    """A layer as `make layer` wrote it before the pip package: one bootstrap per Python."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("lambda-wsgi", "#!/bin/sh\n# a stand-in for the exec wrapper\n")
        for python in PYTHONS:
            archive.writestr(f"lambda-wsgi-bin/bootstrap-py{python}-x86_64", _elf_head("x86_64"))
    return path


@pytest.fixture(scope="session")
def layer_zips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("layer")
    return {arch: _layer(directory / f"lambda-wsgi-layer-{arch}.zip", arch) for arch in ("x86_64", "arm64")}


@pytest.fixture(scope="session")
def layer_zip(layer_zips: dict[str, Path]) -> Path:
    return layer_zips["x86_64"]


def _package_wheel(directory: Path, arch: str) -> Path:
    """A stand-in for `make wheel`'s: lambda_wsgi with its exec wrapper (executable, as the real
    wheel records it) and an ELF head as the extension, tagged abi3 for the architecture."""
    cpu = UNAME_MACHINES[arch]
    tag = f"cp310-abi3-manylinux2014_{cpu}"
    path = directory / f"lambda_wsgi_runtime-0.1.0-{tag}.whl"
    files = {"lambda_wsgi/__init__.py": (b"", 0o644), "lambda_wsgi/exec-wrapper": (b"#!/bin/sh\n", 0o755),
             EXTENSION: (_elf_head(arch), 0o755),
             "lambda_wsgi_runtime-0.1.0.dist-info/METADATA": (b"Metadata-Version: 2.1\nName: lambda-wsgi-runtime\nVersion: 0.1.0\n", 0o644),
             "lambda_wsgi_runtime-0.1.0.dist-info/WHEEL":
                 (f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\nTag: {tag}\n".encode(), 0o644)}
    files["lambda_wsgi_runtime-0.1.0.dist-info/RECORD"] = ("".join(f"{name},,\n" for name in files).encode()
                                                   + b"lambda_wsgi_runtime-0.1.0.dist-info/RECORD,,\n", 0o644)
    with zipfile.ZipFile(path, "w") as wheel:
        for name, (data, mode) in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100000 | mode) << 16
            wheel.writestr(info, data)
    return path


@pytest.fixture(scope="session")
def wheel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("wheels")
    for arch in UNAME_MACHINES:
        _package_wheel(directory, arch)
    return directory


class Synth:
    """One synthesized stack: its template (as JSON and as an assertions.Template) and outdir."""

    def __init__(self, outdir: Path, context: dict[str, Any]) -> None:
        app = cdk.App(context={**CDK_JSON["context"], **context}, outdir=str(outdir))
        LambdaWsgiStack(app, "LambdaWsgiTest", settings=StackSettings.from_context(app.node))
        self.outdir = outdir
        self.json: dict[str, Any] = app.synth().get_stack_by_name("LambdaWsgiTest").template
        self.template = Template.from_json(self.json)

    def resources(self, kind: str, props: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.template.find_resources(kind, {"Properties": props} if props else None)

    def one(self, kind: str, props: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        found = self.resources(kind, props)
        assert len(found) == 1, f"expected one {kind} with {props}, found {sorted(found)}"
        return next(iter(found.items()))

    def function(self, invoke_mode: str) -> tuple[str, dict[str, Any]]:
        return self.one("AWS::Lambda::Function", {"Environment": {"Variables": {"WSGI_INVOKE_MODE": invoke_mode}}})


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory, layer_zips: dict[str, Path], wheel_dir: Path):
    """synth(python=..., arch=..., snapstart=...): synthesized once per set of values."""
    cache: dict[str, Synth] = {}

    def make(**context: Any) -> Synth:
        key = json.dumps(context, sort_keys=True)
        if key not in cache:
            outdir = tmp_path_factory.mktemp("cdk.out")
            layer_zip = layer_zips[context.get("arch", CDK_JSON["context"]["arch"])]
            cache[key] = Synth(outdir, {"layer_zip": str(layer_zip), "wheel_dir": str(wheel_dir), **NO_BUNDLING,
                                        **context})
        return cache[key]

    return make


# --- the functions -----------------------------------------------------------------------------

@pytest.mark.parametrize(("invoke_mode", "timeout"), [("buffered", 29), ("response_stream", 60)])
def test_functions_run_the_app_through_the_layer(synth, invoke_mode: str, timeout: int) -> None:
    s = synth()
    layer_id, _ = s.one("AWS::Lambda::LayerVersion")
    _, fn = s.function(invoke_mode)
    props = fn["Properties"]
    assert props["Runtime"] == "python3.12"  # cdk.json's default
    assert props["Handler"] == "app.app"
    assert props["Architectures"] == ["x86_64"]
    assert props["Layers"] == [{"Ref": layer_id}]
    assert props["Environment"]["Variables"] == {"AWS_LAMBDA_EXEC_WRAPPER": EXEC_WRAPPER, "WSGI_INVOKE_MODE": invoke_mode}
    assert props["Timeout"] == timeout
    assert "SnapStart" not in props
    s.template.resource_count_is("AWS::Lambda::Function", 2)


def test_both_functions_share_one_code_asset(synth) -> None:
    s = synth()
    codes = [fn["Properties"]["Code"] for fn in s.resources("AWS::Lambda::Function").values()]
    assert len(codes) == 2 and codes[0] == codes[1]


def test_layer_is_the_given_zip(synth, layer_zip: Path) -> None:  # the x86_64 one
    s = synth()
    _, layer = s.one("AWS::Lambda::LayerVersion")
    props = layer["Properties"]
    assert props["CompatibleArchitectures"] == ["x86_64"]
    assert props["CompatibleRuntimes"] == [f"python{v}" for v in PYTHONS]
    asset_hash = props["Content"]["S3Key"].removesuffix(".zip")
    # The zip is uploaded as it is (a file asset), not unpacked and zipped again.
    assets = json.loads((s.outdir / "LambdaWsgiTest.assets.json").read_text())["files"]
    assert assets[asset_hash]["source"]["packaging"] == "file"
    assert (s.outdir / assets[asset_hash]["source"]["path"]).read_bytes() == layer_zip.read_bytes()


@pytest.mark.parametrize("python", PYTHONS)
def test_python_version(synth, python: str) -> None:
    s = synth(python=python)
    for fn in s.resources("AWS::Lambda::Function").values():
        assert fn["Properties"]["Runtime"] == f"python{python}"


def test_arm64(synth) -> None:
    s = synth(arch="arm64")
    for fn in s.resources("AWS::Lambda::Function").values():
        assert fn["Properties"]["Architectures"] == ["arm64"]
    _, layer = s.one("AWS::Lambda::LayerVersion")
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_the_pip_route_has_no_layer_and_points_at_the_packages_own_wrapper(synth, arch: str) -> None:
    s = synth(route="pip", arch=arch)
    s.template.resource_count_is("AWS::Lambda::LayerVersion", 0)
    for invoke_mode in ("buffered", "response_stream"):
        _, fn = s.function(invoke_mode)
        props = fn["Properties"]
        assert "Layers" not in props or props["Layers"] == []
        assert props["Handler"] == "app.app" and props["Architectures"] == [arch]
        assert props["Environment"]["Variables"] == {"AWS_LAMBDA_EXEC_WRAPPER": PIP_EXEC_WRAPPER,
                                                     "WSGI_INVOKE_MODE": invoke_mode}


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"route": "zip"}, r"context route='zip': expected one of layer, pip"),
        ({"route": "pip", "wheel_dir": "/nonexistent"},
         r"context wheel_dir='/nonexistent': no lambda-wsgi wheel for x86_64 there .*run `make wheel`"),
    ],
)
def test_bad_pip_route_context_is_rejected(layer_zip: Path, context: dict[str, Any], message: str) -> None:
    app = cdk.App(context={**CDK_JSON["context"], "layer_zip": str(layer_zip), **context})
    with pytest.raises(SettingsError, match=message):
        StackSettings.from_context(app.node)


def test_default_layer_zip_is_make_layers_per_architecture() -> None:
    assert default_layer_zip("x86_64") == REPO_ROOT / "dist" / "lambda-wsgi-layer-x86_64.zip"
    assert default_layer_zip("arm64") == REPO_ROOT / "dist" / "lambda-wsgi-layer-arm64.zip"


# --- the front doors ---------------------------------------------------------------------------

def test_http_api_default_route_sends_everything_to_the_buffered_function(synth) -> None:
    s = synth()
    buffered_id, _ = s.function("buffered")
    api_id, _ = s.one("AWS::ApiGatewayV2::Api", {"ProtocolType": "HTTP"})
    integration_id, _ = s.one(
        "AWS::ApiGatewayV2::Integration",
        {
            "ApiId": {"Ref": api_id},
            "IntegrationType": "AWS_PROXY",
            "IntegrationUri": {"Fn::GetAtt": [buffered_id, "Arn"]},
            "PayloadFormatVersion": "2.0",
        },
    )
    # $default catches every method and path that no other route matches; there is no other.
    s.template.resource_count_is("AWS::ApiGatewayV2::Route", 1)
    s.one(
        "AWS::ApiGatewayV2::Route",
        {"ApiId": {"Ref": api_id}, "RouteKey": "$default",
         "Target": {"Fn::Join": ["", ["integrations/", {"Ref": integration_id}]]}},
    )
    s.one("AWS::ApiGatewayV2::Stage", {"ApiId": {"Ref": api_id}, "StageName": "$default", "AutoDeploy": True})
    s.one(
        "AWS::Lambda::Permission",
        {"Action": "lambda:InvokeFunction", "Principal": "apigateway.amazonaws.com",
         "FunctionName": {"Fn::GetAtt": [buffered_id, "Arn"]}},
    )
    assert s.json["Outputs"]["HttpApiUrl"]["Value"]["Fn::Join"][1][1] == {"Ref": api_id}


def test_function_url_streams_from_the_streaming_function(synth) -> None:
    s = synth()
    streaming_id, _ = s.function("response_stream")
    url_id, url = s.one("AWS::Lambda::Url")
    assert url["Properties"] == {
        "AuthType": "NONE",
        "InvokeMode": "RESPONSE_STREAM",
        "TargetFunctionArn": {"Fn::GetAtt": [streaming_id, "Arn"]},
    }
    s.one(
        "AWS::Lambda::Permission",
        {"Action": "lambda:InvokeFunctionUrl", "FunctionUrlAuthType": "NONE", "Principal": "*",
         "FunctionName": {"Fn::GetAtt": [streaming_id, "Arn"]}},
    )
    assert s.json["Outputs"]["StreamingUrl"]["Value"] == {"Fn::GetAtt": [url_id, "FunctionUrl"]}


# --- SnapStart ---------------------------------------------------------------------------------

def test_snapstart_off_publishes_no_version(synth) -> None:
    s = synth()
    s.template.resource_count_is("AWS::Lambda::Version", 0)
    s.template.resource_count_is("AWS::Lambda::Alias", 0)
    s.template.has_resource_properties("AWS::Lambda::Function", {"SnapStart": Match.absent()})


@pytest.mark.parametrize(("python", "arch"), [("3.12", "x86_64"), ("3.14", "arm64")])
def test_snapstart_on_front_doors_call_an_alias_of_a_published_version(synth, python: str, arch: str) -> None:
    s = synth(python=python, arch=arch, snapstart="true")  # -c snapstart=true gives a string
    aliases = {}
    for mode in ("buffered", "response_stream"):
        fn_id, fn = s.function(mode)
        assert fn["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
        version_id, _ = s.one("AWS::Lambda::Version", {"FunctionName": {"Ref": fn_id}})
        aliases[mode], _ = s.one(
            "AWS::Lambda::Alias",
            {"FunctionName": {"Ref": fn_id}, "Name": "live",
             "FunctionVersion": {"Fn::GetAtt": [version_id, "Version"]}},
        )
    s.one("AWS::ApiGatewayV2::Integration", {"IntegrationUri": {"Ref": aliases["buffered"]}})
    s.one("AWS::Lambda::Permission",
          {"Principal": "apigateway.amazonaws.com", "FunctionName": {"Ref": aliases["buffered"]}})
    streaming_id, _ = s.function("response_stream")
    s.one("AWS::Lambda::Url", {"Qualifier": "live", "InvokeMode": "RESPONSE_STREAM",
                               "TargetFunctionArn": {"Fn::GetAtt": [streaming_id, "Arn"]}})
    s.one("AWS::Lambda::Permission",
          {"Action": "lambda:InvokeFunctionUrl", "FunctionName": {"Ref": aliases["response_stream"]}})


# --- rejected values ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"python": "3.9"}, r"context python='3\.9': the layer supports Python 3\.10, 3\.11, 3\.12, 3\.13, 3\.14"),
        ({"python": "3.15"}, r"context python='3\.15'"),
        ({"python": 3.1}, r"context python='3\.1'"),  # 3.10 written as a JSON number
        ({"arch": "aarch64"}, r"context arch='aarch64': expected one of x86_64, arm64"),
        ({"snapstart": "yes"}, r"context snapstart='yes': expected true or false"),
        ({"snapstart": True, "python": "3.11"}, r"snapstart=true needs Python 3\.12 or later.*python is 3\.11"),
        ({"snapstart": "true", "python": "3.10"}, r"snapstart=true needs Python 3\.12 or later.*python is 3\.10"),
        ({"handler": "app"}, r"context handler='app': expected module\.attr"),
        ({"layer_zip": "/nonexistent/layer.zip"}, r"the layer zip /nonexistent/layer\.zip does not exist: run `make layer`"),
    ],
)
def test_bad_context_is_rejected(layer_zip: Path, context: dict[str, Any], message: str) -> None:
    app = cdk.App(context={**CDK_JSON["context"], "layer_zip": str(layer_zip), **context})
    with pytest.raises(SettingsError, match=message):
        StackSettings.from_context(app.node)


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        (lambda p: _layer(p, "arm64"),
         r"is not built for x86_64: arch=x86_64 needs dist/lambda-wsgi-layer-x86_64\.zip"),
        # an x86_64 extension in a wrapper told aarch64, and the other way round: either would fail
        (lambda p: _layer(p, "x86_64", machine="aarch64"), r"is not built for x86_64"),
        (lambda p: _layer(p, "x86_64", extension_arch="arm64"), r"is not built for x86_64"),
        (_bootstrap_layer, r"has no python/lambda_wsgi/_native\.abi3\.so \(a layer from before the pip package, "
                           r"with one bootstrap per Python\): build it again with `make layer`"),
        (lambda p: _layer(p, "x86_64", wrapper=False), r"no exec wrapper 'lambda-wsgi' at its root"),
        (lambda p: p.write_text("not a zip") and p, r"is not a zip"),
    ],
    ids=["arm64-layer", "wrapper-for-aarch64", "arm64-extension", "bootstrap-layer", "no-wrapper", "not-a-zip"],
)
def test_layer_zip_that_cannot_serve_is_rejected(tmp_path: Path, layer, message: str) -> None:
    path = tmp_path / "layer.zip"
    layer(path)
    app = cdk.App(context={**CDK_JSON["context"], "layer_zip": str(path)})
    with pytest.raises(SettingsError, match=message):
        StackSettings.from_context(app.node)


def test_layer_check_looks_where_the_wrapper_and_make_layer_put_things() -> None:
    """check_layer_zip's names are layer/build.py's and the wrapper's: if they change, so must it."""
    wrapper = (REPO_ROOT / "layer" / "lambda-wsgi").read_text()
    assert "\nlayer_machine=@MACHINE@ " in wrapper
    assert 'exec "$layer_dir/python/lambda_wsgi/exec-wrapper" "$@"' in wrapper
    build = (REPO_ROOT / "layer" / "build.py").read_text()
    assert '("lambda-wsgi", wrapper_for(machine), 0o755)' in build
    assert 'site = LAYER / arch / "python"' in build and 'f"python/{path.relative_to(site)}"' in build
    # build.py's ARCHES: Lambda's architecture -> (Rust's CPU, `uname -m`, pip's platform).
    arches = next(node.value for node in ast.parse(build).body
                  if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "ARCHES")
    assert {arch: machine for arch, (_, machine, _) in ast.literal_eval(arches).items()} == UNAME_MACHINES
    # The extension's name is the one maturin gives an abi3 module of lambda_wsgi._native.
    pyproject = (REPO_ROOT / "python" / "pyproject.toml").read_text()
    assert 'module-name = "lambda_wsgi._native"' in pyproject and 'abi3' in (REPO_ROOT / "python" / "Cargo.toml").read_text()
    assert EXTENSION == "lambda_wsgi/_native.abi3.so"


def test_python_may_be_given_as_the_runtime_name(layer_zip: Path) -> None:
    app = cdk.App(context={"python": "python3.13", "layer_zip": str(layer_zip)})
    assert StackSettings.from_context(app.node).runtime.name == "python3.13"


# --- cfn-lint ----------------------------------------------------------------------------------

# W3005: the CDK gives every Function an explicit DependsOn on its role that also has a GetAtt to
# it; the redundancy is the CDK's own output and harmless.
CDK_OWN_WARNINGS = {"W3005"}


@pytest.mark.parametrize(
    "context",
    [{}, {"arch": "arm64", "python": "3.14", "snapstart": "true"}, {"python": "3.13", "snapstart": "true"},
     {"python": "3.10"}, {"route": "pip", "arch": "arm64"}],
    ids=["default", "arm64-3.14-snapstart", "x86_64-3.13-snapstart", "3.10", "pip-arm64"],
)
def test_cfn_lint(synth, context: dict[str, Any]) -> None:
    s = synth(**context)
    matches = [m for m in cfnlint.api.lint(json.dumps(s.json), regions=["us-east-1"])
               if m.rule.id not in CDK_OWN_WARNINGS]
    # W2531: python3.10 is deprecated on Lambda (2026-10-31); cfn-lint says so, and it is right.
    expected = {"W2531"} if context.get("python") == "3.10" else set()
    assert {m.rule.id for m in matches} == expected, "\n".join(
        f"  {m.rule.id} {m.path}: {m.message}" for m in matches
    )


# --- app.py as the cdk CLI runs it -------------------------------------------------------------

def _run_app_py(outdir: Path, context: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """`cdk synth` runs cdk.json's "app" in this directory with the merged context in
    CDK_CONTEXT_JSON and the output directory in CDK_OUTDIR."""
    assert CDK_JSON["app"] == "python3 app.py"
    env = {**os.environ, "CDK_OUTDIR": str(outdir),
           "CDK_CONTEXT_JSON": json.dumps({**CDK_JSON["context"], **NO_BUNDLING, **context})}
    return subprocess.run([sys.executable, "app.py"], cwd=HERE, env=env, capture_output=True, text=True, timeout=300)


def test_app_py_synthesizes_as_cdk_synth_runs_it(tmp_path: Path, layer_zips: dict[str, Path]) -> None:
    run = _run_app_py(tmp_path, {"layer_zip": str(layer_zips["arm64"]), "python": "3.13", "arch": "arm64"})
    assert run.returncode == 0, run.stderr
    template = json.loads((tmp_path / "LambdaWsgiFlask.template.json").read_text())
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert [(f["Properties"]["Runtime"], f["Properties"]["Architectures"]) for f in functions] == [
        ("python3.13", ["arm64"])
    ] * 2


def test_app_py_stops_on_a_bad_value_with_the_message_only(tmp_path: Path, layer_zip: Path) -> None:
    run = _run_app_py(tmp_path, {"layer_zip": str(layer_zip), "python": "3.9"})
    assert run.returncode == 1
    assert "error: context python='3.9': the layer supports Python 3.10, 3.11, 3.12, 3.13, 3.14\n" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "LambdaWsgiFlask.template.json").exists()


# --- local bundling: the app and its requirements, from Lambda's platform wheels -----------------

def _wheel(directory: Path, python: str, platform: str) -> None:
    """A one-module wheel tagged for one CPython and one platform; the module says which."""
    tag = f"cp{python.replace('.', '')}-cp{python.replace('.', '')}-{platform}"
    with zipfile.ZipFile(directory / f"lwtestdep-1.0-{tag}.whl", "w") as wheel:
        wheel.writestr("lwtestdep/__init__.py", f"BUILT_FOR = {tag!r}\n")
        wheel.writestr("lwtestdep-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: lwtestdep\nVersion: 1.0\n")
        wheel.writestr("lwtestdep-1.0.dist-info/WHEEL",
                       f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\nTag: {tag}\n")
        wheel.writestr("lwtestdep-1.0.dist-info/RECORD",
                       "lwtestdep/__init__.py,,\nlwtestdep-1.0.dist-info/METADATA,,\n"
                       "lwtestdep-1.0.dist-info/WHEEL,,\nlwtestdep-1.0.dist-info/RECORD,,\n")


RUNNING_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


@pytest.mark.parametrize(("python", "arch"), [("3.13", "arm64"), (RUNNING_PYTHON, "x86_64")])
def test_local_bundling_installs_the_target_platforms_wheels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layer_zips: dict[str, Path], python: str, arch: str
) -> None:
    app_dir = tmp_path / "app"
    (app_dir / "events").mkdir(parents=True)
    (app_dir / "app.py").write_text("import lwtestdep\n\ndef app(environ, start_response):\n    return []\n")
    (app_dir / "requirements.txt").write_text("lwtestdep==1.0\n")
    (app_dir / "events" / "get.json").write_text("{}\n")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for version in sorted({"3.13", RUNNING_PYTHON}):
        for platform in ("manylinux2014_x86_64", "manylinux2014_aarch64"):
            _wheel(wheels, version, platform)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))

    outdir = tmp_path / "cdk.out"
    s = Synth(outdir, {"layer_zip": str(layer_zips[arch]), "app_dir": str(app_dir), "python": python, "arch": arch,
                       "aws:cdk:bundling-stacks": ["**"]})
    _, fn = s.function("buffered")
    bundle = outdir / f"asset.{fn['Properties']['Code']['S3Key'].removesuffix('.zip')}"
    tag = python.replace(".", "")
    platform = "manylinux2014_aarch64" if arch == "arm64" else "manylinux2014_x86_64"
    assert (bundle / "lwtestdep" / "__init__.py").read_text() == f"BUILT_FOR = 'cp{tag}-cp{tag}-{platform}'\n"
    assert (bundle / "app.py").is_file()
    assert not (bundle / "events").exists()
    # .pyc only when the Python running the CDK app is the target's (it writes its own version's).
    assert (bundle / "__pycache__" / f"app.cpython-{tag}.pyc").is_file() == (python == RUNNING_PYTHON)


def test_local_bundling_declines_when_pip_cannot_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No wheel for the target: try_bundle answers False, so the CDK bundles in Docker instead."""
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "requirements.txt").write_text("lwtestdep==1.0\n")
    (tmp_path / "wheels").mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "wheels"))
    assert PipLocalBundling(app_dir, "3.12", "arm64").try_bundle(str(tmp_path / "out")) is False


def test_the_pip_route_bundles_lambda_wsgi_for_the_target_with_the_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wheel_dir: Path
) -> None:
    """route=pip: the code asset is what `sam build` or `pip install -t` makes: the app, its
    requirements and lambda-wsgi for the target (its exec wrapper still executable)."""
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "app.py").write_text("import lwtestdep\n\ndef app(environ, start_response):\n    return []\n")
    (app_dir / "requirements.txt").write_text("lwtestdep==1.0\n")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels, "3.13", "manylinux2014_aarch64")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    outdir = tmp_path / "cdk.out"
    s = Synth(outdir, {"route": "pip", "wheel_dir": str(wheel_dir), "app_dir": str(app_dir), "python": "3.13",
                       "arch": "arm64", "aws:cdk:bundling-stacks": ["**"]})
    _, fn = s.function("buffered")
    bundle = outdir / f"asset.{fn['Properties']['Code']['S3Key'].removesuffix('.zip')}"
    assert (bundle / "lwtestdep" / "__init__.py").is_file() and (bundle / "app.py").is_file()
    wrapper = bundle / "lambda_wsgi" / "exec-wrapper"
    assert wrapper.stat().st_mode & 0o111, "pip must keep the exec wrapper executable"
    assert (bundle / EXTENSION).read_bytes() == _elf_head("arm64")


# --- several apps: examples/together -------------------------------------------------------------

TOGETHER = Path(__file__).resolve().parent.parent / "examples" / "together"


def test_the_two_apps_example_sets_its_mount_table_on_both_functions(synth) -> None:
    s = synth(route="pip", app_dir=str(TOGETHER), mounts_file="mounts.txt")
    for invoke_mode in ("buffered", "response_stream"):
        _, fn = s.function(invoke_mode)
        variables = fn["Properties"]["Environment"]["Variables"]
        assert variables["WSGI_MOUNTS_FILE"] == "mounts.txt", variables
    assert "WSGI_MOUNTS_FILE" not in synth().function("buffered")[1]["Properties"]["Environment"]["Variables"]


def test_a_mounts_file_missing_from_the_app_is_rejected(layer_zip: Path) -> None:
    with pytest.raises(SettingsError, match="context mounts_file='nope.txt': no such file in app_dir"):
        StackSettings(layer_zip=layer_zip, app_dir=TOGETHER, mounts_file="nope.txt")


def test_local_bundling_lays_out_an_assembled_app_with_its_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """examples/together gathers its code from the other examples: its assemble.py, not a copy."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels, RUNNING_PYTHON, "manylinux2014_x86_64")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    app_dir = tmp_path / "together"
    app_dir.mkdir()
    (app_dir / "requirements.txt").write_text("lwtestdep==1.0\n")
    (app_dir / "assemble.py").write_text(
        "import sys, pathlib\npathlib.Path(sys.argv[1], 'laid_out.txt').write_text('by assemble.py')\n")
    out = tmp_path / "out"
    assert PipLocalBundling(app_dir, RUNNING_PYTHON, "x86_64").try_bundle(str(out)) is True
    assert (out / "laid_out.txt").read_text() == "by assemble.py"
    assert not (out / "assemble.py").exists() and (out / "lwtestdep" / "__init__.py").is_file()
