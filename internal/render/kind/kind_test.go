package kind

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	yamlv3 "go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kustomize/api/types"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/render"
	"github.com/novadev/novadev/internal/state"
)

// compareTree checks files against the directory root holds them in,
// both ways; with -update it rewrites root instead.
func compareTree(t *testing.T, root string, files render.Files, ignore func(rel string) bool) {
	t.Helper()
	if *update {
		_ = os.RemoveAll(filepath.Join(root, Dir))
		_, err := render.Write(root, files)
		require.NoError(t, err)
	}
	var onDisk []string
	err := filepath.WalkDir(filepath.Join(root, Dir), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel = filepath.ToSlash(rel); !ignore(rel) {
			onDisk = append(onDisk, rel)
		}
		return nil
	})
	require.NoError(t, err)
	sort.Strings(onDisk)
	require.Equal(t, files.Paths(), onDisk, "files under %s (run go test ./internal/render/kind -update)", root)
	for _, p := range files.Paths() {
		want, err := os.ReadFile(filepath.Join(root, p))
		require.NoError(t, err)
		require.Equal(t, string(want), string(files[p]), "%s differs from a fresh render (run go test ./internal/render/kind -update)", p)
	}
}

func TestRenderGolden(t *testing.T) {
	_, files := renderFiles(t, miniCatalog)
	compareTree(t, "testdata/golden", files, func(string) bool { return false })
}

// TestCommittedKindTreeIsFresh is the drift check: the committed kind/
// equals a fresh render of envs/.
func TestCommittedKindTreeIsFresh(t *testing.T) {
	_, files := renderFiles(t, novaCatalog)
	compareTree(t, repoRoot, files, func(rel string) bool { return path.Base(rel) == CredentialsFile })
}

func TestRenderIsDeterministic(t *testing.T) {
	_, a := renderFiles(t, novaCatalog)
	_, b := renderFiles(t, novaCatalog)
	require.Equal(t, a, b)
}

// TestRenderFindsOverlaysByKindOverlay: the overlays come from the
// environments that name them (kindOverlay), whatever they are called; an
// overlay no environment names stops the render with what to add.
func TestRenderFindsOverlaysByKindOverlay(t *testing.T) {
	set := loadSet(t, miniCatalog)
	pr := set.ForKindOverlay(OverlayPR)
	require.NotNil(t, pr)
	delete(set.Envs, pr.Env.Metadata.Name)
	set.Envs["review"] = pr // another name, the same overlay
	_, files := renderFiles(t, miniCatalog)
	renamed, err := Render(set)
	require.NoError(t, err)
	require.Equal(t, files, renamed, "the environment's name plays no part")

	pr.Env.KindOverlay = ""
	_, err = Render(set)
	require.ErrorContains(t, err, "the pr overlay needs an environment with `kindOverlay: pr`")
}

func TestEveryObjectDecodesStrictly(t *testing.T) {
	for _, file := range []string{novaCatalog, miniCatalog} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			set, files := renderFiles(t, file)
			counts := map[string]int{}
			for _, p := range files.Paths() {
				if !strings.HasSuffix(p, ".yaml") || strings.Contains(p, "/patches/") {
					continue // patches are partial objects: checked through the built output
				}
				for _, o := range splitDocs(t, files[p]) {
					_, err := decodeStrict(o)
					require.NoError(t, err, p)
					counts[o.Kind]++
				}
			}
			for _, overlay := range append(slices.Sorted(maps.Keys(overlays)), janitorOverlay) {
				for _, o := range build(t, set, files, overlay) {
					_, err := decodeStrict(o)
					require.NoError(t, err, "overlay %s", overlay)
				}
			}
			n := len(set.Base.ActiveServices())
			require.Equal(t, n, counts["Deployment"])
			require.Equal(t, 5, counts["Kustomization"]) // base, three overlays and the janitor
			require.Equal(t, 1, counts["CronJob"])
			require.Equal(t, 1, counts["Cluster"])
			require.Equal(t, len(set.Base.Bootstraps), counts["Job"])
		})
	}
}

// TestStrictDecodeRejectsUnknownFields proves the check above can fail.
func TestStrictDecodeRejectsUnknownFields(t *testing.T) {
	o := splitDocs(t, []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 1\n"))[0]
	_, err := decodeStrict(o)
	require.ErrorContains(t, err, `unknown field "replica"`)
}

func TestOverlaysBuild(t *testing.T) {
	set, files := renderFiles(t, novaCatalog)
	base := set.Base
	for overlay, ns := range overlays {
		t.Run(overlay, func(t *testing.T) {
			objs := build(t, set, files, overlay)
			for _, o := range objs {
				if o.Kind == "Namespace" {
					require.Equal(t, ns, o.Metadata.Name)
				} else {
					require.Equal(t, ns, o.Metadata.Namespace, o.id())
				}
			}
			require.Len(t, ofKind(objs, "Namespace"), 1)
			require.Len(t, ofKind(objs, "Deployment"), len(base.ActiveServices()))
			require.Len(t, ofKind(objs, "Job"), len(base.Bootstraps))
		})
	}

	t.Run("dev images and credentials", func(t *testing.T) {
		objs := build(t, set, files, "dev")
		for _, o := range ofKind(objs, "Deployment") {
			d := find[appsv1.Deployment](t, objs, "Deployment", o.Metadata.Name)
			require.Equal(t, "localhost:5005/novadev/placeholder:dev", d.Spec.Template.Spec.Containers[0].Image, o.id())
		}
		images := map[string]string{}
		for _, o := range ofKind(objs, "StatefulSet") {
			s := find[appsv1.StatefulSet](t, objs, "StatefulSet", o.Metadata.Name)
			images[o.Metadata.Name] = s.Spec.Template.Spec.Containers[0].Image
		}
		require.Equal(t, map[string]string{
			"clickhouse": "localhost:5005/novadev/clickhouse:18.16", "kafka": "localhost:5005/novadev/kafka:kfake",
			"postgres": "localhost:5005/novadev/postgres:15", "redis": "localhost:5005/novadev/redis:7",
		}, images)
		secrets := ofKind(objs, "Secret")
		require.Len(t, secrets, 1)
		require.True(t, strings.HasPrefix(secrets[0].Metadata.Name, CredentialsSecret+"-"), "generated name with a content hash: %s", secrets[0].Metadata.Name)
		sec := find[corev1.Secret](t, objs, "Secret", secrets[0].Metadata.Name)
		require.Len(t, sec.Data, 1+15+2, "PostgreSQL superuser, 15 service users, ClickHouse admin and analytics user")
		require.Equal(t, "test-nova_feed_svc_password", string(sec.Data["NOVA_FEED_SVC_PASSWORD"]))
		require.Equal(t, "test-nova_ch_analytics_service_password", string(sec.Data["NOVA_CH_ANALYTICS_SERVICE_PASSWORD"]))
		feed := find[appsv1.Deployment](t, objs, "Deployment", "feed-service")
		var ref string
		for _, e := range feed.Spec.Template.Spec.Containers[0].Env {
			if e.Name == "NOVA_FEED_SVC_PASSWORD" {
				ref = e.ValueFrom.SecretKeyRef.Name
			}
		}
		require.Equal(t, secrets[0].Metadata.Name, ref, "kustomize points references at the generated Secret")
		feedRes := feed.Spec.Template.Spec.Containers[0].Resources
		require.Equal(t, "250m", feedRes.Limits.Cpu().String(), "local scales resources by 0.5")
		require.Equal(t, "64Mi", feedRes.Requests.Memory().String(), "local scales resources by 0.5")
		require.Equal(t, "32m", feedRes.Requests.Cpu().String(), "50m after the scale, fitted to one kind node (TestDevOverlayFitsOneKindNode)")
		np := find[corev1.Service](t, objs, "Service", "graphql-gateway-nodeport")
		require.Equal(t, int32(30080), np.Spec.Ports[0].NodePort)
	})

	t.Run("pr suffix, expiry and the search backend", func(t *testing.T) {
		objs := build(t, set, files, "pr")
		ns := find[corev1.Namespace](t, objs, "Namespace", "nova-pr")
		require.Equal(t, PRExpiresAfter, ns.Annotations[state.AnnotationExpiresAfter])
		require.Equal(t, "true", ns.Labels[state.LabelEphemeral])
		feed := find[appsv1.Deployment](t, objs, "Deployment", "feed-service-pr")
		require.Equal(t, "feed-service-pr", feed.Spec.Template.Spec.ServiceAccountName)
		require.Equal(t, "ghcr.io/nova-platform/feed-service:pr", feed.Spec.Template.Spec.Containers[0].Image)
		find[corev1.Service](t, objs, "Service", "feed-service") // network identities keep their names
		find[appsv1.StatefulSet](t, objs, "StatefulSet", "redis")
		job := find[batchv1.Job](t, objs, "Job", "migrations-pr")
		require.Equal(t, "nova-bootstrap-pr", job.Spec.Template.Spec.ServiceAccountName)
		require.Equal(t, "novadev-catalog-pr", job.Spec.Template.Spec.Volumes[0].Projected.Sources[0].ConfigMap.Name)
		rb := find[rbacv1.RoleBinding](t, objs, "RoleBinding", "nova-job-reader-pr")
		require.Equal(t, "nova-job-reader-pr", rb.RoleRef.Name)
		for _, s := range rb.Subjects {
			require.Equal(t, "nova-pr", s.Namespace)
			require.True(t, strings.HasSuffix(s.Name, PRSuffix), s.Name)
		}
		find[appsv1.StatefulSet](t, objs, "StatefulSet", "elasticsearch")
		search := find[appsv1.Deployment](t, objs, "Deployment", "search-service-pr")
		require.Contains(t, search.Spec.Template.Spec.Containers[0].Env, corev1.EnvVar{Name: "ELASTICSEARCH_URL", Value: "http://elasticsearch:9200"})
	})

	t.Run("staging shape", func(t *testing.T) {
		objs := build(t, set, files, "staging")
		require.Empty(t, ofKind(objs, "Secret"), "staging credentials come from the ExternalSecret")
		es := ofKind(objs, "ExternalSecret")
		require.Len(t, es, 1)
		require.Equal(t, CredentialsSecret, es[0].Metadata.Name)
		require.Len(t, ofKind(objs, "ClickHouseInstallation"), 1)
		// the installation's users: the admin and analytics-service's user,
		// their passwords from keys the ExternalSecret fills
		chi := *find[map[string]any](t, objs, "ClickHouseInstallation", ClickHouseCHIName)
		users := chi["spec"].(map[string]any)["configuration"].(map[string]any)["users"].(map[string]any)
		filled := map[string]bool{}
		esObj := *find[map[string]any](t, objs, "ExternalSecret", CredentialsSecret)
		for _, d := range esObj["spec"].(map[string]any)["data"].([]any) {
			filled[CredentialsSecret+"/"+d.(map[string]any)["secretKey"].(string)] = true
		}
		require.Equal(t, CredentialsSecret+"/NOVA_CH_ANALYTICS_SERVICE_PASSWORD", users["nova_ch_analytics_service/k8s_secret_password"])
		require.Equal(t, []any{"GRANT SELECT, INSERT ON nova_analytics.*"}, users["nova_ch_analytics_service/grants/query"])
		require.EqualValues(t, 1, users["nova_ch_admin/access_management"])
		n := 0
		for k, v := range users {
			if strings.HasSuffix(k, "/k8s_secret_password") {
				n++
				require.True(t, filled[v.(string)], "%s = %v: a key the ExternalSecret fills", k, v)
			}
		}
		require.Equal(t, 2, n)
		require.NotContains(t, names(ofKind(objs, "StatefulSet")), "clickhouse")
		require.Equal(t, []string{"elasticsearch", "kafka", "postgres", "redis", "zookeeper"}, names(ofKind(objs, "StatefulSet")), "staging runs Elasticsearch (the guide)")
		for _, o := range ofKind(objs, "StatefulSet") {
			s := find[appsv1.StatefulSet](t, objs, "StatefulSet", o.Metadata.Name)
			pvc := s.Spec.VolumeClaimTemplates[0].Spec
			require.Equal(t, StagingStorageClass, *pvc.StorageClassName, o.id())
			require.Equal(t, StagingVolumeSize, pvc.Resources.Requests.Storage().String(), o.id())
		}
		kafka := find[appsv1.StatefulSet](t, objs, "StatefulSet", "kafka")
		c := kafka.Spec.Template.Spec.Containers[0]
		require.Equal(t, StagingKafkaImage, c.Image)
		require.Empty(t, c.Args, "the kfake flags are gone")
		require.Contains(t, c.Env, corev1.EnvVar{Name: "KAFKA_ZOOKEEPER_CONNECT", Value: "zookeeper:2181"})
		job := find[batchv1.Job](t, objs, "Job", "migrations")
		require.Equal(t, "ghcr.io/nova-platform/novadev:1.0.0", job.Spec.Template.Spec.Containers[0].Image)
	})
}

func TestInitContainersFollowTheGraph(t *testing.T) {
	set, files := renderFiles(t, novaCatalog)
	objs := baseObjects(t, files)
	feed := find[appsv1.Deployment](t, objs, "Deployment", "feed-service")
	var got [][]string
	for _, c := range feed.Spec.Template.Spec.InitContainers {
		require.Equal(t, ToolImage, c.Image)
		got = append(got, append([]string{c.Name}, c.Args...))
	}
	require.Equal(t, [][]string{
		{"wait-for-content-service", "wait", "grpc://content-service:50051"},
		{"wait-for-kafka", "wait", "tcp://kafka:9092"},
		{"wait-for-kafka-topics", "wait", "job://kafka-topics"},
		{"wait-for-migrations", "wait", "job://migrations"},
		{"wait-for-postgres", "wait", "tcp://postgres:5432"},
		{"wait-for-proto-validate", "wait", "job://proto-validate"},
		{"wait-for-user-service", "wait", "grpc://user-service:50051"},
	}, got)

	// every workload: one init container per graph dependency that runs in the cluster
	g := set.Base.Graph()
	for _, name := range g.Names() {
		it, _ := g.Node(name)
		var spec corev1.PodSpec
		switch it.Kind {
		case catalog.KindService:
			spec = find[appsv1.Deployment](t, objs, "Deployment", name).Spec.Template.Spec
		case catalog.KindBootstrap:
			spec = find[batchv1.Job](t, objs, "Job", name).Spec.Template.Spec
		default:
			continue
		}
		var want, have []string
		for _, d := range g.Needs(name) {
			if dep, _ := g.Node(d); dep.Kind != catalog.KindStore || (!dep.Store.External && !dep.Store.Optional) {
				want = append(want, "wait-for-"+d)
			}
		}
		for _, c := range spec.InitContainers {
			have = append(have, c.Name)
		}
		require.Equal(t, want, have, name)
	}
	graphDeps := find[appsv1.Deployment](t, objs, "Deployment", "graph-service").Spec.Template.Spec
	require.Contains(t, graphDeps.Containers[0].Env, corev1.EnvVar{Name: "NEO4J_URI", Value: "bolt://neo4j:7687"}, "external stores are referenced, not waited for")

	redis := find[batchv1.Job](t, objs, "Job", "redis-cluster-init").Spec.Template.Spec
	require.Equal(t, []string{"wait", "tcp://redis-0.redis:7001", "tcp://redis-1.redis:7001", "tcp://redis-2.redis:7001"}, redis.InitContainers[0].Args)
	require.Equal(t, []string{"bootstrap", "redis-cluster-init", "--catalog", "/etc/novadev/catalog/nova.yaml", "--env="}, redis.Containers[0].Args)
	mig := find[batchv1.Job](t, objs, "Job", "migrations").Spec.Template.Spec
	require.Equal(t, [][]string{{"wait", "tcp://postgres:5432"}, {"wait", "job://postgres-init"}}, [][]string{mig.InitContainers[0].Args, mig.InitContainers[1].Args})
	require.Empty(t, find[batchv1.Job](t, objs, "Job", "proto-validate").Spec.Template.Spec.InitContainers)
}

func TestServicesMirrorTheStagingGuide(t *testing.T) {
	_, files := renderFiles(t, novaCatalog)
	objs := baseObjects(t, files)
	svc := find[corev1.Service](t, objs, "Service", "user-service")
	var ports []string
	for _, p := range svc.Spec.Ports {
		ports = append(ports, fmt.Sprintf("%s:%s:%d", p.Name, p.TargetPort.String(), p.Port))
	}
	require.Equal(t, []string{"grpc:grpc:50051", "metrics:metrics:9090"}, ports)
	d := find[appsv1.Deployment](t, objs, "Deployment", "user-service")
	c := d.Spec.Template.Spec.Containers[0]
	require.Equal(t, int32(50051), c.ReadinessProbe.GRPC.Port)
	require.Equal(t, "100m", c.Resources.Requests.Cpu().String())
	require.Equal(t, "512Mi", c.Resources.Limits.Memory().String())
	require.Equal(t, "user-service", d.Spec.Template.Spec.ServiceAccountName)
	require.Contains(t, c.Env, corev1.EnvVar{Name: "DATABASE_URL", Value: "postgres://nova_user_svc:$(NOVA_USER_SVC_PASSWORD)@postgres:5432/nova_user?sslmode=disable"})
	headless := find[corev1.Service](t, objs, "Service", GRPCServicesName)
	require.Equal(t, corev1.ClusterIPNone, headless.Spec.ClusterIP)
	redis := find[appsv1.StatefulSet](t, objs, "StatefulSet", "redis")
	require.Equal(t, int32(3), *redis.Spec.Replicas)
	require.Equal(t, "10Gi", redis.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests.Storage().String())
}

func TestNetworkPoliciesAllowExactlyTheGraphEdges(t *testing.T) {
	set, files := renderFiles(t, novaCatalog)
	objs := baseObjects(t, files)
	g := set.Base.Graph()
	deny := find[networkingv1.NetworkPolicy](t, objs, "NetworkPolicy", DefaultDeny)
	require.Empty(t, deny.Spec.PodSelector.MatchLabels)
	require.Empty(t, deny.Spec.Ingress)
	require.Empty(t, deny.Spec.Egress)

	var egress, ingress []string
	for _, o := range ofKind(objs, "NetworkPolicy") {
		np := find[networkingv1.NetworkPolicy](t, objs, "NetworkPolicy", o.Metadata.Name)
		self := np.Spec.PodSelector.MatchLabels[state.LabelApp]
		for _, r := range np.Spec.Egress {
			for _, p := range r.To {
				if p.PodSelector != nil && p.NamespaceSelector == nil {
					egress = append(egress, self+"->"+p.PodSelector.MatchLabels[state.LabelApp])
				}
			}
		}
		for _, r := range np.Spec.Ingress {
			for _, p := range r.From {
				ingress = append(ingress, p.PodSelector.MatchLabels[state.LabelApp]+"->"+self)
			}
		}
	}
	var want []string
	for _, e := range g.Edges() {
		to, _ := g.Node(e.To)
		if to.Kind == catalog.KindBootstrap || (to.Kind == catalog.KindStore && to.Store.External) {
			continue
		}
		want = append(want, e.From+"->"+e.To)
	}
	want = append(want, "redis->redis") // cluster gossip between the nodes
	sort.Strings(want)
	sort.Strings(egress)
	sort.Strings(ingress)
	require.Equal(t, want, egress)
	require.Equal(t, want, ingress)
	require.Contains(t, want, "feed-service->content-service")
}

func TestPostgresInitSQL(t *testing.T) {
	_, files := renderFiles(t, novaCatalog)
	cm := find[corev1.ConfigMap](t, baseObjects(t, files), "ConfigMap", PostgresInitMap)
	sql := cm.Data["init.sql"]
	require.Equal(t, 15, strings.Count(sql, "' WHERE NOT EXISTS (SELECT FROM pg_database"))
	require.Equal(t, 15, strings.Count(sql, "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"))
	require.Equal(t, 15, strings.Count(sql, `CREATE EXTENSION IF NOT EXISTS "uuid-ossp";`))
	require.Equal(t, 15, strings.Count(sql, `CREATE EXTENSION IF NOT EXISTS "pgcrypto";`))
	require.Contains(t, sql, "SELECT 'CREATE DATABASE nova_trust_safety OWNER nova_trust_safety_svc' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'nova_trust_safety')\\gexec\n")
	require.Contains(t, sql, "\\getenv nova_feed_svc_password NOVA_FEED_SVC_PASSWORD\n")
	require.Contains(t, sql, "REVOKE CONNECT ON DATABASE postgres, template1 FROM PUBLIC;")
}

func TestServiceRegistryAndProtos(t *testing.T) {
	set, files := renderFiles(t, novaCatalog)
	objs := baseObjects(t, files)
	cm := find[corev1.ConfigMap](t, objs, "ConfigMap", RegistryConfigMap)
	var reg Registry
	require.NoError(t, json.Unmarshal([]byte(cm.Data["registry.json"]), &reg))
	require.Equal(t, "1.0.0", reg.Version)
	require.Len(t, reg.Services, 16)
	for _, e := range reg.Services {
		if e.Name == "feed-service" {
			require.Equal(t, RegistryEntry{Name: "feed-service", API: "nova.feed.v1.FeedService", Address: "feed-service:50051",
				Protos: []string{"nova/feed/v1/feed.proto"}, DependsOn: []string{"content-service", "user-service"}, Stores: []string{"kafka", "postgres"}}, e)
		}
	}
	protos := find[corev1.ConfigMap](t, objs, "ConfigMap", ProtosConfigMap)
	keys := sortedKeys(protos.Data)
	require.Len(t, keys, 16, "15 proto files and the baseline: %q", keys)
	require.Contains(t, keys, "proto_registry-1.0.0.json")
	baseline, err := os.ReadFile(filepath.Join(filepath.Dir(set.Base.File), "proto/registry-1.0.0.json"))
	require.NoError(t, err)
	require.Equal(t, string(baseline), protos.Data["proto_registry-1.0.0.json"])
	want, err := os.ReadFile(filepath.Join(filepath.Dir(set.Base.File), "proto/nova/feed/v1/feed.proto"))
	require.NoError(t, err)
	require.Equal(t, string(want), protos.Data["proto_nova_feed_v1_feed.proto"])
	job := find[batchv1.Job](t, objs, "Job", "proto-validate")
	var paths []string
	for _, src := range job.Spec.Template.Spec.Volumes[0].Projected.Sources {
		for _, it := range src.ConfigMap.Items {
			paths = append(paths, it.Path)
		}
	}
	require.Contains(t, paths, "nova.yaml")
	require.Contains(t, paths, "proto/nova/feed/v1/feed.proto")
	require.Contains(t, paths, "migrations/feed-service/20251114000000_init.sql")
	require.Contains(t, paths, "proto/registry-1.0.0.json", "the baseline at protos.baseline's relative path")
}

// kindLoad parses cluster.yaml with kind's own loader (its internal
// encoding.Parse, strict), reached through the exported create options: the
// raw config is parsed first, then a config file that does not exist stops
// Create before any node provider is touched.
func kindLoad(t *testing.T, raw []byte) error {
	sentinel := filepath.Join(t.TempDir(), "stop-here.yaml")
	p := kindcluster.NewProvider(kindcluster.ProviderWithDocker())
	err := p.Create("novadev-config-check", kindcluster.CreateWithRawConfig(raw), kindcluster.CreateWithConfigFile(sentinel))
	require.Error(t, err)
	if strings.Contains(err.Error(), "error reading file") && strings.Contains(err.Error(), sentinel) {
		return nil // the raw config parsed; the sentinel stopped Create
	}
	return err
}

func TestClusterConfigLoadsWithKind(t *testing.T) {
	_, files := renderFiles(t, novaCatalog)
	raw := files[Dir+"/cluster.yaml"]
	require.NoError(t, kindLoad(t, raw))
	require.ErrorContains(t, kindLoad(t, append(raw, []byte("nodez: []\n")...)), "field nodez not found")

	var cfg v1alpha4.Cluster
	dec := yamlv3.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&cfg))
	require.Equal(t, "nova", cfg.Name)
	require.Len(t, cfg.Nodes, 1)
	require.Equal(t, v1alpha4.ControlPlaneRole, cfg.Nodes[0].Role)
	require.Equal(t, []v1alpha4.PortMapping{{ContainerPort: 30080, HostPort: 20080, ListenAddress: "127.0.0.1", Protocol: "TCP"}}, cfg.Nodes[0].ExtraPortMappings)
	require.Equal(t, []string{"[plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"localhost:5005\"]\n  endpoint = [\"http://novadev-registry:5000\"]\n"}, cfg.ContainerdConfigPatches)

	hosting := splitDocs(t, files[Dir+"/local-registry-hosting.yaml"])
	require.Len(t, hosting, 1)
	cm, err := decodeStrict(hosting[0])
	require.NoError(t, err)
	require.Equal(t, "kube-public", cm.(*corev1.ConfigMap).Namespace)
	require.Contains(t, cm.(*corev1.ConfigMap).Data["localRegistryHosting.v1"], "host: \"localhost:5005\"\n")
}

func TestCredentialsEnv(t *testing.T) {
	set := loadSet(t, novaCatalog)
	env := string(CredentialsEnv(set.Base, func(k string) string { return strings.ToLower(k) }))
	lines := strings.Split(strings.TrimSpace(env), "\n")
	require.Len(t, lines, 1+1+15+2)
	require.True(t, slices.Contains(lines, "NOVA_CH_ADMIN_PASSWORD=nova_ch_admin_password"))
	require.Equal(t, "NOVA_POSTGRES_PASSWORD=nova_postgres_password", lines[1])
	require.True(t, slices.Contains(lines, "NOVA_REALTIME_CHAT_SVC_PASSWORD=nova_realtime_chat_svc_password"))
	_, files := renderFiles(t, novaCatalog)
	require.Contains(t, string(files[Dir+"/.gitignore"]), "overlays/*/"+CredentialsFile+"\n")
	k := splitDocs(t, files[Dir+"/overlays/dev/kustomization.yaml"])[0]
	v, err := decodeStrict(k)
	require.NoError(t, err)
	require.Equal(t, []string{CredentialsFile}, v.(*types.Kustomization).SecretGenerator[0].EnvSources)
	for _, p := range files.Paths() {
		require.NotContains(t, string(files[p]), "_PASSWORD=", "%s: no password values are ever rendered", p)
	}
}
