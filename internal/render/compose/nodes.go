package compose

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/contract"
)

// PlaceholderHealthcheck is the health command of a service running the
// placeholder image (FROM scratch: the only program is /placeholder, which
// exits 0 when its own grpc.health.v1 answers SERVING).
var PlaceholderHealthcheck = []string{"/placeholder", "-healthcheck"}

// KafkaHealthcheck is the health command of the kfake broker image (FROM
// scratch: the only program is /nova-kafka). The port is appended.
var KafkaHealthcheck = []string{"/nova-kafka", "-healthcheck", "-listen"}

// hasHealthcheck reports whether store containers of this kind get a health
// check (dependents then wait for service_healthy, else service_started).
func hasHealthcheck(st *catalog.Store) bool {
	switch st.Kind {
	case catalog.StorePostgres, catalog.StoreRedisCluster, catalog.StoreKafka, catalog.StoreClickHouse, catalog.StoreElasticsearch:
		return true
	}
	return false
}

// store adds the compose service(s) of a started store.
func (b *builder) store(st *catalog.Store) error {
	if !started(st) {
		return nil // external: referenced by URI, never started
	}
	deploy, err := resources(st.Resources)
	if err != nil {
		return fmt.Errorf("store %s: %w", st.Name, err)
	}
	profiles := st.Profiles
	if b.c.Unavailable(st.Name) != "" {
		// no image of it in this environment (catalog.Unavailable): plain
		// `docker compose up` would fail to pull it and start nothing, so
		// it starts only when asked (--profile <store>, with an image);
		// its users' depends_on is required: false
		profiles = append(slices.Clone(profiles), st.Name)
	}
	base := func(name string) types.ServiceConfig {
		s := types.ServiceConfig{Name: name, Profiles: profiles, Deploy: deploy, Restart: types.RestartPolicyOnFailure}
		s.Image = st.DockerImage()
		s.Labels = b.labels(st.Name, catalog.KindStore)
		s.StopGracePeriod = duration(storeGrace)
		s.DependsOn = b.dependsOn(st.Name)
		return s
	}
	data := func(s *types.ServiceConfig, key, target string) {
		b.volume(key)
		s.Volumes = append(s.Volumes, types.ServiceVolumeConfig{Type: types.VolumeTypeVolume, Source: key, Target: target})
	}
	publish := func(s *types.ServiceConfig, host int) {
		if host != 0 {
			s.Ports = append(s.Ports, port(st.Port, host))
		}
	}
	p := strconv.Itoa(st.Port)
	// the offline image set and the upstream images take different
	// settings for redis and kafka (docs/images.md)
	offline := catalog.OfflineImage(st.DockerImage())
	switch st.Kind {
	case catalog.StoreRedisCluster:
		names, _ := redisNodes(st)
		for i, name := range names {
			s := base(name)
			np := strconv.Itoa(st.Port + i)
			// the offline image's entrypoint is redis-server itself; the
			// official image's entrypoint script takes redis-server and its
			// flags as the command, fixes /data's owner and drops root
			s.Command = types.ShellCommand{"redis-server"}
			if offline {
				s.Entrypoint = types.ShellCommand{"redis-server"}
				s.Command = nil
			}
			s.Command = append(s.Command,
				"--port", np,
				"--cluster-enabled", "yes",
				"--cluster-config-file", "/data/nodes.conf",
				"--cluster-node-timeout", "1000",
				"--cluster-announce-hostname", name,
				"--cluster-preferred-endpoint-type", "hostname",
				"--appendonly", "yes",
				"--dir", "/data",
				"--protected-mode", "no",
			)
			data(&s, name+"-data", "/data")
			if st.Host != 0 {
				s.Ports = append(s.Ports, port(st.Port+i, st.Host+i))
			}
			s.HealthCheck = healthcheck([]string{"redis-cli", "-p", np, "ping"}, storeStart)
			if err := b.add(s); err != nil {
				return err
			}
		}
		return nil
	case catalog.StorePostgres:
		s := base(st.Name)
		s.Environment = environment(contract.StoreEnv(b.c, st))
		if st.Port != 5432 {
			s.Command = types.ShellCommand{"-c", "port=" + p}
		}
		s.StopSignal = "SIGINT" // fast shutdown; SIGTERM waits for every client
		data(&s, st.Name+"-data", "/var/lib/postgresql/data")
		publish(&s, st.Host)
		s.HealthCheck = healthcheck([]string{"pg_isready", "-h", loopback, "-p", p, "-U", "postgres", "-d", "postgres"}, storeStart)
		return b.add(s)
	case catalog.StoreKafka:
		s := base(st.Name)
		if !offline {
			s.Environment = environment(KRaftEnv(b.c, st))
			data(&s, st.Name+"-data", KafkaDataDir)
			publish(&s, st.Host)
			// bash is in the image; a JVM client per check would cost more
			// than the 2 s timeout (the supervisor probes with a real client)
			s.HealthCheck = healthcheck([]string{"bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/" + p}, storeStart)
			return b.add(s)
		}
		s.Command = types.ShellCommand{"--listen", "0.0.0.0:" + p, "--advertise", st.Name + ":" + p, "--data-dir", "/data"}
		data(&s, st.Name+"-data", "/data")
		publish(&s, st.Host)
		s.HealthCheck = healthcheck(append(append([]string{}, KafkaHealthcheck...), loopback+":"+p), storeStart)
		return b.add(s)
	case catalog.StoreClickHouse:
		s := base(st.Name)
		s.Environment = environment(contract.StoreEnv(b.c, st))
		data(&s, st.Name+"-data", "/var/lib/clickhouse")
		publish(&s, st.Host)
		// the Debian image has no clickhouse-client; bash and /ping exist in
		// both it and the official image
		s.HealthCheck = healthcheck([]string{"bash", "-c",
			"exec 3<>/dev/tcp/127.0.0.1/" + p + " && printf 'GET /ping HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q Ok <&3"}, storeStart)
		return b.add(s)
	case catalog.StoreElasticsearch:
		s := base(st.Name)
		s.Environment = environment(contract.Env{
			{Name: "discovery.type", Value: contract.Text("single-node")},
			{Name: "xpack.security.enabled", Value: contract.Text("false")},
			{Name: "http.port", Value: contract.Text(p)},
			{Name: "ES_JAVA_OPTS", Value: contract.Text("-Xms512m -Xmx512m")},
		})
		data(&s, st.Name+"-data", "/usr/share/elasticsearch/data")
		publish(&s, st.Host)
		s.HealthCheck = healthcheck([]string{"curl", "-fsS", "http://127.0.0.1:" + p + "/_cluster/health?wait_for_status=yellow&timeout=1s"}, storeStart)
		return b.add(s)
	default:
		// a kind without a known probe (e.g. a non-external neo4j): started,
		// dependents wait for service_started only
		s := base(st.Name)
		publish(&s, st.Host)
		return b.add(s)
	}
}

// bootstrap adds a one-shot service running `novadev bootstrap <step>`
// (contract.Bootstrap: its arguments and environment).
func (b *builder) bootstrap(bs *catalog.Bootstrap) error {
	inv := contract.Bootstrap(b.c, contract.Compose, bs)
	s := types.ServiceConfig{Name: bs.Name, Restart: types.RestartPolicyNo}
	s.Image = BootstrapImage
	s.Command = types.ShellCommand(inv.Args)
	s.Labels = b.labels(bs.Name, catalog.KindBootstrap)
	s.StopGracePeriod = duration(bootstrapGrace)
	s.DependsOn = b.dependsOn(bs.Name)
	s.Volumes = []types.ServiceVolumeConfig{{Type: types.VolumeTypeBind, Source: b.catalogDir, Target: CatalogMount, ReadOnly: true}}
	if st := b.c.Stores[bs.Store.Value]; st != nil {
		s.Profiles = st.Profiles
	}
	s.Environment = environment(inv.Env)
	return b.add(s)
}

// service adds one Nova service.
func (b *builder) service(svc *catalog.Service) error {
	deploy, err := resources(svc.Resources)
	if err != nil {
		return fmt.Errorf("service %s: %w", svc.Name, err)
	}
	s := types.ServiceConfig{Name: svc.Name, Profiles: svc.Profiles, Deploy: deploy, Restart: types.RestartPolicyOnFailure}
	s.Image = svc.Image
	if svc.Build != nil {
		s.Build = &types.BuildConfig{
			Context:    filepath.Join(b.catalogDir, filepath.FromSlash(svc.Build.Context)),
			Dockerfile: svc.Build.Dockerfile,
			Target:     svc.Build.Target,
		}
	}
	s.Labels = b.labels(svc.Name, catalog.KindService)
	s.StopGracePeriod = duration(serviceGrace)
	s.DependsOn = b.dependsOn(svc.Name)
	s.Environment = environment(contract.ServiceEnv(b.c, contract.Compose, svc))
	if contract.MountsProtos(b.c) {
		// the API it serves (NOVA_PROTO_DIR): the catalog's proto files
		s.Volumes = append(s.Volumes, types.ServiceVolumeConfig{Type: types.VolumeTypeBind,
			Source: filepath.Join(b.catalogDir, filepath.FromSlash(b.c.Protos.Root)), Target: contract.ProtoMount, ReadOnly: true})
	}
	for _, pt := range svc.Ports {
		if pt.Host != 0 {
			s.Ports = append(s.Ports, port(pt.Port, pt.Host))
		}
	}
	start := serviceStart
	if t := svc.Readiness.Timeout.Duration; t > 0 {
		start = t
	}
	s.HealthCheck = healthcheck(b.serviceProbe(svc), start)
	return b.add(s)
}

// placeholder reports whether the environment runs svc on the placeholder image.
func (b *builder) placeholder(svc *catalog.Service) bool {
	return b.c.Env.Images.Placeholder != "" && svc.Image == b.c.Env.Images.Placeholder
}

// serviceProbe is the health command of a service: the placeholder's own
// check, or for real images the conventional probes they are expected to ship
// (grpc_health_probe for gRPC, wget for HTTP, bash for TCP; docs/compose.md).
func (b *builder) serviceProbe(svc *catalog.Service) []string {
	if b.placeholder(svc) {
		return append([]string{}, PlaceholderHealthcheck...)
	}
	p := strconv.Itoa(containerPort(svc, svc.Readiness.Port))
	switch svc.Readiness.Type {
	case catalog.CheckHTTP:
		return []string{"wget", "-q", "-O", "/dev/null", "http://127.0.0.1:" + p + svc.Readiness.Path}
	case catalog.CheckTCP:
		return []string{"bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/" + p}
	}
	return []string{"grpc_health_probe", "-addr=127.0.0.1:" + p}
}

// containerPort returns the container port of the named port (0 if none).
func containerPort(svc *catalog.Service, name string) int { return contract.PortOf(svc, name) }
