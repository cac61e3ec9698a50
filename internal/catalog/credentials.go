package catalog

import "strings"

// SuperuserPasswordVar is the variable holding the PostgreSQL superuser's
// password in generated env files and containers.
const SuperuserPasswordVar = "NOVA_POSTGRES_PASSWORD"

// PasswordVar is the variable holding a database user's password:
// nova_feed_svc -> NOVA_FEED_SVC_PASSWORD.
func PasswordVar(user string) string {
	return strings.ToUpper(strings.ReplaceAll(user, "-", "_")) + "_PASSWORD"
}
