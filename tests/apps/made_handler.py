"""Handler mode wired in Python, as apig-wsgi's make_lambda_handler is: the echo app wrapped by
lambda_wsgi.make_handler, the function's Handler being `made_handler.handler`."""

import lambda_wsgi

from echo import app

handler = lambda_wsgi.make_handler(app)
