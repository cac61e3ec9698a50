// Package bootstrap holds the one-shot setup steps of a Nova stack:
// postgres-init, migrations (sqlx-compatible), redis-cluster-init,
// kafka-topics, clickhouse-init and proto-validate. Every step is idempotent
// (a second run changes nothing) and is the same Go code whether the
// supervisor runs it in-process from the host or `novadev bootstrap <step>`
// runs it in a container on the stack's network or as a kind Job. Steps talk
// to the stores with pure Go clients; where the stores are comes from
// Targets.
package bootstrap

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/contract"
)

// Environment variables read by TargetsFromEnv (docs/bootstrap.md); the
// names are the runtime contract's (internal/contract), which the compose
// one-shots and the kind Jobs are rendered from.
const (
	EnvPostgres      = contract.EnvBootstrapPostgres   // host:port
	EnvRedisNodes    = contract.EnvBootstrapRedisNodes // host:port,host:port,...
	EnvKafkaBrokers  = contract.EnvBootstrapKafka      // host:port,...
	EnvClickHouseURL = contract.EnvBootstrapClickHouse // http://host:8123
	EnvMigrationsDir = contract.EnvMigrationsDir       // root holding <service>/<version>_<description>.sql
	EnvProtosDir     = contract.EnvProtosDir           // replaces protos.root
	EnvBaseline      = contract.EnvBaseline            // replaces protos.baseline
	EnvDialMap       = contract.EnvDialMap             // from=to,... remap of advertised host:port
)

// PostgresSuperuser is the role postgres-init logs in as; its password is
// the variable catalog.SuperuserPasswordVar.
const PostgresSuperuser = "postgres"

// Targets says where the stores are, as seen from wherever the step runs
// (the host, a container on the stack's network, a pod).
type Targets struct {
	// Postgres is the PostgreSQL server, host:port.
	Postgres string
	// RedisNodes are every Redis Cluster node, host:port each.
	RedisNodes []string
	// KafkaBrokers are the seed brokers, host:port each.
	KafkaBrokers []string
	// ClickHouseURL is ClickHouse's HTTP endpoint, e.g. http://clickhouse:8123.
	ClickHouseURL string
	// Dial, when set, opens every TCP connection. On the host it maps the
	// names the stores advertise inside the network (redis-2:7002,
	// kafka:9092) to 127.0.0.1:<published port>; nil dials directly.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Password returns a secret by variable name: catalog.SuperuserPasswordVar
	// or catalog.PasswordVar(user). An empty answer is an error.
	Password func(variable string) string
	// MigrationsDir, when set, replaces the catalog's migration folders:
	// service s reads MigrationsDir/s (a ConfigMap mounted per service in a
	// kind Job). Empty: Service.Migrations relative to the catalog file.
	MigrationsDir string
	// ProtosDir, when set, replaces protos.root (relative paths are taken as
	// they are, not relative to the catalog).
	ProtosDir string
	// Baseline, when set, replaces protos.baseline.
	Baseline string
}

// TargetsFromEnv reads Targets from environment variables (EnvPostgres,
// EnvRedisNodes, EnvKafkaBrokers, EnvClickHouseURL, EnvMigrationsDir,
// EnvProtosDir, EnvBaseline, EnvDialMap); passwords are read through getenv
// by variable name when a step needs them. Stores not named stay empty: a step
// that needs one says so when it runs.
func TargetsFromEnv(getenv func(string) string) (Targets, error) {
	t := Targets{
		Postgres:      strings.TrimSpace(getenv(EnvPostgres)),
		RedisNodes:    splitList(getenv(EnvRedisNodes)),
		KafkaBrokers:  splitList(getenv(EnvKafkaBrokers)),
		ClickHouseURL: strings.TrimSpace(getenv(EnvClickHouseURL)),
		MigrationsDir: strings.TrimSpace(getenv(EnvMigrationsDir)),
		ProtosDir:     strings.TrimSpace(getenv(EnvProtosDir)),
		Baseline:      strings.TrimSpace(getenv(EnvBaseline)),
		Password:      getenv,
	}
	for _, a := range append(append([]string{t.Postgres}, t.RedisNodes...), t.KafkaBrokers...) {
		if a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return Targets{}, fmt.Errorf("bootstrap: address %q: want host:port", a)
		}
	}
	if m := strings.TrimSpace(getenv(EnvDialMap)); m != "" {
		remap, err := ParseDialMap(m)
		if err != nil {
			return Targets{}, fmt.Errorf("bootstrap: %s: %w", EnvDialMap, err)
		}
		t.Dial = RemapDialer(remap)
	}
	return t, nil
}

// ParseDialMap reads "from=to,from=to" where both sides are host:port.
func ParseDialMap(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, pair := range splitList(s) {
		from, to, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, fmt.Errorf("%q: want from=to", pair)
		}
		for _, a := range []string{from, to} {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return nil, fmt.Errorf("%q: %q is not host:port", pair, a)
			}
		}
		out[from] = to
	}
	return out, nil
}

// RemapDialer returns a dialer that connects to remap[addr] when addr is in
// the map and to addr otherwise: the host-side view of names advertised
// inside the stack's network.
func RemapDialer(remap map[string]string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if to, ok := remap[addr]; ok {
			addr = to
		}
		return d.DialContext(ctx, network, addr)
	}
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// dialer returns t.Dial or a plain dialer.
func (t Targets) dialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	if t.Dial != nil {
		return t.Dial
	}
	var d net.Dialer
	return d.DialContext
}

// secret returns a password by variable, or an error naming the variable.
func (t Targets) secret(variable string) (string, error) {
	if t.Password == nil {
		return "", fmt.Errorf("no password source: set %s", variable)
	}
	v := t.Password(variable)
	if v == "" {
		return "", fmt.Errorf("%s is not set", variable)
	}
	return v, nil
}

// Logf receives progress lines of a step.
type Logf func(format string, args ...any)

// Step is one idempotent bootstrap step.
type Step interface {
	// Name is the step name, one of catalog.Steps.
	Name() string
	// Run brings the store to the catalog's state; running it again changes
	// nothing. log receives one line per change or finding.
	Run(ctx context.Context, c *catalog.Catalog, t Targets, log func(format string, args ...any)) error
}

// All lists every step in catalog.Steps order.
var All = []Step{PostgresInit{}, Migrations{}, RedisClusterInit{}, KafkaTopics{}, ClickHouseInit{}, ProtoValidate{}}

// Lookup returns the step with this name.
func Lookup(name string) (Step, bool) {
	for _, s := range All {
		if s.Name() == name {
			return s, true
		}
	}
	return nil, false
}

// Options change how a step runs; the zero value applies changes and fails
// on drift. `novadev bootstrap <step> --check` and `--allow-drift` set them.
type Options struct {
	// Check observes the store and reports every difference from the
	// catalog (what a run would change, and drift a run would not correct)
	// without changing anything; any difference fails the step with a
	// *DriftError.
	Check bool
	// AllowDrift logs drift as warnings instead of failing the step.
	AllowDrift bool
}

// DriftError says the store differs from the catalog in ways the step does
// not (or, with Options.Check, did not) correct.
type DriftError struct {
	// Step is the step's name.
	Step string
	// Diffs are the differences, one line each: what, the catalog's
	// value, the store's value.
	Diffs []string
	// Hint says what to do.
	Hint string
}

func (e *DriftError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d difference(s) from the catalog:", len(e.Diffs))
	for _, d := range e.Diffs {
		b.WriteString("\n  " + d)
	}
	if e.Hint != "" {
		b.WriteString("\n" + e.Hint)
	}
	return b.String()
}

// WithOptions returns s configured with o, or an error naming the step and
// the option when s has no such mode.
func WithOptions(s Step, o Options) (Step, error) {
	switch st := s.(type) {
	case PostgresInit:
		st.Options = o
		return st, nil
	case RedisClusterInit:
		st.Options = o
		return st, nil
	case KafkaTopics:
		st.Options = o
		return st, nil
	case ClickHouseInit:
		st.Options = o
		return st, nil
	}
	if o.AllowDrift {
		// a changed, failed or missing migration, or a breaking proto
		// change, is an error to fix, never drift to live with
		return nil, fmt.Errorf("%s: --allow-drift does not apply (it is for %s, %s, %s, %s)",
			s.Name(), catalog.StepPostgresInit, catalog.StepRedisClusterInit, catalog.StepKafkaTopics, catalog.StepClickHouseInit)
	}
	if !o.Check {
		return s, nil
	}
	switch st := s.(type) {
	case Migrations:
		return checkedMigrations{Migrations: st, Options: o}, nil
	case ProtoValidate:
		if st.Record {
			return nil, fmt.Errorf("%s: --check changes nothing, --record writes the baseline: choose one", s.Name())
		}
		return st, nil // it only compares, unless recording
	}
	return nil, fmt.Errorf("%s has no --check mode", s.Name())
}

// driftResult ends a step that found drift it does not correct: an error
// listing it, or with allow, one warning line each and nil.
func driftResult(step string, drift []string, allow bool, log func(string, ...any), hint string) error {
	if len(drift) == 0 {
		return nil
	}
	if allow {
		for _, d := range drift {
			log("warning: drift (allowed by --allow-drift): %s", d)
		}
		return nil
	}
	return &DriftError{Step: step, Diffs: drift, Hint: hint + "; --allow-drift only warns"}
}

// checkResult ends a --check run: nothing differs, or every difference
// (the changes a run would make, then the drift it would not correct) is
// reported, failing unless allow.
func checkResult(step string, changes, drift []string, allow bool, log func(string, ...any), driftHint string) error {
	if len(changes) == 0 && len(drift) == 0 {
		log("the store is as the catalog says; nothing would change")
		return nil
	}
	var hints []string
	if len(changes) > 0 {
		hints = append(hints, fmt.Sprintf("`novadev bootstrap %s` (or `novadev up`) makes the changes marked \"would have\"", step))
	}
	if len(drift) > 0 {
		hints = append(hints, driftHint)
	}
	return driftResult(step, append(changes, drift...), allow, log, strings.Join(hints, "; "))
}

// options returns o; steps embedding Options have it, for tests.
func (o Options) options() Options { return o }
