#!/usr/bin/env bash
# The tests need the real RabbitMQ and PostgreSQL on this machine; start them if they are down.
set -euo pipefail
here=$(dirname "$0")
"$here/ensure-broker.sh"
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "PostgreSQL is not answering on 127.0.0.1:5432; starting it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL does not answer on 127.0.0.1:5432" >&2; exit 1; }
# Tests create a vhost per run with rabbitmqctl; make sure we may.
command -v rabbitmqctl >/dev/null || { echo "rabbitmqctl is needed by the tests" >&2; exit 1; }
