"""The WSGI entry point: ``gunicorn --workers 2 --threads 16 gateway.wsgi:app``.

The process's logging (request id on every line) and the app are set up here,
at import, because that is what a WSGI server loads; nothing else in the
gateway builds anything at import time.
"""
from gateway.app import create_app
from shared.config import load_settings
from shared.logcontext import configure_logging

settings = load_settings()
configure_logging(settings.log_level, "gateway")
app = create_app(settings)
