"""examples/django on a real PostgreSQL server (the `postgres` fixture in conftest.py), as it runs
on Lambda against RDS: DATABASE_URL set, migrations through the `manage` direct invocation, a
warm environment whose kept connection dies when the server restarts.

Everything the app wrote is read back with psql, not through the app, so a test cannot pass on
the SQLite default.
"""

import json
import os
import subprocess

import pytest

from test_django_example import ADMIN_USER, TASK_ROOT, Client, csrf_token, django_venv, note_texts, start_django

APP_NAME = "lambda-wsgi-e2e"


def start_django_on_postgresql(postgres, start_emulator, tmp_path, database, *, application_name=APP_NAME, env=None):
    """The example with DATABASE_URL pointing at a new database of the server (nothing migrated at
    init); returns (emulator, the manage invocations' payloads by step)."""
    postgres.create_database(database)
    app = start_django(start_emulator, tmp_path, env={
        "DATABASE_URL": postgres.url(database, application_name=application_name),
        "DJANGO_MIGRATE_ON_START": "0",
        **(env or {}),
    })
    return app, migrate(app)


def manage(app, *args):
    function_error, payload = app.invoke({"manage": list(args)})
    assert function_error is None, (payload, app.logs())
    assert payload["exitCode"] == 0, (payload, app.logs())
    return payload["output"]


def migrate(app):
    """As a deploy pipeline would: migrate, then the admin user (DJANGO_SUPERUSER_PASSWORD is set)."""
    return {
        "before": manage(app, "showmigrations", "notes"),
        "migrate": manage(app, "migrate", "--noinput"),
        "after": manage(app, "showmigrations", "notes"),
        "createsuperuser": manage(app, "createsuperuser", "--noinput", "--username", ADMIN_USER,
                                  "--email", "admin@example.com"),
    }


@pytest.fixture(scope="module")
def pg_django(postgres, start_emulator, tmp_path_factory):
    return start_django_on_postgresql(postgres, start_emulator, tmp_path_factory.mktemp("django-pg"), "notes_e2e")


def backends(postgres, database, application_name=APP_NAME):
    """Server process ids of the app's connections, from pg_stat_activity."""
    rows = postgres.query(database, "SELECT pid FROM pg_stat_activity "
                                    f"WHERE datname = '{database}' AND application_name = '{application_name}'")
    return [int(pid) for (pid,) in rows]


def test_migrations_run_through_the_manage_event(pg_django, postgres):
    _, steps = pg_django
    assert "[ ] 0001_initial" in steps["before"]
    assert "Applying notes.0001_initial... OK" in steps["migrate"]
    assert "Applying auth.0001_initial... OK" in steps["migrate"]
    assert "[X] 0001_initial" in steps["after"]
    # The tables are in PostgreSQL, and so is the admin user.
    rows = postgres.query("notes_e2e", "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    tables = {name for (name,) in rows}
    assert {"notes_note", "auth_user", "django_migrations"} <= tables
    assert postgres.query("notes_e2e", "SELECT username, is_superuser FROM auth_user") == [[ADMIN_USER, "t"]]


def test_a_note_is_stored_in_postgresql(pg_django, postgres):
    app, _ = pg_django
    client = Client(app)
    status, _, body = client.request("GET", "/")
    assert status == 200, app.logs()
    status, _, _ = client.post_form("/", {"csrfmiddlewaretoken": csrf_token(body), "text": "stored in postgres ü"})
    assert status == 303, app.logs()
    assert ["stored in postgres ü"] in postgres.query("notes_e2e", "SELECT text FROM notes_note")
    _, _, body = client.request("GET", "/")
    assert "stored in postgres ü" in note_texts(body)


def test_the_warm_environment_survives_a_server_restart(pg_django, postgres):
    app, _ = pg_django
    status, _, _ = app.request("GET", "/")
    assert status == 200, app.logs()
    # CONN_MAX_AGE: the request's connection is kept for the next one.
    kept = backends(postgres, "notes_e2e")
    assert len(kept) == 1, kept

    postgres.restart()  # every session is gone; the app's socket is dead and it does not know yet
    assert backends(postgres, "notes_e2e") == []

    status, _, body = app.request("GET", "/")
    assert status == 200, app.logs()
    assert b"<h1>Notes</h1>" in body
    # CONN_HEALTH_CHECKS: the dead connection was found and replaced by a new one, in the same
    # environment (the emulator did not have to start a new runtime).
    replaced = backends(postgres, "notes_e2e")
    assert len(replaced) == 1 and replaced != kept, (kept, replaced)
    assert "runtime exited" not in app.logs()
    status, _, _ = app.request("GET", "/")
    assert status == 200
    assert backends(postgres, "notes_e2e") == replaced


def test_without_health_checks_the_first_request_after_a_restart_fails(pg_django, postgres, start_emulator,
                                                                      tmp_path_factory):
    """The control for the test above: what CONN_HEALTH_CHECKS=True prevents. Without it Django uses
    the dead connection, the request fails (500), and only then is the connection dropped."""
    name = "lambda-wsgi-e2e-no-checks"
    app = start_django(start_emulator, tmp_path_factory.mktemp("django-pg-no-checks"), env={
        "DATABASE_URL": postgres.url("notes_e2e", application_name=name),
        "DJANGO_MIGRATE_ON_START": "0",
        "DJANGO_CONN_HEALTH_CHECKS": "false",
    })
    statuses = [app.request("GET", "/")[0]]
    assert len(backends(postgres, "notes_e2e", name)) == 1
    postgres.restart()
    statuses += [app.request("GET", "/")[0] for _ in range(2)]
    assert statuses == [200, 500, 200], app.logs()
    assert "OperationalError" in app.logs()


def test_the_snapstart_hook_closes_the_connections(pg_django, postgres):
    """mysite.wsgi registers a before-snapshot hook with snapshot_restore_py (the module Lambda's
    managed runtimes ship); run the registry's hooks as the runtime does before the snapshot and
    the connection opened during init is closed."""
    script = """
import json
import snapshot_restore_py
import mysite.wsgi
from django.db import connection
from notes.models import Note

Note.objects.count()  # init opened a connection (as DJANGO_MIGRATE_ON_START does)
raw = connection.connection
was_open = raw is not None and not raw.closed
hooks = snapshot_restore_py.get_before_snapshot()
for func, args, kwargs in reversed(hooks):
    func(*args, **kwargs)
closed = raw.closed and connection.connection is None
Note.objects.count()  # after a restore: the next query opens a new connection
print(json.dumps({"hooks": [f"{f.__module__}.{f.__qualname__}" for f, _, _ in hooks],
                  "was_open": was_open, "closed": closed, "reopened": connection.connection is not None}))
"""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "mysite.settings",
        "DATABASE_URL": postgres.url("notes_e2e", application_name="lambda-wsgi-e2e-snapshot"),
    }
    done = subprocess.run([str(django_venv() / "bin" / "python"), "-c", script], cwd=TASK_ROOT, env=env,
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout) == {
        "hooks": ["mysite.wsgi.close_database_connections"], "was_open": True, "closed": True, "reopened": True,
    }


@pytest.mark.parametrize("snap_start", [True, False], ids=["snap-start", "on-demand"])
def test_under_snapstart_the_connection_opened_at_init_is_closed_before_the_snapshot(
        postgres, start_emulator, tmp_path_factory, snap_start):
    """Through bootstrap's own SnapStart lifecycle (the emulator's --snap-start): migrations at
    init open a connection; the example's before-snapshot hook closes it, so none is carried into
    the snapshot. On demand (the control) the init's connection stays open."""
    database = "notes_snap" if snap_start else "notes_on_demand"
    name = f"lambda-wsgi-e2e-{database}"
    postgres.create_database(database)
    app = start_django(start_emulator, tmp_path_factory.mktemp(database), env={
        "DATABASE_URL": postgres.url(database, application_name=name),
        "DJANGO_MIGRATE_ON_START": "1",
    }, serve_args=["--snap-start"] if snap_start else [])
    open_after_init = backends(postgres, database, name)
    status, _, _ = app.request("GET", "/")
    assert status == 200, app.logs()
    if snap_start:
        assert open_after_init == [], "a connection was carried into the snapshot"
        assert "SnapStart: before-snapshot hooks done" in app.logs()
    else:
        assert len(open_after_init) == 1
    assert len(backends(postgres, database, name)) == 1
