"""Runs one installed service in its own process: ``python -m shared.runner leads``.

eventlet must patch the standard library before anything else imports it,
and psycopg2 must be made green (psycogreen) or every query would block all
of the service's workers.
"""
import eventlet

eventlet.monkey_patch()

import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

from psycogreen.eventlet import patch_psycopg  # noqa: E402

patch_psycopg()

from nameko.runners import ServiceRunner  # noqa: E402

from shared.config import SettingsError, load_settings, nameko_config  # noqa: E402
from shared.logcontext import configure_logging  # noqa: E402
from shared.plugins import discover_services  # noqa: E402
from shared.topology import declare_consumer_queues  # noqa: E402

log = logging.getLogger("crm.runner")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m shared.runner SERVICE", file=sys.stderr)
        return 2
    name = argv[0]
    settings = load_settings()
    configure_logging(settings.log_level, name)
    manifests = discover_services()
    if name not in manifests:
        print(f"unknown service {name!r}; installed: {', '.join(manifests)}", file=sys.stderr)
        return 2
    manifest = manifests[name]
    stopping = []
    runner = None

    def shutdown(_signum, _frame):
        stopping.append(True)
        if runner is not None:
            eventlet.spawn(runner.stop)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    backoff = 1.0
    while not stopping:
        try:
            declare_consumer_queues(settings.amqp_uri, {name: manifest}, settings.retry_delays)
            runner = ServiceRunner(nameko_config(settings))
            runner.add_service(manifest.load_service_class())
            runner.start()
            log.info("service %s started", name)
            backoff = 1.0
            runner.wait()
        except SettingsError as exc:  # read while the container set up, before anything started
            log.error("service %s cannot start: %s", name, exc)
            return 1
        except Exception:
            # A container dies on an unexpected error (for example the broker
            # vanishing mid-reply). Start a fresh one rather than leave the
            # service down; committed work is safe in the database.
            log.exception("service %s crashed; restarting in %.0fs", name, backoff)
            if runner is not None:
                runner.kill()
            eventlet.sleep(backoff)
            backoff = min(backoff * 2, 30.0)
    log.info("service %s stopped", name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
