"""Remote configuration at init (WSGI_CONFIG_SSM_PATH, WSGI_CONFIG_SECRET_ID) against a local
moto server standing in for SSM and Secrets Manager, with IAM enforced: the runtime signs its
requests with an IAM user's keys. (moto checks IAM actions, not resources: the denied case uses a
user whose policy has no Secrets Manager action at all.)"""

import json
import os
import socket
import socketserver
import subprocess
import threading
import urllib.parse

import pytest

from conftest import EMULATOR, run_invoke

HELPER = os.environ.get("LAMBDA_WSGI_REMOTE_CONFIG")
MOTO_SERVER = os.environ.get("LAMBDA_WSGI_MOTO_SERVER")
pytestmark = pytest.mark.skipif(not (HELPER and MOTO_SERVER),
                                reason="LAMBDA_WSGI_REMOTE_CONFIG and LAMBDA_WSGI_MOTO_SERVER are set by make test-python")
import boto3  # noqa: E402  (comes with aws-sam-translator, requirements-dev.txt)

REGION = "us-east-1"
ADMIN = {"aws_access_key_id": "admin", "aws_secret_access_key": "admin", "region_name": REGION}
# Every setup call below is one action; after this many, moto checks IAM on every request.
SETUP_ACTIONS = 11


def start_moto(*args, env=None):
    """A moto server on a free port; returns (process, port) once it listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([MOTO_SERVER, "-H", "127.0.0.1", "-p", str(port), *args],
                              env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    for line in server.stdout:
        if "Running on" in line:
            return server, port
    pytest.fail("moto_server did not start")


@pytest.fixture(scope="module")
def moto():
    server, port = start_moto(env={"INITIAL_NO_AUTH_ACTION_COUNT": str(SETUP_ACTIONS)})
    endpoint = f"http://127.0.0.1:{port}"
    ssm = boto3.client("ssm", endpoint_url=endpoint, **ADMIN)
    secrets = boto3.client("secretsmanager", endpoint_url=endpoint, **ADMIN)
    iam = boto3.client("iam", endpoint_url=endpoint, **ADMIN)
    ssm.put_parameter(Name="/app/prod/DATABASE_URL", Value="postgres://db.internal/app", Type="String")
    ssm.put_parameter(Name="/app/prod/API_TOKEN", Value="s3cr3t", Type="SecureString")
    ssm.put_parameter(Name="/app/prod/cache/HOST", Value="cache.internal", Type="String")
    allowed = secrets.create_secret(Name="app/prod/secrets", SecretString=json.dumps({
        "SECRET_KEY": "from-secrets-manager", "API_KEY": "remote", "PORT": 5432}))["ARN"]
    secrets.create_secret(Name="other-team/secret", SecretString=json.dumps({"X": "y"}))
    keys = {}
    for user, actions in (("function-role", ["ssm:GetParametersByPath", "secretsmanager:GetSecretValue"]),
                          ("ssm-only-role", ["ssm:GetParametersByPath"])):
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="config", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}))
        keys[user] = iam.create_access_key(UserName=user)["AccessKey"]
    assert allowed.startswith("arn:aws:secretsmanager:")

    def credentials(user):
        return {"AWS_ACCESS_KEY_ID": keys[user]["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": keys[user]["SecretAccessKey"]}

    yield {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_SESSION_TOKEN": "",
        "WSGI_REMOTE_CONFIG_HELPER": HELPER,
        **credentials("function-role"),
        "ssm-only": credentials("ssm-only-role"),
    }
    server.terminate()
    server.wait(timeout=10)


def runtime_env(moto, **extra):
    return {**{k: v for k, v in moto.items() if k != "ssm-only"}, **extra}


def settings(start_emulator, env, *names):
    emulator = start_emulator("settings_app:app", env=env)
    status, _, body = emulator.request("GET", "/?" + "&".join(f"name={n}" for n in names))
    assert status == 200, emulator.logs()
    return json.loads(body)


def test_ssm_parameters_under_a_path_are_set_before_the_app_is_imported(moto, start_emulator):
    seen = settings(start_emulator, runtime_env(moto, WSGI_CONFIG_SSM_PATH="/app/prod"),
                    "DATABASE_URL", "API_TOKEN", "cache_HOST")
    assert seen["DATABASE_URL"] == {"at_import": "postgres://db.internal/app", "now": "postgres://db.internal/app"}
    assert seen["API_TOKEN"]["at_import"] == "s3cr3t"  # a SecureString, decrypted
    assert seen["cache_HOST"]["at_import"] == "cache.internal"


def test_a_secrets_json_keys_become_variables_and_the_functions_own_win(moto, start_emulator):
    seen = settings(start_emulator, runtime_env(moto, WSGI_CONFIG_SECRET_ID="app/prod/secrets", API_KEY="own"),
                    "SECRET_KEY", "API_KEY", "PORT")
    assert seen["SECRET_KEY"]["at_import"] == "from-secrets-manager"
    assert seen["PORT"]["at_import"] == "5432"
    assert seen["API_KEY"]["at_import"] == "own"


def init_error(moto, **settings):
    code, stdout, stderr = run_invoke("settings_app:app", {"rawPath": "/"}, env=runtime_env(moto, **settings))
    assert code == 2, (stdout, stderr)
    return json.loads(stdout)


def test_a_missing_parameter_path_is_an_init_error_naming_it(moto):
    error = init_error(moto, WSGI_CONFIG_SSM_PATH="/app/staging")
    assert error["errorType"] == "Runtime.RemoteConfigError"
    assert "WSGI_CONFIG_SSM_PATH=/app/staging" in error["errorMessage"]
    assert "no parameters under this path" in error["errorMessage"]


def test_a_denied_secret_is_an_init_error_naming_it(moto):
    error = init_error(moto, WSGI_CONFIG_SECRET_ID="app/prod/secrets", **moto["ssm-only"])
    assert error["errorType"] == "Runtime.RemoteConfigError"
    assert "WSGI_CONFIG_SECRET_ID=app/prod/secrets" in error["errorMessage"]
    assert "AccessDenied" in error["errorMessage"], error


def test_a_missing_secret_is_an_init_error_naming_it(moto):
    error = init_error(moto, WSGI_CONFIG_SECRET_ID="app/prod/nope")
    assert "WSGI_CONFIG_SECRET_ID=app/prod/nope" in error["errorMessage"]
    assert "ResourceNotFoundException" in error["errorMessage"], error


def test_without_the_settings_the_helper_is_never_run(start_emulator):
    # A helper path that does not exist: if it were run, the init would fail.
    seen = settings(start_emulator, {"WSGI_REMOTE_CONFIG_HELPER": "/nonexistent/helper"}, "DATABASE_URL")
    assert seen["DATABASE_URL"]["at_import"] is None
    assert EMULATOR.exists()


@pytest.fixture(scope="module")
def moto_over_tls(tmp_path_factory):
    """moto behind HTTPS with a certificate for 127.0.0.1 that only SSL_CERT_FILE trusts: what the
    helper's TLS (rustls over ring, not the SDK's default aws-lc-rs) must verify and speak."""
    certs = tmp_path_factory.mktemp("tls")
    ca, ca_key, cert, key = (certs / name for name in ("ca.pem", "ca-key.pem", "cert.pem", "key.pem"))
    openssl = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)  # noqa: E731
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-days", "2", "-subj", "/CN=test CA", "-keyout", str(ca_key), "-out", str(ca))
    other_ca = certs / "other-ca.pem"  # a CA that signed nothing here
    openssl("req", "-x509", *ec, "-days", "2", "-subj", "/CN=other CA", "-keyout", str(certs / "other-key.pem"),
            "-out", str(other_ca))
    openssl("req", "-x509", *ec, "-days", "2", "-subj", "/CN=127.0.0.1", "-CA", str(ca), "-CAkey", str(ca_key),
            "-addext", "subjectAltName=IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:FALSE",
            "-keyout", str(key), "-out", str(cert))
    server, port = start_moto("-c", str(cert), "-k", str(key))
    endpoint = f"https://127.0.0.1:{port}"
    boto3.client("ssm", endpoint_url=endpoint, verify=str(ca), **ADMIN).put_parameter(
        Name="/tls/GREETING", Value="over-tls", Type="String")
    yield {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "admin", "AWS_SECRET_ACCESS_KEY": "admin",
           "WSGI_REMOTE_CONFIG_HELPER": HELPER, "WSGI_CONFIG_SSM_PATH": "/tls", "cert": str(ca),
           "other-ca": str(other_ca)}
    server.terminate()
    server.wait(timeout=10)


def test_the_helper_fetches_over_tls_and_verifies_the_certificate(moto_over_tls, start_emulator):
    env = {k: v for k, v in moto_over_tls.items() if k not in ("cert", "other-ca")}
    seen = settings(start_emulator, {**env, "SSL_CERT_FILE": moto_over_tls["cert"]}, "GREETING")
    assert seen["GREETING"]["at_import"] == "over-tls"
    # Trusting another CA only, the helper refuses the server.
    code, stdout, stderr = run_invoke("settings_app:app", {"rawPath": "/"},
                                      env={**env, "SSL_CERT_FILE": moto_over_tls["other-ca"]})
    assert code == 2, (stdout, stderr)
    error = json.loads(stdout)
    assert error["errorType"] == "Runtime.RemoteConfigError"
    assert "WSGI_CONFIG_SSM_PATH=/tls" in error["errorMessage"], error
    assert "certificate" in error["errorMessage"], error  # refused for its certificate, not unreachable


class RecordingProxy(socketserver.ThreadingTCPServer):
    """A forward HTTP proxy on 127.0.0.1 that records each request line it relays: enough for
    plain-HTTP requests in absolute form, which is how a client sends them through a proxy."""

    daemon_threads = True

    def __init__(self):
        self.seen = []
        super().__init__(("127.0.0.1", 0), self.Relay)

    class Relay(socketserver.StreamRequestHandler):
        def handle(self):
            request_line = self.rfile.readline().decode("latin-1")
            self.server.seen.append(request_line.strip())
            method, url, version = request_line.split()
            target = urllib.parse.urlsplit(url)
            headers, length = [], 0
            while (line := self.rfile.readline()) not in (b"\r\n", b"\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
                if not line.lower().startswith((b"connection:", b"proxy-")):
                    headers.append(line)
            body = self.rfile.read(length)
            path = target.path + (f"?{target.query}" if target.query else "")
            with socket.create_connection((target.hostname, target.port)) as upstream:
                upstream.sendall(f"{method} {path} {version}\r\n".encode() + b"".join(headers)
                                 + b"Connection: close\r\n\r\n" + body)
                while chunk := upstream.recv(65536):
                    self.wfile.write(chunk)


def test_the_helper_goes_through_the_proxy_in_https_proxy_and_http_proxy(moto, start_emulator):
    """Functions in a VPC often reach AWS only through a proxy: the helper takes it from the
    environment, as the SDK's default client does."""
    proxy = RecordingProxy()
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        address = f"http://127.0.0.1:{proxy.server_address[1]}"
        seen = settings(start_emulator, runtime_env(moto, WSGI_CONFIG_SSM_PATH="/app/prod", HTTP_PROXY=address,
                                                    HTTPS_PROXY=address), "DATABASE_URL")
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert seen["DATABASE_URL"]["at_import"] == "postgres://db.internal/app"
    assert any(line.startswith(f"POST {moto['AWS_ENDPOINT_URL']}/") for line in proxy.seen), proxy.seen
