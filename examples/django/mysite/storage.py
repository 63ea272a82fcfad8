from django.contrib.staticfiles.storage import StaticFilesStorage
from django.urls import get_script_prefix


class ScriptPrefixStaticFilesStorage(StaticFilesStorage):
    """Static file URLs under the current request's SCRIPT_NAME.

    lambda-wsgi puts an API Gateway stage in SCRIPT_NAME (`/prod` on the execute-api host, nothing
    on a custom domain), per request. Django's own way, a relative STATIC_URL, adds the script
    prefix only once, when the setting is first read, which is at startup before any request
    (WhiteNoise reads it), so `{% static %}` would drop the stage. STATIC_URL is therefore
    absolute (`/static/`) and the prefix is added here on every url() call.
    """

    def url(self, name):
        url = super().url(name)
        if url.startswith("/") and not url.startswith("//"):
            url = get_script_prefix().rstrip("/") + url
        return url
