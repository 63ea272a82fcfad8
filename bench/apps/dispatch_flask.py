"""The Flask pair behind werkzeug's DispatcherMiddleware: bench/apps/flask_app.py at `/`,
mount_pair.api at `/api`."""

from werkzeug.middleware.dispatcher import DispatcherMiddleware

from flask_app import app as site
from mount_pair import api

app = DispatcherMiddleware(site, {"/api": api})
