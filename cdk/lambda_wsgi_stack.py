"""A CDK stack that deploys a WSGI app (examples/flask by default) with the lambda-wsgi layer.

One layer, one code asset, two functions:

- ``BufferedFunction`` (``WSGI_INVOKE_MODE=buffered``) behind an API Gateway HTTP API whose
  ``$default`` route sends every method and path to it (payload format 2.0). API Gateway takes a
  whole response, never a stream.
- ``StreamingFunction`` (``WSGI_INVOKE_MODE=response_stream``) behind a Lambda Function URL with
  ``InvokeMode: RESPONSE_STREAM``.

The invoke mode is one environment variable per function, read once at init, and a Function URL
that streams needs the streaming answer while API Gateway needs the buffered one, so one function
cannot serve both front doors. Both functions run the same code and the same layer.

The settings come from CDK context (``cdk synth -c python=3.13 -c arch=arm64``, or ``cdk.json``);
``StackSettings.from_context`` checks them and raises ``SettingsError`` with a message that names
the context key and its allowed values.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_lambda as lambda_
from aws_cdk.aws_apigatewayv2_integrations import HttpLambdaIntegration
from constructs import Construct, Node

REPO_ROOT = Path(__file__).resolve().parent.parent

# The managed Python runtimes the layer is built for, and which of them SnapStart supports.
PYTHON_VERSIONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
SNAPSTART_MIN_PYTHON = (3, 12)
ARCHITECTURES = {"x86_64": lambda_.Architecture.X86_64, "arm64": lambda_.Architecture.ARM_64}
# ELF e_machine of each architecture's binaries (System V ABI: EM_X86_64, EM_AARCH64).
ELF_MACHINES = {"x86_64": 62, "arm64": 183}
# What `uname -m` says on each architecture: the exec wrapper runs lambda-wsgi-bin/bootstrap-py3.X-<that>.
UNAME_MACHINES = {"x86_64": "x86_64", "arm64": "aarch64"}
# pip's platform tag for Lambda's wheels (glibc 2.17+, older than Amazon Linux 2's and 2023's).
PIP_PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}

EXEC_WRAPPER = "/opt/lambda-wsgi"
DEFAULT_PYTHON = "3.12"
DEFAULT_ARCH = "x86_64"
DEFAULT_HANDLER = "app.app"
DEFAULT_APP_DIR = REPO_ROOT / "examples" / "flask"
# What the code asset leaves out of the app directory.
APP_EXCLUDES = ("events", "__pycache__", "*.pyc", ".venv")


class SettingsError(ValueError):
    """A context value the stack cannot use."""


def default_layer_zip(arch: str) -> Path:
    """Where `make layer` writes the layer for an architecture."""
    return REPO_ROOT / "dist" / f"lambda-wsgi-layer-{arch}.zip"


def bootstrap_name(python: str, arch: str) -> str:
    """Where the exec wrapper looks for the bootstrap of a Python on an architecture."""
    return f"lambda-wsgi-bin/bootstrap-py{python}-{UNAME_MACHINES[arch]}"


def check_layer_zip(path: Path, python: str, arch: str) -> None:
    """The zip must be a layer this function can run: the exec wrapper at its root (/opt/lambda-wsgi
    once unpacked) and a bootstrap for this Python built for this architecture, where the wrapper
    looks for it (lambda-wsgi-bin/bootstrap-py3.X-<uname -m>). Without one, the wrapper would start
    the managed runtime instead, which cannot serve a WSGI app."""
    wanted = bootstrap_name(python, arch)
    other_arch = f"arch={arch} needs dist/lambda-wsgi-layer-{arch}.zip (or -c layer_zip= a layer built for {arch})"
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            head = archive.open(wanted).read(20) if wanted in names else None
    except zipfile.BadZipFile as error:
        raise SettingsError(f"the layer zip {path} is not a zip: {error}") from error
    if EXEC_WRAPPER.removeprefix("/opt/") not in names:
        raise SettingsError(f"the layer zip {path} has no exec wrapper {EXEC_WRAPPER.removeprefix('/opt/')!r} at its root")
    if head is None:
        elsewhere = sorted(n for n in names if re.fullmatch(rf"lambda-wsgi-bin/bootstrap-py{re.escape(python)}-\w+", n))
        hint = (f"it has {', '.join(elsewhere)}: {other_arch}" if elsewhere
                else "build the layer for that Python, or choose another with -c python=3.X")
        raise SettingsError(f"the layer zip {path} has no bootstrap for Python {python} on {arch} ({wanted}); {hint}")
    machine = struct.unpack_from("<H", head, 18)[0] if head[:4] == b"\x7fELF" and len(head) == 20 else None
    if machine != ELF_MACHINES[arch]:
        raise SettingsError(f"the layer zip {path}: {wanted} is not an {arch} binary; {other_arch}")


def _runtime(python: str) -> lambda_.Runtime:
    return getattr(lambda_.Runtime, "PYTHON_" + python.replace(".", "_"))


def _parse_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise SettingsError(f"context {key}={value!r}: expected true or false")


@dataclass(frozen=True)
class StackSettings:
    python: str = DEFAULT_PYTHON  # "3.12"
    arch: str = DEFAULT_ARCH  # "x86_64" or "arm64"
    snapstart: bool = False
    layer_zip: Path | None = None  # None: default_layer_zip(arch)
    app_dir: Path = DEFAULT_APP_DIR
    handler: str = DEFAULT_HANDLER

    def __post_init__(self) -> None:
        if self.python not in PYTHON_VERSIONS:
            raise SettingsError(
                f"context python={self.python!r}: the layer supports Python {', '.join(PYTHON_VERSIONS)}"
            )
        if self.arch not in ARCHITECTURES:
            raise SettingsError(f"context arch={self.arch!r}: expected one of {', '.join(ARCHITECTURES)}")
        if self.snapstart and tuple(map(int, self.python.split("."))) < SNAPSTART_MIN_PYTHON:
            raise SettingsError(
                f"context snapstart=true needs Python 3.12 or later (Lambda's SnapStart for Python); "
                f"python is {self.python}"
            )
        module, dot, attr = self.handler.rpartition(".")
        if not dot or not module or not attr:
            raise SettingsError(f"context handler={self.handler!r}: expected module.attr, as in app.app")
        if not self.layer_path.is_file():
            raise SettingsError(
                f"the layer zip {self.layer_path} does not exist: run `make layer` at the repository root, "
                "or pass -c layer_zip=PATH"
            )
        check_layer_zip(self.layer_path, self.python, self.arch)
        if not (self.app_dir / "requirements.txt").is_file():
            raise SettingsError(f"context app_dir={str(self.app_dir)!r}: no requirements.txt there")

    @property
    def layer_path(self) -> Path:
        return self.layer_zip if self.layer_zip is not None else default_layer_zip(self.arch)

    @property
    def runtime(self) -> lambda_.Runtime:
        return _runtime(self.python)

    @property
    def architecture(self) -> lambda_.Architecture:
        return ARCHITECTURES[self.arch]

    @classmethod
    def from_context(cls, node: Node) -> StackSettings:
        """Read the context values python, arch, snapstart, layer_zip, app_dir and handler."""

        def get(key: str, default: Any) -> Any:
            value = node.try_get_context(key)
            return default if value is None else value

        python = str(get("python", DEFAULT_PYTHON)).removeprefix("python")
        layer_zip = node.try_get_context("layer_zip")
        return cls(
            python=python,
            arch=str(get("arch", DEFAULT_ARCH)),
            snapstart=_parse_bool("snapstart", get("snapstart", False)),
            layer_zip=Path(layer_zip).resolve() if layer_zip else None,
            app_dir=Path(get("app_dir", str(DEFAULT_APP_DIR))).resolve(),
            handler=str(get("handler", DEFAULT_HANDLER)),
        )


@jsii.implements(cdk.ILocalBundling)
class PipLocalBundling:
    """Builds the code asset without Docker: the app's files plus its requirements.txt, installed
    by pip from Lambda's platform wheels for the target Python and architecture (as `make package`
    does). `.pyc` files are compiled only when the Python running the CDK app is the target's.
    When pip fails (no such wheel, no index), the CDK bundles in Docker instead."""

    def __init__(self, app_dir: Path, python: str, arch: str) -> None:
        self.app_dir = app_dir
        self.python = python
        self.arch = arch

    def try_bundle(self, output_dir: str, *_args: Any, **_options: Any) -> bool:
        out = Path(output_dir)
        pip = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--target", str(out), "--implementation", "cp", "--python-version", self.python,
             "--platform", PIP_PLATFORMS[self.arch], "--only-binary=:all:",
             "-r", str(self.app_dir / "requirements.txt")],
        )
        if pip.returncode != 0:
            print("lambda-wsgi: pip could not bundle the app here; trying Docker", file=sys.stderr)
            return False
        shutil.copytree(self.app_dir, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*APP_EXCLUDES))
        if f"{sys.version_info.major}.{sys.version_info.minor}" == self.python:
            subprocess.run(
                [sys.executable, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
                 str(out)],
                check=True,
            )
        return True


def app_code(settings: StackSettings) -> lambda_.Code:
    """The app and its requirements, bundled locally by pip, or in the runtime's SAM build image
    (Docker) where local bundling is not possible."""
    docker_command = (
        "pip install --no-cache-dir -r requirements.txt -t /asset-output"
        " && cp -au . /asset-output && rm -rf /asset-output/events"
        " && python -m compileall -q --invalidation-mode unchecked-hash /asset-output"
    )
    return lambda_.Code.from_asset(
        str(settings.app_dir),
        exclude=list(APP_EXCLUDES),
        bundling=cdk.BundlingOptions(
            image=settings.runtime.bundling_image,
            platform="linux/arm64" if settings.arch == "arm64" else "linux/amd64",
            command=["bash", "-c", docker_command],
            local=PipLocalBundling(settings.app_dir, settings.python, settings.arch),
        ),
    )


class LambdaWsgiStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: StackSettings, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings

        layer = lambda_.LayerVersion(
            self,
            "LambdaWsgiLayer",
            code=lambda_.Code.from_asset(str(settings.layer_path)),
            description=(
                f"lambda-wsgi exec wrapper ({EXEC_WRAPPER}) and bootstraps for Python "
                f"{PYTHON_VERSIONS[0]}-{PYTHON_VERSIONS[-1]}, {settings.arch}"
            ),
            compatible_runtimes=[_runtime(v) for v in PYTHON_VERSIONS],
            compatible_architectures=[settings.architecture],
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        code = app_code(settings)

        def function(construct_id: str, invoke_mode: str, timeout: int) -> lambda_.IFunction:
            fn = lambda_.Function(
                self,
                construct_id,
                runtime=settings.runtime,
                architecture=settings.architecture,
                handler=settings.handler,
                code=code,
                layers=[layer],
                memory_size=512,
                timeout=cdk.Duration.seconds(timeout),
                environment={"AWS_LAMBDA_EXEC_WRAPPER": EXEC_WRAPPER, "WSGI_INVOKE_MODE": invoke_mode},
                snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if settings.snapstart else None,
            )
            if not settings.snapstart:
                return fn
            # SnapStart snapshots published versions only: the front door must call an alias of one.
            return lambda_.Alias(self, f"{construct_id}Live", alias_name="live", version=fn.current_version)

        # API Gateway's integration timeout is 29 s; a Function URL waits up to the function's.
        buffered = function("BufferedFunction", "buffered", 29)
        streaming = function("StreamingFunction", "response_stream", 60)

        http_api = apigwv2.HttpApi(
            self,
            "HttpApi",
            default_integration=HttpLambdaIntegration(
                "BufferedIntegration", buffered, payload_format_version=apigwv2.PayloadFormatVersion.VERSION_2_0
            ),
        )
        url = streaming.add_function_url(
            auth_type=lambda_.FunctionUrlAuthType.NONE, invoke_mode=lambda_.InvokeMode.RESPONSE_STREAM
        )

        cdk.CfnOutput(self, "HttpApiUrl", value=http_api.url or "", description="The app behind the HTTP API")
        cdk.CfnOutput(self, "StreamingUrl", value=url.url, description="The app behind the streaming Function URL")
