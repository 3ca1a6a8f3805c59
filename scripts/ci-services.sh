#!/usr/bin/env bash
# Makes sure the services the tests need answer on loopback. PostgreSQL, MariaDB
# and Redis are started by the machine; if one is down, start it the way the
# machine does. Services the machine lacks are installed and started here.
set -euo pipefail
cd "$(dirname "$0")/.."

wait_port() { # host port name
  for _ in $(seq 1 50); do
    if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "$3 does not answer on $1:$2" >&2
  return 1
}

if ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
fi
if ! (exec 3<>/dev/tcp/127.0.0.1/3306) 2>/dev/null; then
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
fi
if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi
wait_port 127.0.0.1 5432 PostgreSQL
wait_port 127.0.0.1 3306 MariaDB
wait_port 127.0.0.1 6379 Redis
echo "PostgreSQL, MariaDB and Redis answer."
