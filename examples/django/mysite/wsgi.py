"""The WSGI entry point: on Lambda the handler is `mysite.wsgi.application`
(WSGI_APP=mysite.wsgi:application).

With DJANGO_MIGRATE_ON_START=1 the database is migrated and the admin user created once, at
import, during the Lambda init (cold start). That is for this demo: its SQLite file lives in /tmp,
which is empty in every new execution environment. A real deployment uses a shared database and
migrates from its deploy pipeline instead (the `{"manage": ["migrate"]}` direct invocation).

With SnapStart, the environment is snapshotted after init and restored later, possibly many
times: a database connection open in the snapshot is dead after a restore (the server's side of
it is long gone). A before-snapshot hook closes Django's connections; the first request after a
restore opens a fresh one. `snapshot_restore_py` ships inside Lambda's managed Python runtimes
(and on PyPI as snapshot-restore-py); elsewhere there is nothing to register.
"""

import os

from django.core.wsgi import get_wsgi_application

try:
    from snapshot_restore_py import register_before_snapshot
except ImportError:
    register_before_snapshot = None

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

application = get_wsgi_application()

if os.environ.get("DJANGO_MIGRATE_ON_START", "").strip().lower() in {"1", "true", "yes", "on"}:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("bootstrap_admin", skip_migrate=True, verbosity=0)


if register_before_snapshot is not None:

    @register_before_snapshot
    def close_database_connections():
        """Before the SnapStart snapshot: no connection may be carried into it."""
        from django.db import connections

        connections.close_all()
