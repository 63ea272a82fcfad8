"""Reports which interpreter and libpython actually run, and sys.path, for the packaging test."""

import json
import os
import platform
import sys
import sysconfig


def app(environ, start_response):
    libpython = None
    with open("/proc/self/maps") as maps:
        for line in maps:
            if "libpython" in line:
                libpython = line.split()[-1]
                break
    body = {
        "version": list(sys.version_info[:3]),
        "machine": platform.machine(),
        "prefix": sys.prefix,
        "libdir": sysconfig.get_config_var("LIBDIR"),
        "libpython": libpython,
        "sys_path": sys.path,
        "cwd": os.getcwd(),
        "executable": sys.executable,
        # The pip package's extension, when a Python loaded it (the exec wrapper); None under bootstrap.
        "native": getattr(sys.modules.get("lambda_wsgi._native"), "__file__", None),
        # Whether the bootstrap's build compiled its helpers for this interpreter (runtime/build.rs).
        "helpers_precompiled": isinstance(vars(sys.modules["lambda_wsgi_support"]).get("_LATER_BYTECODE"), bytes),
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]
