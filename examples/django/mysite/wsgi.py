"""The WSGI entry point: on Lambda the handler is `mysite.wsgi.application`
(WSGI_APP=mysite.wsgi:application).

With DJANGO_MIGRATE_ON_START=1 the database is migrated and the admin user created once, at
import, during the Lambda init (cold start). That is for this demo: its SQLite file lives in /tmp,
which is empty in every new execution environment. A real deployment uses a shared database and
migrates from its deploy pipeline instead.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

application = get_wsgi_application()

if os.environ.get("DJANGO_MIGRATE_ON_START", "").strip().lower() in {"1", "true", "yes", "on"}:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("bootstrap_admin", skip_migrate=True, verbosity=0)
