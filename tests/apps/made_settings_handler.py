"""make_handler around settings_app, for remote configuration in handler mode wired in Python."""

import lambda_wsgi

from settings_app import app

handler = lambda_wsgi.make_handler(app)
