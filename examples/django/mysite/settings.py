"""Settings for the Django example, made for Lambda: everything that differs between a laptop and
a deployment comes from the environment, and the only writable path used is /tmp."""

import os
import warnings
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = os.environ.get(
    "DJANGO_SECRET_KEY", "django-insecure-lambda-wsgi-example-do-not-use-in-production"
)
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "*")
# Only needed when the browser's Origin differs from the Host the app sees (a proxy or CDN in
# front); Django matches scheme://host[:port] exactly, wildcards only for subdomains.
CSRF_TRUSTED_ORIGINS = env_list(
    "DJANGO_CSRF_TRUSTED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000"
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "notes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mysite.urls"
WSGI_APPLICATION = "mysite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def postgresql_from_url(url):
    """DATABASES["default"] for a libpq connection URI (postgresql://user:password@host:port/name?
    sslmode=require), parsed by libpq itself through psycopg. Query parameters become OPTIONS (libpq
    connection parameters); anything the URI leaves out libpq takes from its own PG* variables
    (PGPASSWORD, PGSSLMODE, ...), so a password can live in PGPASSWORD instead of the URI."""
    from django.core.exceptions import ImproperlyConfigured
    from psycopg import ProgrammingError, conninfo

    if not url.startswith(("postgresql://", "postgres://")):
        raise ImproperlyConfigured("DATABASE_URL must start with postgresql:// or postgres://")
    try:
        params = conninfo.conninfo_to_dict(url)
    except ProgrammingError as error:  # libpq's own message names the fault
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid connection URI: {error}") from None
    name = params.pop("dbname", None) or os.environ.get("PGDATABASE", "")
    if not name:
        raise ImproperlyConfigured(
            "DATABASE_URL names no database (postgresql://.../NAME) and PGDATABASE is unset"
        )
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": params.pop("user", ""),
        "PASSWORD": params.pop("password", ""),
        "HOST": params.pop("host", ""),
        "PORT": params.pop("port", ""),
        "OPTIONS": params,
        # Keep the connection across requests (a warm environment serves many), but not forever:
        # a rotated password or a failed-over Aurora endpoint is picked up within this many seconds.
        "CONN_MAX_AGE": int(os.environ.get("DJANGO_CONN_MAX_AGE", "600")),
        # Before reusing a kept connection in a new request, Django checks it (SELECT 1) and opens
        # a new one if it is dead: the server restarted, RDS Proxy closed it after its idle client
        # timeout, or it was opened before a SnapStart snapshot.
        "CONN_HEALTH_CHECKS": env_bool("DJANGO_CONN_HEALTH_CHECKS", True),
    }


# PostgreSQL when DATABASE_URL is set (RDS, Aurora, RDS Proxy). Otherwise SQLite: the deployment
# package is read-only on Lambda and /tmp is the one writable place; a database there lives as
# long as one execution environment: fine for a demo, not for real data.
if os.environ.get("DATABASE_URL", "").strip():
    DATABASES = {"default": postgresql_from_url(os.environ["DATABASE_URL"].strip())}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("DJANGO_DB_PATH", "/tmp/db.sqlite3"),
        }
    }

# Sessions in a signed cookie: they survive a request landing on another execution environment
# (each has its own SQLite file), as long as every environment shares DJANGO_SECRET_KEY.
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Static files: WhiteNoise serves them straight from the apps' static/ folders (the finders), so
# nothing has to run `collectstatic` and no manifest has to exist at runtime. STATIC_URL is
# absolute and the storage adds each request's SCRIPT_NAME (an API Gateway stage) to the URLs it
# builds; see mysite/storage.py.
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "mysite.storage.ScriptPrefixStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
# STATIC_ROOT only exists after an optional `collectstatic`; WhiteNoise warns when it is missing.
warnings.filterwarnings("ignore", message="No directory at: ")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django's default logging prints nothing when DEBUG is off; send errors (with tracebacks) to
# stderr so they reach the Lambda log.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
    },
}
