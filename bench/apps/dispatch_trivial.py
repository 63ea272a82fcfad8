"""mount_pair's two apps behind werkzeug's DispatcherMiddleware, as werkzeug's documentation
shows it: `site` at `/`, `api` at `/api`."""

from werkzeug.middleware.dispatcher import DispatcherMiddleware

from mount_pair import api, site

app = DispatcherMiddleware(site, {"/api": api})
