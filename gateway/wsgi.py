"""The WSGI entry point: ``gunicorn --workers 2 --threads 16 gateway.wsgi:app``.

The app is built here, at import, because that is what a WSGI server loads;
nothing else in the gateway builds anything at import time.
"""
from gateway.app import create_app

app = create_app()
