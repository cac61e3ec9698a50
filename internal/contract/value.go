package contract

import (
	"fmt"
	"slices"
	"strings"

	"github.com/novadev/novadev/internal/catalog"
)

// CredentialsSecret is the one secret holding every database password: the
// compose/.env file on Docker, the Secret of that name in a cluster
// (generated from a git-ignored env file in dev and pr, an ExternalSecret in
// staging).
const CredentialsSecret = "nova-db-credentials"

// Credential is a reference to a secret value, never the value: Key is the
// key in the secret, and also the variable name the value is known by in
// compose/.env and in a container that receives it whole.
type Credential struct {
	Secret string
	Key    string
}

// Password is the credential holding a database user's password
// (catalog.PasswordVar), or the superuser's for catalog.SuperuserPasswordVar.
func Password(key string) Credential { return Credential{Secret: CredentialsSecret, Key: key} }

// Credentials are every credential a catalog's stack needs: the PostgreSQL
// superuser's password first, then one password per database user of the
// active services, sorted by service (none without a PostgreSQL store); then
// the ClickHouse ones (ClickHouseCredentials).
func Credentials(c *catalog.Catalog) []Credential {
	return append(postgresCredentials(c), ClickHouseCredentials(c)...)
}

// postgresCredentials are the PostgreSQL part of Credentials: what the
// PostgreSQL bootstraps are given.
func postgresCredentials(c *catalog.Catalog) []Credential {
	if len(c.StoresOfKind(catalog.StorePostgres)) == 0 {
		return nil
	}
	out := []Credential{Password(catalog.SuperuserPasswordVar)}
	for _, s := range c.ActiveServices() {
		if s.Database != nil {
			if cr := Password(catalog.PasswordVar(s.Database.User)); !slices.Contains(out, cr) {
				out = append(out, cr)
			}
		}
	}
	return out
}

// Part is one piece of a value: literal text, or a credential reference.
type Part struct {
	Text string
	Cred *Credential
}

// Value is an environment variable's value: literal text and credential
// references, in order.
type Value []Part

// Text is a literal value.
func Text(s string) Value { return Value{{Text: s}} }

// Ref is a value that is one credential, whole.
func Ref(cr Credential) Value { return Value{{Cred: &cr}} }

// Concat joins values and literal strings into one value.
func Concat(parts ...any) Value {
	var out Value
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			if v != "" {
				out = append(out, Part{Text: v})
			}
		case Value:
			out = append(out, v...)
		case Credential:
			out = append(out, Part{Cred: &v})
		default:
			panic(fmt.Sprintf("contract.Concat: %T", p))
		}
	}
	return out
}

// Whole returns the credential when the value is exactly one reference.
func (v Value) Whole() (Credential, bool) {
	if len(v) == 1 && v[0].Cred != nil {
		return *v[0].Cred, true
	}
	return Credential{}, false
}

// Credentials are the credentials the value refers to, in order.
func (v Value) Credentials() []Credential {
	var out []Credential
	for _, p := range v {
		if p.Cred != nil {
			out = append(out, *p.Cred)
		}
	}
	return out
}

// Render writes the value with text and ref deciding how literal text and
// references appear (each target's syntax and escaping).
func (v Value) Render(text func(string) string, ref func(Credential) string) string {
	var b strings.Builder
	for _, p := range v {
		if p.Cred != nil {
			b.WriteString(ref(*p.Cred))
		} else {
			b.WriteString(text(p.Text))
		}
	}
	return b.String()
}

// Resolve is the value as the workload sees it, with secret supplying each
// credential (tests pass dummies; the host side passes compose/.env).
func (v Value) Resolve(secret func(Credential) string) string {
	return v.Render(func(s string) string { return s }, secret)
}

// String shows the value with references as ${KEY}, for messages and tests.
func (v Value) String() string {
	return v.Render(func(s string) string { return s }, func(c Credential) string { return "${" + c.Key + "}" })
}

// Var is one environment variable.
type Var struct {
	Name  string
	Value Value
}

// Env is a workload's environment, in order: a variable that holds a
// credential whole comes before any variable whose value embeds it, so a
// target that expands references ($(VAR) in Kubernetes) finds it defined.
type Env []Var

// Names are the variable names, in order.
func (e Env) Names() []string {
	out := make([]string, len(e))
	for i, v := range e {
		out[i] = v.Name
	}
	return out
}

// Get returns the value of a variable.
func (e Env) Get(name string) (Value, bool) {
	for _, v := range e {
		if v.Name == name {
			return v.Value, true
		}
	}
	return nil, false
}

// Resolve returns the environment as a map, credentials from secret.
func (e Env) Resolve(secret func(Credential) string) map[string]string {
	out := make(map[string]string, len(e))
	for _, v := range e {
		out[v.Name] = v.Value.Resolve(secret)
	}
	return out
}

// Holder returns the variable that holds cr whole and comes before index i,
// or "" when none does.
func (e Env) Holder(cr Credential, before int) string {
	for _, v := range e[:before] {
		if w, ok := v.Value.Whole(); ok && w == cr {
			return v.Name
		}
	}
	return ""
}

// set replaces the variable's value in place, or appends it.
func (e Env) set(name string, v Value) Env {
	for i := range e {
		if e[i].Name == name {
			e[i].Value = v
			return e
		}
	}
	return append(e, Var{Name: name, Value: v})
}

// add appends a variable unless one of that name is already there (the
// first store of a kind wins).
func (e Env) add(name string, v Value) Env {
	if _, ok := e.Get(name); ok {
		return e
	}
	return append(e, Var{Name: name, Value: v})
}
