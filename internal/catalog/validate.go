package catalog

import (
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

var (
	dnsLabel   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	pgIdent    = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	topicName  = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)
	chIdent    = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	cpuQty     = regexp.MustCompile(`^([0-9]+m|[0-9]+(\.[0-9]+)?)$`)
	memQty     = regexp.MustCompile(`^[0-9]+(Ki|Mi|Gi|Ti|k|M|G|T)?$`)
	profileRef = dnsLabel
	notLabel   = regexp.MustCompile(`[^a-z0-9-]+`)
	envName    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	extName    = regexp.MustCompile(`^[a-z0-9_-]+$`)
	semver     = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$`) // semver.org: no leading zeros
)

func checkDNSLabel(p *problems, pos Pos, field, what, name string) {
	if len(name) > 63 || !dnsLabel.MatchString(name) {
		fixed := strings.Trim(notLabel.ReplaceAllString(strings.ToLower(name), "-"), "-")
		hint := "use lower-case letters, digits and '-', at most 63 characters"
		if fixed != "" && fixed != name && len(fixed) <= 63 {
			hint = fmt.Sprintf("did you mean %q?", fixed)
		}
		p.add(pos, field, hint, "%s name %q is not a DNS-1123 label", what, name)
	}
}

func validate(c *Catalog, p *problems) {
	if c.APIVersion != APIVersion {
		p.add(c.PosOf("apiVersion"), "apiVersion", fmt.Sprintf("use %q", APIVersion), "unsupported apiVersion %q", c.APIVersion)
	}
	if c.Kind != KindCatalog {
		p.add(c.PosOf("kind"), "kind", fmt.Sprintf("use %q (environment overlays go in their own files)", KindCatalog), "kind is %q", c.Kind)
	}
	if c.Metadata.Name == "" {
		p.add(c.PosOf("metadata"), "metadata.name", "", "a catalog needs a name")
	} else {
		checkDNSLabel(p, c.Metadata.PosOf("name"), "metadata.name", "catalog", c.Metadata.Name)
	}
	if c.HostPortBase < 0 || c.HostPortBase > 65535 {
		p.add(c.PosOf("hostPortBase"), "hostPortBase", "", "must be a port number")
	}
	validateLabels(p, c.Metadata, "metadata.labels")
	validateImageSource(p, c.Images.PosOf("registry"), "images.registry", c.Images.Registry, c.Images.PosOf("tag"), "images.tag", c.Images.Tag)
	validateDefaults(c, p)
	if len(c.Services) == 0 {
		p.add(c.PosOf("services"), "services", "", "a catalog needs at least one service")
	}

	// every name shares one namespace: the graph's
	owner := map[string]string{}
	claim := func(name, kind string, pos Pos, field string) {
		if prev, ok := owner[name]; ok {
			p.add(pos, field, "", "%s name %q is already used by a %s", kind, name, prev)
			return
		}
		owner[name] = kind
	}
	for _, name := range c.StoreNames() {
		claim(name, "store", c.Stores[name].At, "stores."+name)
	}
	for _, name := range c.ServiceNames() {
		claim(name, "service", c.Services[name].At, "services."+name)
	}
	for i, b := range c.Bootstraps {
		if b != nil && b.Name != "" {
			claim(b.Name, "bootstrap", b.PosOf("name"), fmt.Sprintf("bootstraps[%d].name", i))
		}
	}

	stores := c.StoreNames()
	services := c.ServiceNames()
	storeOfKind := func(kind string) []*Store {
		var out []*Store
		for _, n := range stores {
			if c.Stores[n].Kind == kind {
				out = append(out, c.Stores[n])
			}
		}
		return out
	}
	profiles := map[string]bool{}

	for _, name := range stores {
		validateStore(c.Stores[name], p, profiles)
	}

	dbNames, dbUsers := map[string]string{}, map[string]string{}
	var depNames []string // candidates of "did you mean", built once
	for _, name := range services {
		s := c.Services[name]
		f := "services." + name
		checkDNSLabel(p, s.At, f, "service", name)
		if s.Image == "" && s.Build == nil {
			p.add(s.At, f, "add image: <repository> or build: {context: <dir>}", "service has neither image nor build context")
		}
		if s.Build != nil && s.Build.Context == "" {
			p.add(s.Build.At, f+".build.context", "", "a build needs a context directory")
		}
		if s.Image != "" {
			validateImage(p, s.PosOf("image"), f+".image", s.Image)
		}
		validatePorts(s, p)
		validateReadiness(s, p)
		validateResources(s.Resources, f, p)
		if s.Replicas < 1 || s.Replicas > MaxReplicas {
			p.add(s.PosOf("replicas"), f+".replicas", "", "must be between 1 and %d, got %d", MaxReplicas, s.Replicas)
		}
		for i, pr := range s.Profiles {
			if !profileRef.MatchString(pr) {
				p.add(s.PosOf("profiles"), fmt.Sprintf("%s.profiles[%d]", f, i), "", "profile %q is not a DNS-1123 label", pr)
			}
			profiles[pr] = true
		}
		for k := range s.Env {
			if !envName.MatchString(k) {
				p.add(s.PosOf("env"), f+".env."+k, "", "%q is not a valid environment variable name", k)
			}
		}
		seenDep := map[string]bool{}
		for i, d := range s.DependsOn {
			df := fmt.Sprintf("%s.dependsOn[%d]", f, i)
			if seenDep[d.Value] {
				p.add(d.At, df, "", "%q is listed twice", d.Value)
			}
			seenDep[d.Value] = true
			if _, ok := c.Services[d.Value]; ok {
				continue
			}
			if _, ok := c.Stores[d.Value]; ok {
				continue
			}
			hint := ""
			if !p.full() {
				if depNames == nil {
					depNames = append(slices.Clone(services), stores...)
				}
				hint = suggest(d.Value, depNames)
			}
			p.add(d.At, df, hint, "unknown service or store %q", d.Value)
		}
		if db := s.Database; db != nil {
			if len(storeOfKind(StorePostgres)) == 0 {
				p.add(db.At, f+".database", "add a store of kind postgres", "service has a database but the catalog has no postgres store")
			}
			if !pgIdent.MatchString(db.Name) || len(db.Name) > 63 {
				p.add(db.PosOf("name"), f+".database.name", "use lower-case letters, digits and _", "%q is not a plain PostgreSQL identifier", db.Name)
			}
			if !pgIdent.MatchString(db.User) || len(db.User) > 63 {
				p.add(db.PosOf("user"), f+".database.user", "use lower-case letters, digits and _", "%q is not a plain PostgreSQL identifier", db.User)
			}
			if other, ok := dbNames[db.Name]; ok {
				p.add(db.PosOf("name"), f+".database.name", "", "database %q is also used by %s", db.Name, other)
			}
			dbNames[db.Name] = name
			if other, ok := dbUsers[db.User]; ok {
				p.add(db.PosOf("user"), f+".database.user", "", "database user %q is also used by %s", db.User, other)
			}
			dbUsers[db.User] = name
		}
		if s.Migrations != "" {
			if s.Database == nil {
				p.add(s.PosOf("migrations"), f+".migrations", "add database: {}", "migrations need a database")
			}
		}
		u := s.Uses
		if u.Redis && len(storeOfKind(StoreRedisCluster)) == 0 {
			p.add(u.PosOf("redis"), f+".uses.redis", "add a store of kind redis-cluster", "no redis-cluster store in the catalog")
		}
		if u.Neo4j && len(storeOfKind(StoreNeo4j)) == 0 {
			p.add(u.PosOf("neo4j"), f+".uses.neo4j", "add a store of kind neo4j", "no neo4j store in the catalog")
		}
		if u.Elasticsearch && len(storeOfKind(StoreElasticsearch)) == 0 {
			p.add(u.PosOf("elasticsearch"), f+".uses.elasticsearch", "add a store of kind elasticsearch", "no elasticsearch store in the catalog")
		}
		if u.Kafka != nil {
			ks := storeOfKind(StoreKafka)
			if len(ks) == 0 {
				p.add(u.PosOf("kafka"), f+".uses.kafka", "add a store of kind kafka", "no kafka store in the catalog")
			}
			var topics []string
			for _, k := range ks {
				for _, t := range k.Topics {
					if t != nil {
						topics = append(topics, t.Name)
					}
				}
			}
			for i, t := range u.Kafka.Topics {
				if len(ks) > 0 && !slices.Contains(topics, t.Value) {
					p.add(t.At, fmt.Sprintf("%s.uses.kafka.topics[%d]", f, i), suggest(t.Value, topics), "unknown kafka topic %q", t.Value)
				}
			}
		}
		if u.ClickHouse != nil {
			cs := storeOfKind(StoreClickHouse)
			if len(cs) == 0 {
				p.add(u.PosOf("clickhouse"), f+".uses.clickhouse", "add a store of kind clickhouse", "no clickhouse store in the catalog")
			}
			var dbs []string
			for _, st := range cs {
				for _, d := range st.Databases {
					if d != nil {
						dbs = append(dbs, d.Name)
					}
				}
			}
			if d := u.ClickHouse.Database; len(cs) > 0 && d.Value != "" && !slices.Contains(dbs, d.Value) {
				p.add(d.At, f+".uses.clickhouse.database", suggest(d.Value, dbs), "unknown clickhouse database %q", d.Value)
			}
		}
	}

	if len(c.Bootstraps) > MaxBootstraps {
		p.add(c.PosOf("bootstraps"), "bootstraps", "", "%d bootstraps: at most %d", len(c.Bootstraps), MaxBootstraps)
	}
	var bootNames []string
	for _, b := range c.Bootstraps {
		if b != nil {
			bootNames = append(bootNames, b.Name)
		}
	}
	for i, b := range c.Bootstraps {
		f := fmt.Sprintf("bootstraps[%d]", i)
		if b == nil {
			p.add(c.PosOf("bootstraps"), f, "", "empty bootstrap")
			continue
		}
		if b.Name == "" {
			p.add(b.At, f+".name", "", "a bootstrap needs a name")
		} else {
			checkDNSLabel(p, b.PosOf("name"), f+".name", "bootstrap", b.Name)
		}
		want, known := stepStore[b.Step]
		if !known {
			p.add(b.PosOf("step"), f+".step", suggest(b.Step, Steps), "unknown bootstrap step %q (one of %s)", b.Step, strings.Join(Steps, ", "))
		}
		if b.Store.Value != "" {
			st, ok := c.Stores[b.Store.Value]
			switch {
			case !ok:
				p.add(b.Store.At, f+".store", suggest(b.Store.Value, stores), "unknown store %q", b.Store.Value)
			case known && want != st.Kind:
				p.add(b.Store.At, f+".store", "", "step %s works on a %s store, but %q is a %s store", b.Step, want, b.Store.Value, st.Kind)
			case st.External:
				p.add(b.Store.At, f+".store", "", "store %q is external: novadev does not bootstrap it", b.Store.Value)
			case st.Optional:
				// an optional store may be skipped; a step on it would
				// be skipped too and its users would run without the
				// schema they were promised
				p.add(b.Store.At, f+".store", "remove optional: true from store "+b.Store.Value+", or this bootstrap", "store %q is optional (it may be unavailable): novadev does not bootstrap it", b.Store.Value)
			}
		} else if known && want != "" {
			p.add(b.At, f+".store", "", "step %s needs store: <a %s store>", b.Step, want)
		}
		for j, n := range b.Needs {
			if !slices.Contains(bootNames, n.Value) {
				p.add(n.At, fmt.Sprintf("%s.needs[%d]", f, j), suggest(n.Value, bootNames), "unknown bootstrap %q", n.Value)
			}
		}
		checkTimeout(p, b.Node, f+".timeout", b.Timeout)
	}
	if c.Protos.Version != "" && !semver.MatchString(c.Protos.Version) {
		p.add(c.Protos.PosOf("version"), "protos.version", "use MAJOR.MINOR.PATCH, e.g. 1.0.0", "version %q is not semantic", c.Protos.Version)
	}
	if c.Protos.Breaking != "" && !slices.Contains(BreakingCategories, c.Protos.Breaking) {
		p.add(c.Protos.PosOf("breaking"), "protos.breaking", suggest(c.Protos.Breaking, BreakingCategories), "unknown breaking-change category %q (one of %s)", c.Protos.Breaking, strings.Join(BreakingCategories, ", "))
	}
	c.profiles = profiles
}

func validateStore(st *Store, p *problems, profiles map[string]bool) {
	f := "stores." + st.Name
	checkDNSLabel(p, st.At, f, "store", st.Name)
	if !slices.Contains(StoreKinds, st.Kind) {
		p.add(st.PosOf("kind"), f+".kind", suggest(st.Kind, StoreKinds), "unknown store kind %q (one of %s)", st.Kind, strings.Join(StoreKinds, ", "))
	}
	if st.Image == "" && !st.External {
		p.add(st.At, f+".image", "add image: <reference>, or external: true if it runs elsewhere", "store has no image")
	}
	if st.Image != "" {
		validateImage(p, st.PosOf("image"), f+".image", st.Image)
	}
	if st.Upstream != "" {
		validateImage(p, st.PosOf("upstream"), f+".upstream", st.Upstream)
	}
	if st.Offline != "" {
		validateImage(p, st.PosOf("offline"), f+".offline", st.Offline)
		if !OfflineImage(st.Offline) {
			p.add(st.PosOf("offline"), f+".offline", "the offline set is novadev/<name>:<tag> (scripts/images/build.sh)", "offline image %q is not in the offline set", st.Offline)
		}
	}
	if st.Optional && st.External {
		p.add(st.PosOf("optional"), f+".optional", "keep one: external (runs elsewhere, never started) or optional (started where the environment has an image)", "a store cannot be both external and optional")
	}
	if st.Storage != "" {
		if _, err := resource.ParseQuantity(st.Storage); err != nil || !memQty.MatchString(st.Storage) {
			p.add(st.PosOf("storage"), f+".storage", "e.g. 10Gi", "invalid storage size %q", st.Storage)
		}
	}
	if (st.Port < 1 || st.Port > 65535) && (slices.Contains(StoreKinds, st.Kind) || st.Port != 0) {
		p.add(st.PosOf("port"), f+".port", "", "port %d out of range", st.Port)
	}
	if st.Host < 0 || st.Host > 65535 {
		p.add(st.PosOf("host"), f+".host", "", "host port %d out of range", st.Host)
	}
	validateResources(st.Resources, f, p)
	for _, pr := range st.Profiles {
		profiles[pr] = true
	}
	if st.Kind == StoreRedisCluster && (st.Nodes < 3 || st.Nodes > MaxRedisNodes) {
		p.add(st.PosOf("nodes"), f+".nodes", fmt.Sprintf("use 3 to %d", MaxRedisNodes), "a Redis Cluster has 3 to %d masters, got %d", MaxRedisNodes, st.Nodes)
	}
	if st.Kind != StoreRedisCluster && st.Nodes != 0 {
		p.add(st.PosOf("nodes"), f+".nodes", "", "only redis-cluster stores have nodes")
	}
	for _, e := range st.Extensions {
		if !extName.MatchString(e) {
			p.add(st.PosOf("extensions"), f+".extensions", "", "%q is not an extension name", e)
		}
	}
	if len(st.Topics) > 0 && st.Kind != StoreKafka {
		p.add(st.PosOf("topics"), f+".topics", "", "only kafka stores have topics")
	}
	if len(st.Databases) > 0 && st.Kind != StoreClickHouse {
		p.add(st.PosOf("databases"), f+".databases", "", "only clickhouse stores have databases")
	}
	seen := map[string]bool{}
	for i, t := range st.Topics {
		tf := fmt.Sprintf("%s.topics[%d]", f, i)
		if t == nil {
			continue
		}
		if !topicName.MatchString(t.Name) || len(t.Name) > 249 {
			p.add(t.PosOf("name"), tf+".name", "use letters, digits, '.', '_' and '-'", "invalid topic name %q", t.Name)
		}
		if seen[t.Name] {
			p.add(t.PosOf("name"), tf+".name", "", "topic %q is listed twice", t.Name)
		}
		seen[t.Name] = true
		if t.Partitions < 1 || t.Partitions > MaxPartitions {
			p.add(t.PosOf("partitions"), tf+".partitions", "", "must be between 1 and %d, got %d", MaxPartitions, t.Partitions)
		}
		switch {
		case t.Replication < 1:
			p.add(t.PosOf("replication"), tf+".replication", "", "must be at least 1, got %d", t.Replication)
		case t.Replication > KafkaBrokers:
			p.add(t.PosOf("replication"), tf+".replication", fmt.Sprintf("use %d", KafkaBrokers),
				"replication %d is above the broker count (%d on every target): the topic could not be created", t.Replication, KafkaBrokers)
		}
		if _, set := t.Keys["retention"]; set && t.Retention.Duration <= 0 {
			p.add(t.PosOf("retention"), tf+".retention", "e.g. 7d", "must be positive")
		}
	}
	for i, db := range st.Databases {
		df := fmt.Sprintf("%s.databases[%d]", f, i)
		if db == nil {
			continue
		}
		if !chIdent.MatchString(db.Name) {
			p.add(db.PosOf("name"), df+".name", "", "invalid ClickHouse database name %q", db.Name)
		}
		tables := map[string]bool{}
		for j, t := range db.Tables {
			tf := fmt.Sprintf("%s.tables[%d]", df, j)
			if t == nil {
				continue
			}
			if !chIdent.MatchString(t.Name) {
				p.add(t.PosOf("name"), tf+".name", "", "invalid ClickHouse table name %q", t.Name)
			}
			if tables[t.Name] {
				p.add(t.PosOf("name"), tf+".name", "", "table %q is listed twice", t.Name)
			}
			tables[t.Name] = true
			if len(t.Columns) == 0 {
				p.add(t.At, tf+".columns", "", "a table needs columns")
			}
			for k, col := range t.Columns {
				if !chIdent.MatchString(col.Name) || col.Type == "" {
					p.add(col.At, fmt.Sprintf("%s.columns[%d]", tf, k), "", "a column needs a name and a type")
				}
			}
			if t.OrderBy == "" {
				p.add(t.At, tf+".orderBy", "e.g. orderBy: (event_time)", "a MergeTree table needs orderBy")
			}
		}
	}
}

func validatePorts(s *Service, p *problems) {
	f := "services." + s.Name
	names := map[string]bool{}
	for i, pt := range s.Ports {
		pf := fmt.Sprintf("%s.ports[%d]", f, i)
		pos := pt.At
		if pos.Line == 0 || pt.inherited {
			pos = s.At
		}
		if names[pt.Name] {
			p.add(pos, pf+".name", "", "port %q is listed twice", pt.Name)
		}
		names[pt.Name] = true
		if pt.inherited {
			continue // checked once, at defaults.ports
		}
		if pt.Name == "" || !dnsLabel.MatchString(pt.Name) || len(pt.Name) > 15 {
			p.add(pos, pf+".name", "use a short lower-case name like grpc or metrics", "port name %q is not valid", pt.Name)
		}
		if pt.Port < 1 || pt.Port > 65535 {
			p.add(pt.PosOf("port"), pf+".port", "", "port %d out of range (set it here or in defaults.ports)", pt.Port)
		}
		if pt.Host < 0 || pt.Host > 65535 {
			p.add(pt.PosOf("host"), pf+".host", "", "host port %d out of range", pt.Host)
		}
	}
}

func validateReadiness(s *Service, p *problems) {
	r := s.Readiness
	f := "services." + s.Name + ".readiness"
	if !r.inherited {
		checkReadiness(p, r, f)
	}
	var ports []string
	for _, pt := range s.Ports {
		ports = append(ports, pt.Name)
	}
	if !slices.Contains(ports, r.Port) {
		hint := suggest(r.Port, ports)
		if hint == "" {
			hint = fmt.Sprintf("add a port named %s (here or in defaults.ports) or set readiness.port", r.Port)
		}
		pos := r.PosOf("port")
		if r.inherited {
			pos = s.At // the default is fine; this service lacks the port
		}
		p.add(pos, f+".port", hint, "no port named %q", r.Port)
	}
}

// validateResources checks the quantities a section wrote itself (values
// filled in from defaults are checked once, at defaults.resources), and
// that every limit is at least its request.
func validateResources(r Resources, f string, p *problems) {
	type qty struct {
		q     Quantities
		key   string
		field string
		re    *regexp.Regexp
		max   resource.Quantity
	}
	parsed := map[string]*resource.Quantity{}
	for _, q := range []qty{
		{r.Requests, "cpu", ".resources.requests.cpu", cpuQty, maxCPU},
		{r.Limits, "cpu", ".resources.limits.cpu", cpuQty, maxCPU},
		{r.Requests, "memory", ".resources.requests.memory", memQty, maxMemory},
		{r.Limits, "memory", ".resources.limits.memory", memQty, maxMemory},
	} {
		val := q.q.CPU
		if q.key == "memory" {
			val = q.q.Memory
		}
		if val == "" {
			continue
		}
		_, own := q.q.Keys[q.key]
		v, err := resource.ParseQuantity(val)
		switch {
		case err != nil || !q.re.MatchString(val):
			if own {
				p.add(q.q.PosOf(q.key), f+q.field, "use e.g. 250m or 0.5 for cpu, 256Mi or 1Gi for memory", "invalid quantity %q", val)
			}
			continue
		case v.Cmp(q.max) > 0 || v.Sign() <= 0:
			if own {
				p.add(q.q.PosOf(q.key), f+q.field, "", "quantity %q must be above 0 and at most %s", val, q.max.String())
			}
			continue
		}
		parsed[q.field] = &v
	}
	for _, pair := range [][2]string{{".resources.requests.cpu", ".resources.limits.cpu"}, {".resources.requests.memory", ".resources.limits.memory"}} {
		req, lim := parsed[pair[0]], parsed[pair[1]]
		if req == nil || lim == nil || lim.Cmp(*req) >= 0 {
			continue
		}
		key := strings.TrimPrefix(pair[1], ".resources.limits.")
		_, limOwn := r.Limits.Keys[key]
		_, reqOwn := r.Requests.Keys[key]
		switch {
		case limOwn:
			p.add(r.Limits.PosOf(key), f+pair[1], "raise the limit or lower the request", "limit %s is below the request %s", lim.String(), req.String())
		case reqOwn:
			p.add(r.Requests.PosOf(key), f+pair[0], "raise the limit or lower the request", "request %s is above the limit %s", req.String(), lim.String())
		}
	}
}

func validateEnv(c *Catalog, env *Environment, p *problems) {
	if env.File == "" {
		return // the implicit environment of a bare catalog
	}
	if env.APIVersion != APIVersion {
		p.add(env.PosOf("apiVersion"), "apiVersion", fmt.Sprintf("use %q", APIVersion), "unsupported apiVersion %q", env.APIVersion)
	}
	if env.Kind != KindEnvironment {
		p.add(env.PosOf("kind"), "kind", fmt.Sprintf("use %q", KindEnvironment), "kind is %q", env.Kind)
	}
	if env.Metadata.Name != "" {
		checkDNSLabel(p, env.Metadata.PosOf("name"), "metadata.name", "environment", env.Metadata.Name)
	}
	// the rule: an environment's file is named after it, so --env <name>
	// and the name inside never disagree
	if env.Metadata.Name == "" {
		p.add(env.PosOf("metadata"), "metadata.name", "", "an environment needs a name")
	} else if stem := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(env.File), ".yaml"), ".yml"); stem != env.Metadata.Name {
		p.add(env.Metadata.PosOf("name"), "metadata.name", fmt.Sprintf("rename the file to %s.yaml or the environment to %q", env.Metadata.Name, stem),
			"environment %q is in a file named %s: the file name must be the environment's name", env.Metadata.Name, filepath.Base(env.File))
	}
	if env.Project != "" {
		checkDNSLabel(p, env.PosOf("project"), "project", "project", env.Project)
	}
	if env.HostPortBase < 0 || env.HostPortBase > 65535 {
		p.add(env.PosOf("hostPortBase"), "hostPortBase", "", "must be a port number")
	}
	if env.Namespace != "" {
		if errs := validation.IsDNS1123Label(env.Namespace); len(errs) > 0 {
			p.add(env.PosOf("namespace"), "namespace", "use lower-case letters, digits and '-', at most 63 characters", "namespace %q is not a DNS-1123 label: %s", env.Namespace, strings.Join(errs, "; "))
		}
	}
	if env.KindOverlay != "" {
		if !slices.Contains(KindOverlays, env.KindOverlay) {
			p.add(env.PosOf("kindOverlay"), "kindOverlay", suggest(env.KindOverlay, KindOverlays), "unknown kind overlay %q (one of %s)", env.KindOverlay, strings.Join(KindOverlays, ", "))
		}
	}
	validateLabels(p, env.Metadata, "metadata.labels")
	validateImageSource(p, env.Images.PosOf("registry"), "images.registry", env.Images.Registry, env.Images.PosOf("tag"), "images.tag", env.Images.Tag)
	validateEnvImages(p, env)
	if env.Images.Placeholder != "" {
		validateImage(p, env.Images.PosOf("placeholder"), "images.placeholder", env.Images.Placeholder)
	}
	for _, name := range sortedKeys(env.Images.Services) {
		validateImage(p, env.Images.PosOf("services"), "images.services."+name, env.Images.Services[name])
	}
	for _, name := range sortedKeys(env.Images.Stores) {
		validateImage(p, env.Images.PosOf("stores"), "images.stores."+name, env.Images.Stores[name])
	}
	services := c.ServiceNames()
	for _, name := range sortedKeys(env.Images.Services) {
		if _, ok := c.Services[name]; !ok {
			p.add(env.Images.PosOf("services"), "images.services."+name, suggest(name, services), "unknown service %q", name)
		}
	}
	stores := c.StoreNames()
	for _, name := range sortedKeys(env.Images.Stores) {
		if _, ok := c.Stores[name]; !ok {
			p.add(env.Images.PosOf("stores"), "images.stores."+name, suggest(name, stores), "unknown store %q", name)
		}
	}
	known := sortedKeys(c.profiles)
	for i, pr := range env.Profiles {
		if !c.profiles[pr] {
			p.add(env.PosOf("profiles"), fmt.Sprintf("profiles[%d]", i), suggest(pr, known), "no service or store is in profile %q", pr)
		}
	}
	if sc := env.Resources.Scale; math.IsNaN(sc) || sc < 0 || sc > MaxScale {
		p.add(env.Resources.PosOf("scale"), "resources.scale", "e.g. 0.5 on a laptop; 0 or 1 leaves resources unchanged", "scale %g must be between 0 and %g", sc, float64(MaxScale))
	}
}

type hostPortUse struct {
	pos  Pos
	what string
}

func validateHostPorts(c *Catalog, p *problems) {
	used := map[int]hostPortUse{}
	claim := func(port int, pos Pos, field, what string) {
		if port == 0 {
			return
		}
		if port < 1 || port > 65535 {
			p.add(pos, field, "lower the environment's hostPortBase", "host port %d out of range after moving the port block", port)
			return
		}
		if port >= EphemeralPortMin && port <= EphemeralPortMax {
			p.add(pos, field, fmt.Sprintf("move the block (hostPortBase) below %d", EphemeralPortMin),
				"host port %d is in the ephemeral range %d-%d, where Linux picks outgoing ports: publishing it fails at random", port, EphemeralPortMin, EphemeralPortMax)
			return
		}
		if prev, ok := used[port]; ok {
			p.add(pos, field, "", "host port %d is already used by %s (%s)", port, prev.what, prev.pos)
			return
		}
		used[port] = hostPortUse{pos, what}
	}
	for _, name := range c.StoreNames() {
		st := c.Stores[name]
		if st.External {
			continue
		}
		n := 1
		if st.Kind == StoreRedisCluster {
			// one published port per node, consecutive; a count out of
			// bounds is reported by validateStore and claims nothing
			n = st.Nodes
			if n > MaxRedisNodes {
				n = 0
			}
		}
		for i := 0; i < n && st.Host != 0; i++ {
			claim(st.Host+i, st.PosOf("host"), "stores."+name+".host", fmt.Sprintf("store %s node %d", name, i+1))
		}
	}
	for _, name := range c.ServiceNames() {
		for i, pt := range c.Services[name].Ports {
			if pt.inherited {
				continue // a default's host port is refused at defaults.ports
			}
			claim(pt.Host, pt.PosOf("host"), fmt.Sprintf("services.%s.ports[%d].host", name, i), fmt.Sprintf("service %s port %s", name, pt.Name))
		}
	}
}

// scaleResources multiplies every quantity by scale (0 or 1: unchanged).
func scaleResources(r *Resources, scale float64) {
	if scale == 0 || scale == 1 {
		return
	}
	for _, q := range []*Quantities{&r.Requests, &r.Limits} {
		q.CPU = scaleCPU(q.CPU, scale)
		q.Memory = scaleMemory(q.Memory, scale)
	}
}

func scaleCPU(v string, scale float64) string {
	if v == "" {
		return v
	}
	var milli float64
	if m, ok := strings.CutSuffix(v, "m"); ok {
		milli, _ = strconv.ParseFloat(m, 64)
	} else {
		f, _ := strconv.ParseFloat(v, 64)
		milli = f * 1000
	}
	return fmt.Sprintf("%dm", max(1, int64(milli*scale+0.5)))
}

func scaleMemory(v string, scale float64) string {
	if v == "" {
		return v
	}
	units := []struct {
		suffix string
		bytes  float64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}}
	b, _ := strconv.ParseFloat(v, 64)
	for _, u := range units {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			f, _ := strconv.ParseFloat(n, 64)
			b = f * u.bytes
			break
		}
	}
	return fmt.Sprintf("%dMi", max(1, int64(b*scale/(1<<20)+0.5)))
}
