#!/usr/bin/env python3
"""The CDK app: `cdk synth` and `cdk deploy` run it from this directory (see cdk.json).

Context values (cdk.json, or `-c key=value` on the command line):
  python     3.10 ... 3.14 (default 3.12)   the managed runtime, python3.X
  arch       x86_64 or arm64 (default x86_64)
  snapstart  true or false (default false); true needs Python 3.12+
  layer_zip  the layer (default ../dist/lambda-wsgi-layer-<arch>.zip, written by `make layer`)
  app_dir    the app with its requirements.txt (default ../examples/flask)
  handler    the WSGI app as module.attr (default app.app)
  route      layer (default) or pip: lambda-wsgi from the layer, or installed in the code asset
             with the app's requirements (no layer; AWS_LAMBDA_EXEC_WRAPPER=/var/task/lambda_wsgi/exec-wrapper)
  wheel_dir  route=pip: where lambda-wsgi's wheels are (default ../dist, written by `make wheel`)
  mounts_file a mount table in app_dir, set as WSGI_MOUNTS_FILE (several apps in one function):
             -c app_dir=../examples/together -c mounts_file=mounts.txt
  stack_name the stack's name (default LambdaWsgiFlask)
Paths are relative to this directory.
"""

import sys

import aws_cdk as cdk

from lambda_wsgi_stack import LambdaWsgiStack, SettingsError, StackSettings

app = cdk.App()
try:
    settings = StackSettings.from_context(app.node)
except SettingsError as error:
    sys.exit(f"error: {error}")
LambdaWsgiStack(app, app.node.try_get_context("stack_name") or "LambdaWsgiFlask", settings=settings)
app.synth()
