"""An app module whose `app` is not a WSGI callable, for the init-error test."""

app = "not a callable"
