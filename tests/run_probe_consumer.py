"""Runs the probe consumer in a process of its own, so a test can kill -9 it."""
import eventlet

eventlet.monkey_patch()

from psycogreen.eventlet import patch_psycopg  # noqa: E402

patch_psycopg()

from nameko.runners import ServiceRunner  # noqa: E402

from shared.config import load_settings, nameko_config  # noqa: E402
from tests.probe import ProbeConsumer  # noqa: E402

if __name__ == "__main__":
    runner = ServiceRunner(nameko_config(load_settings()))
    runner.add_service(ProbeConsumer)
    runner.start()
    runner.wait()
