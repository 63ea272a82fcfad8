"""`manage.py bootstrap_admin`: migrate, then create the superuser named by
DJANGO_SUPERUSER_USERNAME / DJANGO_SUPERUSER_PASSWORD (and optional DJANGO_SUPERUSER_EMAIL) if it
does not exist yet. Safe to run any number of times: an existing user is left untouched."""

import os

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Apply migrations and create the superuser from DJANGO_SUPERUSER_* if it is missing."

    def add_arguments(self, parser):
        parser.add_argument(
            "--skip-migrate", action="store_true", help="Do not run migrate first."
        )

    def handle(self, *args, skip_migrate=False, verbosity=1, **options):
        if not skip_migrate:
            call_command("migrate", interactive=False, verbosity=max(verbosity - 1, 0))

        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "").strip()
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
        if not username or not password:
            if verbosity:
                self.stdout.write(
                    "DJANGO_SUPERUSER_USERNAME/DJANGO_SUPERUSER_PASSWORD not set: no superuser created."
                )
            return

        User = get_user_model()
        if User.objects.filter(**{User.USERNAME_FIELD: username}).exists():
            if verbosity:
                self.stdout.write(f"Superuser {username!r} already exists.")
            return
        User.objects.create_superuser(
            username, os.environ.get("DJANGO_SUPERUSER_EMAIL", ""), password
        )
        if verbosity:
            self.stdout.write(self.style.SUCCESS(f"Superuser {username!r} created."))
