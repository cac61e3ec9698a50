package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/novadev/novadev/internal/bootstrap"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/contract"
	"github.com/novadev/novadev/internal/probe"
)

// Checks returns the checks of inst's catalog, in the staging guide's
// order: bootstraps, stores, services (ready, gRPC, metrics), then the data
// layer (databases, logins, migrations, Redis Cluster, Kafka topics,
// ClickHouse schema), then, when inst is also a Cluster, the
// Kubernetes-only checks.
func Checks(inst Instance) []Check {
	c := inst.Catalog()
	b := &builder{inst: inst, c: c, g: c.Graph()}
	for _, bs := range c.Bootstraps {
		if _, ok := b.g.Node(bs.Name); ok {
			b.bootstrap(bs)
		}
	}
	for _, st := range c.ActiveStores() {
		b.store(st)
	}
	services := c.ActiveServices()
	for _, s := range services {
		b.service(s)
	}
	for _, s := range services {
		b.grpc(s)
		b.metrics(s)
	}
	if pg := b.first(catalog.StorePostgres); pg != nil {
		b.databases(pg, services)
		var dbs []*catalog.Service
		for _, s := range services {
			if s.Database != nil {
				dbs = append(dbs, s)
			}
		}
		for i, s := range dbs {
			var other *catalog.Service
			if len(dbs) > 1 {
				other = dbs[(i+1)%len(dbs)]
			}
			b.login(pg, s, other)
		}
		for _, s := range dbs {
			if s.Migrations != "" {
				b.migrations(pg, s)
			}
		}
	}
	if st := b.first(catalog.StoreRedisCluster); st != nil {
		b.redisCluster(st)
	}
	if st := b.first(catalog.StoreKafka); st != nil {
		b.kafkaTopics(st)
	}
	if st := b.first(catalog.StoreClickHouse); st != nil {
		b.clickhouse(st)
	}
	if cl, ok := inst.(Cluster); ok {
		b.checks = append(b.checks, ClusterChecks(c, cl)...)
	}
	ex, explains := inst.(Explainer)
	for i := range b.checks {
		ck := &b.checks[i]
		if it, ok := b.g.Node(ck.Node); ok && it.Kind == catalog.KindService {
			ck.Upstream, _ = b.g.Closure(ck.Node)
			ck.Upstream = slices.DeleteFunc(ck.Upstream, func(n string) bool { return n == ck.Node })
		}
		if run, node := ck.Run, ck.Node; explains && run != nil {
			ck.Run = func(ctx context.Context) (string, error) {
				start := time.Now()
				detail, err := run(ctx)
				var skip *SkipError
				if err != nil && !errors.As(err, &skip) {
					err = ex.Explain(node, start, err)
				}
				return detail, err
			}
		}
	}
	return b.checks
}

type builder struct {
	inst   Instance
	c      *catalog.Catalog
	g      *catalog.Graph
	checks []Check
}

func (b *builder) add(c Check) { b.checks = append(b.checks, c) }

// first returns the first active, non-external store of a kind.
func (b *builder) first(kind string) *catalog.Store {
	for _, st := range b.c.StoresOfKind(kind) {
		if !st.External {
			return st
		}
	}
	return nil
}

// ready fails unless the backend records node as ready.
func (b *builder) ready(ctx context.Context, node string) (string, error) {
	ns, err := b.inst.Node(ctx, node)
	if err != nil {
		return "", err
	}
	if ns.Skip != "" {
		return "", &SkipError{Reason: node + " does not run here: " + ns.Skip}
	}
	if !ns.Ready {
		return "", fmt.Errorf("%s is not ready: %s", node, ns.Detail)
	}
	return ns.Detail, nil
}

// storeNeeds returns a store node and the bootstraps of that store that
// must be done for a data check (postgres-init for logins, migrations for
// _sqlx_migrations, ...).
func storeNeeds(st *catalog.Store, bootstraps ...string) []string {
	return append([]string{st.Name}, bootstraps...)
}

// bootstrapsOf returns the names of the bootstraps running step on store.
func (b *builder) bootstrapsOf(store, step string) []string {
	var out []string
	for _, bs := range b.c.BootstrapsOfStep(step) {
		if bs.Store.Value == store {
			if _, ok := b.g.Node(bs.Name); ok {
				out = append(out, bs.Name)
			}
		}
	}
	return out
}

func (b *builder) bootstrap(bs *catalog.Bootstrap) {
	c := Check{
		ID: bs.Name + "/completed", Kind: KindBootstrap, Node: bs.Name, Gate: true,
		What: "the " + bs.Name + " startup job completed against the current catalog",
		Run:  func(ctx context.Context) (string, error) { return b.ready(ctx, bs.Name) },
	}
	if st, ok := b.c.Stores[bs.Store.Value]; ok && st.External {
		c.Skip = "its store " + st.Name + " is external: not run here"
	}
	b.add(c)
}

func (b *builder) store(st *catalog.Store) {
	c := Check{ID: st.Name + "/up", Kind: KindStore, Node: st.Name, Gate: true}
	if st.External {
		c.What = st.Name + " is external"
		c.Skip = "external store (" + st.URI + "): not run by this instance"
		b.add(c)
		return
	}
	var probeOf func(ctx context.Context) (probe.Check, error)
	switch st.Kind {
	case catalog.StorePostgres:
		c.What = "PostgreSQL accepts the superuser's login (pg_isready and more)"
		probeOf = func(context.Context) (probe.Check, error) {
			addr, err := b.inst.Address(st.Name, st.Port)
			if err != nil {
				return nil, err
			}
			pw, err := b.inst.Credential(catalog.SuperuserPasswordVar)
			if err != nil {
				return nil, err
			}
			return probe.Postgres{Addr: addr, User: bootstrap.PostgresSuperuser, Password: pw, Database: "postgres"}, nil
		}
	case catalog.StoreRedisCluster:
		c.What = fmt.Sprintf("every one of the %d Redis nodes answers PING", st.Nodes)
		probeOf = func(context.Context) (probe.Check, error) {
			addrs, err := b.redisAddrs(st)
			if err != nil {
				return nil, err
			}
			return probe.Redis{Addrs: addrs}, nil
		}
	case catalog.StoreKafka:
		c.What = "every Kafka broker answers metadata and ApiVersions (the guide's kafka-broker-api-versions.sh)"
		probeOf = func(context.Context) (probe.Check, error) {
			addr, err := b.inst.Address(st.Name, st.Port)
			if err != nil {
				return nil, err
			}
			return kafkaBrokers{addr: addr, dial: b.inst.Dial}, nil
		}
	case catalog.StoreClickHouse:
		c.What = "ClickHouse answers /ping and SELECT 1 over HTTP"
		probeOf = func(context.Context) (probe.Check, error) {
			addr, err := b.inst.Address(st.Name, st.Port)
			if err != nil {
				return nil, err
			}
			user, pw, err := b.clickHouseAdmin()
			if err != nil {
				return nil, err
			}
			return probe.ClickHouse{URL: "http://" + addr, User: user, Password: pw}, nil
		}
	case catalog.StoreElasticsearch:
		c.What = "Elasticsearch's cluster health is green or yellow (/_cluster/health)"
		probeOf = func(context.Context) (probe.Check, error) {
			addr, err := b.inst.Address(st.Name, st.Port)
			if err != nil {
				return nil, err
			}
			return probe.Elasticsearch{URL: "http://" + addr}, nil
		}
	default:
		c.What = st.Name + " runs"
	}
	c.Run = func(ctx context.Context) (string, error) {
		detail, err := b.ready(ctx, st.Name)
		if err != nil || probeOf == nil {
			return detail, err
		}
		p, err := probeOf(ctx)
		if errors.Is(err, ErrNotPublished) {
			return detail + "; " + err.Error() + ": protocol not checked", nil
		}
		if err != nil {
			return "", err
		}
		if ok, err := p.Check(ctx); !ok {
			if err == nil {
				err = errors.New("not ready")
			}
			return "", fmt.Errorf("%s: %w", p, err)
		}
		return p.String(), nil
	}
	b.add(c)
}

// redisAddrs returns the host addresses of a Redis Cluster's nodes.
func (b *builder) redisAddrs(st *catalog.Store) ([]string, error) {
	var out []string
	for i := range max(st.Nodes, 1) {
		a, err := b.inst.Address(st.Name, st.Port+i)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func (b *builder) service(s *catalog.Service) {
	b.add(Check{
		ID: s.Name + "/ready", Kind: KindService, Node: s.Name, Gate: true,
		What: s.Name + " runs (every container running, every pod Ready)",
		Run:  func(ctx context.Context) (string, error) { return b.ready(ctx, s.Name) },
	})
}

// placeholder reports whether s runs the environment's placeholder image.
func (b *builder) placeholder(s *catalog.Service) bool {
	return b.c.Env != nil && b.c.Env.Images.Placeholder != "" && s.Image == b.c.Env.Images.Placeholder
}

func portOf(s *catalog.Service, name string) int {
	for _, p := range s.Ports {
		if p.Name == name {
			return p.Port
		}
	}
	return 0
}

func (b *builder) grpc(s *catalog.Service) {
	port := portOf(s, "grpc")
	c := Check{ID: s.Name + "/grpc", Kind: KindGRPC, Node: s.Name, Needs: []string{s.Name},
		What: fmt.Sprintf("grpc.health.v1 SERVING and reflection answering on %s's port %d", s.Name, port)}
	if port == 0 {
		c.Skip = s.Name + " has no grpc port"
		b.add(c)
		return
	}
	if s.API != "" {
		c.What += "; reflection lists " + s.API
	}
	// A placeholder serves the API only when it was given the proto files
	// (NOVA_PROTO_DIR); without them it serves health and reflection, its
	// documented reduced mode, which is not a failure of the environment.
	placeholder := b.placeholder(s)
	c.Run = func(ctx context.Context) (string, error) {
		addr, err := b.inst.Address(s.Name, port)
		if err != nil {
			return "", err
		}
		msg, err := checkGRPC(ctx, addr, s.API)
		var missing *missingAPIError
		if placeholder && errors.As(err, &missing) {
			return fmt.Sprintf("SERVING; reflection lists %s (a placeholder without the proto files: %s not served)",
				strings.Join(missing.listed, ", "), s.API), nil
		}
		return msg, err
	}
	b.add(c)
}

func (b *builder) metrics(s *catalog.Service) {
	port := portOf(s, "metrics")
	c := Check{ID: s.Name + "/metrics", Kind: KindMetrics, Node: s.Name, Needs: []string{s.Name},
		What: fmt.Sprintf("%s's metrics port %d answers /metrics in Prometheus text format", s.Name, port)}
	if port == 0 {
		c.Skip = s.Name + " declares no metrics port"
		b.add(c)
		return
	}
	c.Run = func(ctx context.Context) (string, error) {
		addr, err := b.inst.Address(s.Name, port)
		if errors.Is(err, ErrNotPublished) {
			// the gRPC check still proves the service answers; say plainly
			// that its metrics were not looked at
			return "", &SkipError{Reason: fmt.Sprintf("metrics not checked: %v", err)}
		}
		if err != nil {
			return "", err
		}
		return checkMetrics(ctx, addr)
	}
	b.add(c)
}

// pgConnect logs in as user to database through the instance.
func (b *builder) pgConnect(ctx context.Context, pg *catalog.Store, user, passwordVar, database string) (*pgx.Conn, error) {
	addr, err := b.inst.Address(pg.Name, pg.Port)
	if err != nil {
		return nil, err
	}
	pw, err := b.inst.Credential(passwordVar)
	if err != nil {
		return nil, err
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, pw), Host: addr, Path: "/" + database, RawQuery: "sslmode=disable&connect_timeout=10"}
	return pgx.Connect(ctx, u.String())
}

func (b *builder) databases(pg *catalog.Store, services []*catalog.Service) {
	var want []string
	for _, s := range services {
		if s.Database != nil {
			want = append(want, s.Database.Name)
		}
	}
	slices.Sort(want)
	b.add(Check{
		ID: pg.Name + "/databases", Kind: KindDatabases, Node: pg.Name,
		Needs: storeNeeds(pg, b.bootstrapsOf(pg.Name, catalog.StepPostgresInit)...),
		What:  fmt.Sprintf("the %d service databases exist, each owned by its owner role", len(want)),
		Run: func(ctx context.Context) (string, error) {
			conn, err := b.pgConnect(ctx, pg, bootstrap.PostgresSuperuser, catalog.SuperuserPasswordVar, "postgres")
			if err != nil {
				return "", err
			}
			defer conn.Close(context.Background())
			rows, err := conn.Query(ctx, "SELECT d.datname, r.rolname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba")
			if err != nil {
				return "", err
			}
			owners := map[string]string{}
			for rows.Next() {
				var db, owner string
				if err := rows.Scan(&db, &owner); err != nil {
					return "", err
				}
				owners[db] = owner
			}
			if err := rows.Err(); err != nil {
				return "", err
			}
			var problems []string
			for _, s := range services {
				if s.Database == nil {
					continue
				}
				owner, ok := owners[s.Database.Name]
				switch want := bootstrap.OwnerRole(s.Database); {
				case !ok:
					problems = append(problems, s.Database.Name+" missing")
				case owner != want:
					problems = append(problems, fmt.Sprintf("%s owned by %s, want %s", s.Database.Name, owner, want))
				}
			}
			if len(problems) > 0 {
				return "", errors.New(strings.Join(problems, "; "))
			}
			return fmt.Sprintf("%d databases present: %s", len(want), strings.Join(want, ", ")), nil
		},
	})
}

func (b *builder) login(pg *catalog.Store, s, other *catalog.Service) {
	what := fmt.Sprintf("%s logs into %s", s.Database.User, s.Database.Name)
	if other != nil {
		what += fmt.Sprintf(" and is refused on %s", other.Database.Name)
	}
	b.add(Check{
		ID: s.Name + "/database-login", Kind: KindDatabaseLogin, Node: pg.Name,
		Needs: storeNeeds(pg, b.bootstrapsOf(pg.Name, catalog.StepPostgresInit)...),
		What:  what,
		Run: func(ctx context.Context) (string, error) {
			pwVar := catalog.PasswordVar(s.Database.User)
			conn, err := b.pgConnect(ctx, pg, s.Database.User, pwVar, s.Database.Name)
			if err != nil {
				return "", fmt.Errorf("%s cannot log into %s: %w", s.Database.User, s.Database.Name, err)
			}
			var db string
			err = conn.QueryRow(ctx, "SELECT current_database()").Scan(&db)
			conn.Close(context.Background())
			if err != nil {
				return "", err
			}
			if other == nil {
				return what, nil
			}
			conn, err = b.pgConnect(ctx, pg, s.Database.User, pwVar, other.Database.Name)
			if err == nil {
				conn.Close(context.Background())
				return "", fmt.Errorf("%s logged into %s, another service's database: least privilege is broken", s.Database.User, other.Database.Name)
			}
			if !strings.Contains(err.Error(), "permission denied") {
				return "", fmt.Errorf("%s on %s: want permission denied, got: %w", s.Database.User, other.Database.Name, err)
			}
			return what + " (permission denied)", nil
		},
	})
}

func (b *builder) migrations(pg *catalog.Store, s *catalog.Service) {
	needs := storeNeeds(pg, b.bootstrapsOf(pg.Name, catalog.StepMigrations)...)
	b.add(Check{
		ID: s.Name + "/migrations", Kind: KindMigrations, Node: pg.Name, Needs: needs,
		What: "_sqlx_migrations of " + s.Database.Name + " records every migration of " + s.Migrations + " as successful, checksums matching",
		Run: func(ctx context.Context) (string, error) {
			// as the superuser, as the guide's psql does: who may read the
			// table is postgres-init's policy, not what this check proves
			conn, err := b.pgConnect(ctx, pg, bootstrap.PostgresSuperuser, catalog.SuperuserPasswordVar, s.Database.Name)
			if err != nil {
				return "", err
			}
			defer conn.Close(context.Background())
			rows, err := conn.Query(ctx, "SELECT version, success, checksum FROM _sqlx_migrations")
			if err != nil {
				return "", fmt.Errorf("_sqlx_migrations in %s: %w", s.Database.Name, err)
			}
			type applied struct {
				ok  bool
				sum []byte
			}
			got := map[int64]applied{}
			for rows.Next() {
				var v int64
				var a applied
				if err := rows.Scan(&v, &a.ok, &a.sum); err != nil {
					return "", err
				}
				got[v] = a
			}
			if err := rows.Err(); err != nil {
				return "", err
			}
			files, ferr := bootstrap.LoadMigrations(filepath.Join(filepath.Dir(b.c.File), s.Migrations))
			if ferr != nil {
				// the files are not here (a catalog mounted alone): the
				// table and its rows are what can be proven
				n := 0
				for _, a := range got {
					if a.ok {
						n++
					}
				}
				if n == 0 {
					return "", fmt.Errorf("_sqlx_migrations in %s records no successful migration", s.Database.Name)
				}
				return fmt.Sprintf("%d successful migrations recorded (files not readable here: %v)", n, ferr), nil
			}
			var problems []string
			for _, m := range files {
				a, ok := got[m.Version]
				switch {
				case !ok:
					problems = append(problems, fmt.Sprintf("%d %s not applied", m.Version, m.Description))
				case !a.ok:
					problems = append(problems, fmt.Sprintf("%d %s recorded as failed", m.Version, m.Description))
				case !bytes.Equal(a.sum, m.Checksum):
					problems = append(problems, fmt.Sprintf("%d %s: checksum differs from %s", m.Version, m.Description, filepath.Base(m.File)))
				}
			}
			if len(problems) > 0 {
				return "", errors.New(strings.Join(problems, "; "))
			}
			return fmt.Sprintf("%d of %d migrations applied", len(files), len(files)), nil
		},
	})
}

func (b *builder) redisCluster(st *catalog.Store) {
	masters := max(st.Nodes, 1)
	b.add(Check{
		ID: st.Name + "/cluster", Kind: KindRedisCluster, Node: st.Name,
		Needs: storeNeeds(st, b.bootstrapsOf(st.Name, catalog.StepRedisClusterInit)...),
		What:  fmt.Sprintf("every node reports cluster_state:ok with all 16384 slots; CLUSTER NODES lists %d connected masters", masters),
		Run: func(ctx context.Context) (string, error) {
			addrs, err := b.redisAddrs(st)
			if err != nil {
				return "", err
			}
			p := probe.RedisCluster{Addrs: addrs, Masters: masters}
			if ok, err := p.Check(ctx); !ok {
				return "", err
			}
			// the guide's "redis-cli cluster nodes": masters connected
			cl := redis.NewClient(&redis.Options{Addr: addrs[0], MaxRetries: -1, PoolSize: 1, Protocol: 2, DisableIdentity: true})
			defer cl.Close()
			nodes, err := cl.ClusterNodes(ctx).Result()
			if err != nil {
				return "", err
			}
			n, bad := clusterMasters(nodes)
			if len(bad) > 0 {
				return "", fmt.Errorf("CLUSTER NODES: %s", strings.Join(bad, "; "))
			}
			if n < masters {
				return "", fmt.Errorf("CLUSTER NODES lists %d connected masters, want %d", n, masters)
			}
			return fmt.Sprintf("cluster_state:ok, 16384 slots, %d masters connected", n), nil
		},
	})
}

// clusterMasters counts the connected masters in CLUSTER NODES output and
// lists the nodes that are failing or disconnected.
func clusterMasters(out string) (int, []string) {
	n := 0
	var bad []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		flags := strings.Split(f[2], ",")
		if slices.Contains(flags, "fail") || slices.Contains(flags, "fail?") || f[7] != "connected" {
			bad = append(bad, fmt.Sprintf("%s %s is %s, link %s", f[0][:min(8, len(f[0]))], f[1], f[2], f[7]))
			continue
		}
		if slices.Contains(flags, "master") {
			n++
		}
	}
	return n, bad
}

func (b *builder) kafkaTopics(st *catalog.Store) {
	b.add(Check{
		ID: st.Name + "/topics", Kind: KindKafkaTopics, Node: st.Name,
		Needs: storeNeeds(st, b.bootstrapsOf(st.Name, catalog.StepKafkaTopics)...),
		What:  fmt.Sprintf("a Kafka client lists the %d catalog topics with their partition counts", len(st.Topics)),
		Run: func(ctx context.Context) (string, error) {
			addr, err := b.inst.Address(st.Name, st.Port)
			if err != nil {
				return "", err
			}
			cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.Dialer(b.inst.Dial), kgo.RequestRetries(1))
			if err != nil {
				return "", err
			}
			defer cl.Close()
			var names []string
			for _, t := range st.Topics {
				names = append(names, t.Name)
			}
			td, err := kadm.NewClient(cl).ListTopics(ctx, names...)
			if err != nil {
				return "", err
			}
			var problems []string
			for _, t := range st.Topics {
				d, ok := td[t.Name]
				switch {
				case !ok || d.Err != nil:
					problems = append(problems, t.Name+" missing")
				case t.Partitions > 0 && len(d.Partitions) != t.Partitions:
					problems = append(problems, fmt.Sprintf("%s has %d partitions, want %d", t.Name, len(d.Partitions), t.Partitions))
				}
			}
			if len(problems) > 0 {
				return "", errors.New(strings.Join(problems, "; "))
			}
			return fmt.Sprintf("%d topics listed: %s", len(names), strings.Join(names, ", ")), nil
		},
	})
}

func (b *builder) clickhouse(st *catalog.Store) {
	n := 0
	for _, db := range st.Databases {
		n += len(db.Tables)
	}
	b.add(Check{
		ID: st.Name + "/schema", Kind: KindClickHouse, Node: st.Name,
		Needs: storeNeeds(st, b.bootstrapsOf(st.Name, catalog.StepClickHouseInit)...),
		What:  fmt.Sprintf("SHOW DATABASES lists the %d catalog databases and system.tables their %d tables", len(st.Databases), n),
		Run: func(ctx context.Context) (string, error) {
			addr, err := b.inst.Address(st.Name, st.Port)
			if err != nil {
				return "", err
			}
			user, pw, err := b.clickHouseAdmin()
			if err != nil {
				return "", err
			}
			base := "http://" + addr + "/"
			dbs, err := chQuery(ctx, b.inst.Dial, base, user, pw, "SHOW DATABASES")
			if err != nil {
				return "", err
			}
			tables, err := chQuery(ctx, b.inst.Dial, base, user, pw, "SELECT concat(database, '.', name) FROM system.tables")
			if err != nil {
				return "", err
			}
			var problems []string
			for _, db := range st.Databases {
				if !slices.Contains(dbs, db.Name) {
					problems = append(problems, "database "+db.Name+" missing")
					continue
				}
				for _, t := range db.Tables {
					if !slices.Contains(tables, db.Name+"."+t.Name) {
						problems = append(problems, "table "+db.Name+"."+t.Name+" missing")
					}
				}
			}
			if len(problems) > 0 {
				return "", errors.New(strings.Join(problems, "; "))
			}
			return fmt.Sprintf("databases %s present with %d tables", strings.Join(dbNames(st), ", "), n), nil
		},
	})
}

// clickHouseAdmin is the identity verify queries ClickHouse as: the
// bootstrap's admin (the default user may query only from inside the
// server's container).
func (b *builder) clickHouseAdmin() (user, password string, err error) {
	pw, err := b.inst.Credential(catalog.PasswordVar(contract.ClickHouseAdminUser))
	if err != nil {
		return "", "", err
	}
	return contract.ClickHouseAdminUser, pw, nil
}

// chQuery runs one query over ClickHouse's HTTP interface as user and
// returns its lines (TabSeparated, one value per line here).
func chQuery(ctx context.Context, dial probe.DialFunc, base, user, password, q string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base, strings.NewReader(q))
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(user, password)
	resp, err := httpClient(dial).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%q: HTTP %d: %s", q, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return strings.Fields(string(body)), nil
}

func httpClient(dial probe.DialFunc) *http.Client {
	tr := &http.Transport{DisableKeepAlives: true}
	if dial != nil {
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) { return dial(ctx, network, addr) }
	}
	return &http.Client{Transport: tr}
}

// checkMetrics GETs /metrics and wants Prometheus text with samples.
func checkMetrics(ctx context.Context, addr string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return "", err
	}
	resp, err := httpClient(nil).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /metrics on %s: HTTP %d", addr, resp.StatusCode)
	}
	families, samples := countMetrics(string(body))
	if families == 0 || samples == 0 {
		return "", fmt.Errorf("GET /metrics on %s: no Prometheus metrics in %d bytes (%s)", addr, len(body), resp.Header.Get("Content-Type"))
	}
	return fmt.Sprintf("/metrics on %s: %d metric families, %d samples", addr, families, samples), nil
}

// kafkaBrokers asks every broker the metadata names for its API versions.
type kafkaBrokers struct {
	addr string
	dial probe.DialFunc
}

func (k kafkaBrokers) Check(ctx context.Context) (bool, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.addr), kgo.Dialer(k.dial), kgo.RequestRetries(0), kgo.RetryTimeout(0))
	if err != nil {
		return false, err
	}
	defer cl.Close()
	vs, err := kadm.NewClient(cl).ApiVersions(ctx)
	if err != nil {
		return false, err
	}
	if len(vs) == 0 {
		return false, errors.New("metadata lists no brokers")
	}
	var problems []string
	for _, v := range vs.Sorted() {
		if v.Err != nil {
			problems = append(problems, fmt.Sprintf("broker %d: %v", v.NodeID, v.Err))
		} else if _, ok := v.KeyMaxVersion(3); !ok { // 3: Metadata
			problems = append(problems, fmt.Sprintf("broker %d lists no Metadata API", v.NodeID))
		}
	}
	if len(problems) > 0 {
		return false, errors.New(strings.Join(problems, "; "))
	}
	return true, nil
}

func (k kafkaBrokers) String() string {
	return "kafka metadata and ApiVersions of every broker via " + k.addr
}

func dbNames(st *catalog.Store) []string {
	var out []string
	for _, db := range st.Databases {
		out = append(out, db.Name)
	}
	return out
}

// Select keeps the checks about the given graph nodes (the closure of
// `up --only`'s services): an environment started in part is verified in
// the same part. Checks about no node (NetworkPolicies) are kept.
func Select(checks []Check, nodes []string) []Check {
	var out []Check
	for _, c := range checks {
		if c.Node == "" || slices.Contains(nodes, c.Node) {
			out = append(out, c)
		}
	}
	return out
}

// countMetrics counts the metric families (# TYPE lines) and samples of a
// Prometheus text exposition.
func countMetrics(body string) (families, samples int) {
	for _, line := range strings.Split(body, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "# TYPE "):
			families++
		case line != "" && !strings.HasPrefix(line, "#"):
			samples++
		}
	}
	return families, samples
}
