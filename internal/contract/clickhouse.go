package contract

import (
	"slices"
	"strings"

	"github.com/novadev/novadev/internal/catalog"
)

// ClickHouseAdminUser is the identity the clickhouse-init bootstrap logs in
// as. It is created by the store image from EnvClickHouseStoreUser and
// EnvClickHouseStorePassword (the names the official image reads too, with
// EnvClickHouseAccessManagement so that, on a server with SQL-driven access
// control, it may CREATE USER and GRANT).
const ClickHouseAdminUser = "nova_ch_admin"

// The ClickHouse store container's environment. The first three are the
// official clickhouse/clickhouse-server image's own variables (it then
// removes the default user); novadev/clickhouse:18.16's entrypoint reads the
// same names. EnvClickHouseStoreUsers lists the service users as
// user:database:PASSWORD_VAR,... with each password in its own variable: on
// 18.16 (no SQL-driven access control) the entrypoint writes them to
// users.d; a server with SQL access control ignores it and clickhouse-init
// creates them instead. EnvClickHouseDefaultLocal=1 confines the default
// user to loopback in the offline image (the official image removes it).
const (
	EnvClickHouseStoreUser        = "CLICKHOUSE_USER"
	EnvClickHouseStorePassword    = "CLICKHOUSE_PASSWORD"
	EnvClickHouseAccessManagement = "CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT"
	EnvClickHouseStoreUsers       = "NOVADEV_CLICKHOUSE_USERS"
	EnvClickHouseDefaultLocal     = "NOVADEV_CLICKHOUSE_DEFAULT_LOCAL"
)

// ClickHouseUser is one service's ClickHouse identity.
type ClickHouseUser struct {
	Service  string
	User     string
	Database string
	Password Credential
}

// ClickHouseUserName is the ClickHouse user of service s:
// analytics-service -> nova_ch_analytics_service.
func ClickHouseUserName(service string) string {
	return "nova_ch_" + strings.ReplaceAll(service, "-", "_")
}

// ClickHouseUsers are the identities of every active service that uses
// ClickHouse (uses.clickhouse), sorted by service; none without an active
// ClickHouse store.
func ClickHouseUsers(c *catalog.Catalog) []ClickHouseUser {
	if len(c.StoresOfKind(catalog.StoreClickHouse)) == 0 {
		return nil
	}
	var out []ClickHouseUser
	for _, s := range c.ActiveServices() {
		if s.Uses.ClickHouse == nil {
			continue
		}
		u := ClickHouseUserName(s.Name)
		out = append(out, ClickHouseUser{Service: s.Name, User: u, Database: s.Uses.ClickHouse.Database.Value,
			Password: Password(catalog.PasswordVar(u))})
	}
	slices.SortFunc(out, func(a, b ClickHouseUser) int { return strings.Compare(a.Service, b.Service) })
	return out
}

// ClickHouseCredentials are the ClickHouse passwords a stack needs: the
// admin's first, then each service user's (ClickHouseUsers order).
func ClickHouseCredentials(c *catalog.Catalog) []Credential {
	if len(c.StoresOfKind(catalog.StoreClickHouse)) == 0 {
		return nil
	}
	out := []Credential{Password(catalog.PasswordVar(ClickHouseAdminUser))}
	for _, u := range ClickHouseUsers(c) {
		out = append(out, u.Password)
	}
	return out
}

// clickHouseStoreEnv is the ClickHouse store container's contract
// environment: the admin identity, the service users with their passwords.
func clickHouseStoreEnv(c *catalog.Catalog) Env {
	admin := Password(catalog.PasswordVar(ClickHouseAdminUser))
	env := Env{
		{Name: EnvClickHouseStoreUser, Value: Text(ClickHouseAdminUser)},
		{Name: EnvClickHouseStorePassword, Value: Ref(admin)},
		{Name: EnvClickHouseAccessManagement, Value: Text("1")},
		// every client outside the container authenticates (the admin,
		// the service users): the password-less default user stays local
		{Name: EnvClickHouseDefaultLocal, Value: Text("1")},
	}
	var spec []string
	for _, u := range ClickHouseUsers(c) {
		spec = append(spec, u.User+":"+u.Database+":"+u.Password.Key)
		env = append(env, Var{Name: u.Password.Key, Value: Ref(u.Password)})
	}
	if len(spec) > 0 {
		env = append(env, Var{Name: EnvClickHouseStoreUsers, Value: Text(strings.Join(spec, ","))})
	}
	return env
}
