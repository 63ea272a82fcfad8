"""A CDK stack that deploys a WSGI app (examples/flask by default) with lambda-wsgi, from the
layer (``route=layer``, the default) or from the pip package in the code asset (``route=pip``:
``lambda-wsgi`` installed with the app's requirements, ``AWS_LAMBDA_EXEC_WRAPPER`` pointing at
``/var/task/lambda_wsgi/exec-wrapper``, no layer).

One code asset (and the layer, on that route), two functions:

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
# What `uname -m` says on each architecture: the layer's wrapper checks it is the one it was built for.
UNAME_MACHINES = {"x86_64": "x86_64", "arm64": "aarch64"}
# The pip package's compiled half, in the layer (under python/) and in a code asset.
EXTENSION = "lambda_wsgi/_native.abi3.so"
# pip's platform tag for Lambda's wheels (glibc 2.17+, older than Amazon Linux 2's and 2023's).
PIP_PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}

EXEC_WRAPPER = "/opt/lambda-wsgi"
# The pip package's own wrapper, where `pip install --target` puts it in the code asset.
PIP_EXEC_WRAPPER = "/var/task/lambda_wsgi/exec-wrapper"
ROUTES = ("layer", "pip")
DEFAULT_WHEEL_DIR = REPO_ROOT / "dist"
WHEELS_IN_DOCKER = "/lambda-wsgi-wheels"
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


def elf_machine(head: bytes) -> int | None:
    """e_machine of an ELF file from its first 20 bytes, or None when it is not ELF."""
    return struct.unpack_from("<H", head, 18)[0] if head[:4] == b"\x7fELF" and len(head) == 20 else None


def check_layer_zip(path: Path, arch: str) -> None:
    """The zip must be a layer this function can run: the exec wrapper at its root (/opt/lambda-wsgi
    once unpacked), built for this architecture, and the package's extension under python/ (what
    `make layer` puts there from the wheel) compiled for it. A layer of the other architecture
    would start the managed runtime instead (its wrapper steps aside), which cannot serve a WSGI
    app; so would a layer from before the pip package, which has no extension."""
    other_arch = f"arch={arch} needs dist/lambda-wsgi-layer-{arch}.zip (or -c layer_zip= a layer built for {arch})"
    extension = f"python/{EXTENSION}"
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            wrapper = archive.read("lambda-wsgi").decode(errors="replace") if "lambda-wsgi" in names else None
            head = archive.open(extension).read(20) if extension in names else None
    except zipfile.BadZipFile as error:
        raise SettingsError(f"the layer zip {path} is not a zip: {error}") from error
    if wrapper is None:
        raise SettingsError(f"the layer zip {path} has no exec wrapper {EXEC_WRAPPER.removeprefix('/opt/')!r} at its root")
    if head is None:
        old = any(name.startswith("lambda-wsgi-bin/bootstrap-py") for name in names)
        raise SettingsError(f"the layer zip {path} has no {extension}"
                            + (" (a layer from before the pip package, with one bootstrap per Python)" if old else "")
                            + ": build it again with `make layer`")
    built_for = re.search(r"^layer_machine=(\S+)", wrapper, re.MULTILINE)
    if elf_machine(head) != ELF_MACHINES[arch] or not built_for or built_for.group(1) != UNAME_MACHINES[arch]:
        raise SettingsError(f"the layer zip {path} is not built for {arch}: {other_arch}")


def check_wheel_dir(path: Path, arch: str) -> Path:
    """The pip route installs lambda-wsgi from this folder: it must hold the wheel for `arch`."""
    wheels = sorted(path.glob(f"lambda_wsgi_runtime-*-abi3-*{UNAME_MACHINES[arch]}.whl"))
    if not wheels:
        raise SettingsError(f"context wheel_dir={str(path)!r}: no lambda-wsgi wheel for {arch} there "
                            "(lambda_wsgi_runtime-*-abi3-*.whl): run `make wheel` at the repository root")
    return wheels[-1]


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
    route: str = "layer"  # or "pip"
    wheel_dir: Path = DEFAULT_WHEEL_DIR  # route=pip: where lambda-wsgi's wheels are
    mounts_file: str | None = None  # a mount table in app_dir: WSGI_MOUNTS_FILE (several apps)

    def __post_init__(self) -> None:
        if self.route not in ROUTES:
            raise SettingsError(f"context route={self.route!r}: expected one of {', '.join(ROUTES)}")
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
        if self.route == "pip":
            check_wheel_dir(self.wheel_dir, self.arch)
        elif not self.layer_path.is_file():
            raise SettingsError(
                f"the layer zip {self.layer_path} does not exist: run `make layer` at the repository root, "
                "or pass -c layer_zip=PATH"
            )
        else:
            check_layer_zip(self.layer_path, self.arch)
        if not (self.app_dir / "requirements.txt").is_file():
            raise SettingsError(f"context app_dir={str(self.app_dir)!r}: no requirements.txt there")
        if self.mounts_file is not None and not (self.app_dir / self.mounts_file).is_file():
            raise SettingsError(
                f"context mounts_file={self.mounts_file!r}: no such file in app_dir {str(self.app_dir)!r} "
                "(the mount table is read from the task root)"
            )

    @property
    def environment(self) -> dict[str, str]:
        """The functions' variables beside WSGI_INVOKE_MODE."""
        variables = {"AWS_LAMBDA_EXEC_WRAPPER": self.exec_wrapper}
        if self.mounts_file is not None:
            variables["WSGI_MOUNTS_FILE"] = self.mounts_file
        return variables

    @property
    def layer_path(self) -> Path:
        return self.layer_zip if self.layer_zip is not None else default_layer_zip(self.arch)

    @property
    def wheel(self) -> Path:
        """route=pip: the wheel of lambda-wsgi for the architecture, in wheel_dir."""
        return check_wheel_dir(self.wheel_dir, self.arch)

    @property
    def exec_wrapper(self) -> str:
        return PIP_EXEC_WRAPPER if self.route == "pip" else EXEC_WRAPPER

    @property
    def runtime(self) -> lambda_.Runtime:
        return _runtime(self.python)

    @property
    def architecture(self) -> lambda_.Architecture:
        return ARCHITECTURES[self.arch]

    @classmethod
    def from_context(cls, node: Node) -> StackSettings:
        """Read the context values python, arch, snapstart, layer_zip, app_dir, handler, route, wheel_dir
        and mounts_file."""

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
            route=str(get("route", "layer")),
            wheel_dir=Path(get("wheel_dir", str(DEFAULT_WHEEL_DIR))).resolve(),
            mounts_file=node.try_get_context("mounts_file") or None,
        )


@jsii.implements(cdk.ILocalBundling)
class PipLocalBundling:
    """Builds the code asset without Docker: the app's files plus its requirements.txt, installed
    by pip from Lambda's platform wheels for the target Python and architecture (as `make package`
    does). `.pyc` files are compiled only when the Python running the CDK app is the target's.
    When pip fails (no such wheel, no index), the CDK bundles in Docker instead. On the pip
    route, lambda-wsgi is installed with them from `wheel` (that architecture's wheel file, by
    path: the package is not taken from an index, where another project holds a similar name)."""

    def __init__(self, app_dir: Path, python: str, arch: str, wheel: Path | None = None) -> None:
        self.app_dir = app_dir
        self.python = python
        self.arch = arch
        self.wheel = wheel

    def try_bundle(self, output_dir: str, *_args: Any, **_options: Any) -> bool:
        out = Path(output_dir)
        package = [str(self.wheel)] if self.wheel else []
        pip = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--target", str(out), "--implementation", "cp", "--python-version", self.python,
             "--platform", PIP_PLATFORMS[self.arch], "--only-binary=:all:",
             "-r", str(self.app_dir / "requirements.txt"), *package],
        )
        if pip.returncode != 0:
            print("lambda-wsgi: pip could not bundle the app here; trying Docker", file=sys.stderr)
            return False
        assemble = self.app_dir / "assemble.py"
        if assemble.is_file():
            # An app made of others (examples/together): its own script lays out the code.
            subprocess.run([sys.executable, str(assemble), str(out)], check=True, stdout=subprocess.DEVNULL)
        else:
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
    wheel = settings.wheel if settings.route == "pip" else None
    # In Docker the wheel folder is mounted at WHEELS_IN_DOCKER, and the wheel installed by path.
    package = f" {WHEELS_IN_DOCKER}/{wheel.name}" if wheel else ""
    docker_command = (
        f"pip install --no-cache-dir -r requirements.txt{package} -t /asset-output"
        " && cp -au . /asset-output && rm -rf /asset-output/events"
        " && python -m compileall -q --invalidation-mode unchecked-hash /asset-output"
    )
    if (settings.app_dir / "assemble.py").is_file():
        # Docker sees app_dir alone, not the apps its assemble.py gathers from beside it.
        docker_command = (
            "echo 'lambda-wsgi: an app laid out by assemble.py is bundled locally only:"
            " pip must find wheels for the target platform' >&2; exit 1"
        )
    return lambda_.Code.from_asset(
        str(settings.app_dir),
        exclude=list(APP_EXCLUDES),
        bundling=cdk.BundlingOptions(
            image=settings.runtime.bundling_image,
            platform="linux/arm64" if settings.arch == "arm64" else "linux/amd64",
            command=["bash", "-c", docker_command],
            volumes=[cdk.DockerVolume(host_path=str(wheel.parent), container_path=WHEELS_IN_DOCKER)] if wheel else None,
            local=PipLocalBundling(settings.app_dir, settings.python, settings.arch, wheel),
        ),
    )


class LambdaWsgiStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: StackSettings, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings

        layers = []
        if settings.route == "layer":
            layers.append(lambda_.LayerVersion(
                self,
                "LambdaWsgiLayer",
                code=lambda_.Code.from_asset(str(settings.layer_path)),
                description=(
                    f"lambda-wsgi exec wrapper ({EXEC_WRAPPER}) and package for Python "
                    f"{PYTHON_VERSIONS[0]}-{PYTHON_VERSIONS[-1]}, {settings.arch}"
                ),
                compatible_runtimes=[_runtime(v) for v in PYTHON_VERSIONS],
                compatible_architectures=[settings.architecture],
                removal_policy=cdk.RemovalPolicy.DESTROY,
            ))
        code = app_code(settings)

        def function(construct_id: str, invoke_mode: str, timeout: int) -> lambda_.IFunction:
            fn = lambda_.Function(
                self,
                construct_id,
                runtime=settings.runtime,
                architecture=settings.architecture,
                handler=settings.handler,
                code=code,
                layers=layers,
                memory_size=512,
                timeout=cdk.Duration.seconds(timeout),
                environment={**settings.environment, "WSGI_INVOKE_MODE": invoke_mode},
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
