#!/usr/bin/env bash
# Make sure RabbitMQ answers at AMQP_URI (default 127.0.0.1:5672); start it if we can.
set -euo pipefail
host=127.0.0.1; port=5672
if [[ -n "${AMQP_URI:-}" ]]; then
  hostport=${AMQP_URI#*://}; hostport=${hostport#*@}; hostport=${hostport%%/*}
  host=${hostport%%:*}; [[ "$hostport" == *:* ]] && port=${hostport##*:}
fi
answers() { (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }
if answers; then exit 0; fi
if command -v rabbitmq-server >/dev/null && [[ "$host" == 127.0.0.1 || "$host" == localhost ]]; then
  echo "RabbitMQ is not answering on $host:$port; starting it"
  rabbitmq-server -detached || true
  for _ in $(seq 1 60); do answers && exit 0; sleep 1; done
fi
echo "RabbitMQ does not answer at $host:$port. Start it, or set AMQP_URI." >&2
exit 1
