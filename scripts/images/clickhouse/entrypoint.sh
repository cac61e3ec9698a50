#!/bin/bash
# Entrypoint of novadev/clickhouse:18.16. ClickHouse 18.16 has no SQL-driven
# access control (CREATE USER arrived in 20.x), so the identities come from a
# users.d file written here, at every start, from the environment:
#
#   CLICKHOUSE_USER, CLICKHOUSE_PASSWORD   the admin (clickhouse-init logs in
#                                          as it); the official image reads
#                                          the same names
#   NOVADEV_CLICKHOUSE_USERS               user:database:PASSWORD_VAR,... one
#                                          service user each, its password in
#                                          the variable named; it may read and
#                                          insert into its database only
#                                          (allow_databases) and run no DDL
#                                          (profile nova_service: allow_ddl=0)
#   NOVADEV_CLICKHOUSE_DEFAULT_LOCAL=1     the password-less default user only
#                                          from loopback (inside the container)
#
# Passwords are written as SHA-256 hashes (password_sha256_hex), never in
# clear, and unset before the server starts so they do not linger in its
# environment. Without any of these variables the server starts as before.
set -euo pipefail

die() {
	echo "novadev/clickhouse entrypoint: $*" >&2
	exit 64
}
name_ok() { [[ $1 =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "$2: '$1' is not a valid name (want [A-Za-z_][A-Za-z0-9_]*)"; }
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

users_d=/etc/clickhouse-server/users.d
out=$users_d/novadev.xml
unsetvars=(CLICKHOUSE_PASSWORD)
{
	echo '<?xml version="1.0"?>'
	echo '<!-- written by the novadev entrypoint at start; edits are overwritten -->'
	echo '<yandex>'
	echo '  <profiles><nova_service><profile>default</profile><allow_ddl>0</allow_ddl></nova_service></profiles>'
	echo '  <users>'
	if [[ -n ${CLICKHOUSE_USER:-} && $CLICKHOUSE_USER != default ]]; then
		name_ok "$CLICKHOUSE_USER" CLICKHOUSE_USER
		[[ -n ${CLICKHOUSE_PASSWORD:-} ]] || die "CLICKHOUSE_USER=$CLICKHOUSE_USER needs CLICKHOUSE_PASSWORD"
		printf '    <%s><password_sha256_hex>%s</password_sha256_hex><networks><ip>::/0</ip></networks><profile>default</profile><quota>default</quota></%s>\n' \
			"$CLICKHOUSE_USER" "$(sha "$CLICKHOUSE_PASSWORD")" "$CLICKHOUSE_USER"
	fi
	IFS=, read -ra specs <<<"${NOVADEV_CLICKHOUSE_USERS:-}"
	for spec in "${specs[@]}"; do
		[[ -n $spec ]] || continue
		IFS=: read -r user db var extra <<<"$spec"
		[[ -n $user && -n $db && -n $var && -z $extra ]] || die "NOVADEV_CLICKHOUSE_USERS: '$spec': want user:database:PASSWORD_VAR"
		name_ok "$user" "NOVADEV_CLICKHOUSE_USERS user"
		name_ok "$db" "NOVADEV_CLICKHOUSE_USERS database"
		name_ok "$var" "NOVADEV_CLICKHOUSE_USERS password variable"
		pw=${!var:-}
		[[ -n $pw ]] || die "NOVADEV_CLICKHOUSE_USERS: user $user: variable $var is empty or unset"
		printf '    <%s><password_sha256_hex>%s</password_sha256_hex><networks><ip>::/0</ip></networks><profile>nova_service</profile><quota>default</quota><allow_databases><database>%s</database></allow_databases></%s>\n' \
			"$user" "$(sha "$pw")" "$db" "$user"
		unsetvars+=("$var")
	done
	if [[ ${NOVADEV_CLICKHOUSE_DEFAULT_LOCAL:-} == 1 ]]; then
		echo '    <default><networks replace="replace"><ip>::1</ip><ip>127.0.0.1</ip></networks></default>'
	fi
	echo '  </users>'
	echo '</yandex>'
} >"$out.tmp"
mv "$out.tmp" "$out"
unset "${unsetvars[@]}"
exec /usr/sbin/clickhouse-server --config-file=/etc/clickhouse-server/config.xml "$@"
