"""apig-wsgi, as its README shows it (binary bodies on, as our runtime always is)."""

from apig_wsgi import make_lambda_handler

from adapters import load_app

handler = make_lambda_handler(load_app(), binary_support=True)
