#!/bin/sh
# First start: initdb into $PGDATA with superuser "postgres" and the password
# in POSTGRES_PASSWORD (scram-sha-256 for every TCP client, peer on the local
# socket). Every start: exec postgres as PID 1 (no su: it would swallow
# signals), listening on all interfaces. Extra arguments go to postgres
# (e.g. -c max_connections=200); a first argument that is not an option runs
# that command instead.
set -eu
case "${1:-}" in
'' | -*) ;;
*) exec "$@" ;;
esac

: "${PGDATA:=/var/lib/postgresql/data}"
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres "$PGDATA" /run/postgresql
chmod 700 "$PGDATA"
chmod 2775 /run/postgresql

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	if [ -z "${POSTGRES_PASSWORD:-}" ]; then
		echo "nova-postgres: POSTGRES_PASSWORD must be set for the first start (it becomes the postgres superuser's password)" >&2
		exit 1
	fi
	pwfile=$(mktemp)
	printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
	chown postgres "$pwfile"
	as_postgres initdb --pgdata="$PGDATA" --username=postgres --pwfile="$pwfile" \
		--encoding=UTF8 --locale=C.UTF-8 --auth-local=peer --auth-host=scram-sha-256 >/dev/null
	rm -f "$pwfile"
	{
		echo "host all all 0.0.0.0/0 scram-sha-256"
		echo "host all all ::/0 scram-sha-256"
	} >>"$PGDATA/pg_hba.conf"
	echo "nova-postgres: initialized $PGDATA" >&2
fi

exec setpriv --reuid=postgres --regid=postgres --init-groups \
	/usr/lib/postgresql/15/bin/postgres -D "$PGDATA" -c listen_addresses='*' "$@"
