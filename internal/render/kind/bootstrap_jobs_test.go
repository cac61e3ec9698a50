package kind

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/novadev/novadev/internal/bootstrap"
	"github.com/novadev/novadev/internal/catalog"
)

// catalogVolume writes what a bootstrap Job's projected catalog volume
// shows its container (every item of every ConfigMap source, from the
// rendered ConfigMaps) into a temporary directory, which stands for
// CatalogMount. skip drops items by path (to prove they are needed).
func catalogVolume(t *testing.T, objs []object, spec corev1.PodSpec, skip func(rel string) bool) string {
	t.Helper()
	require.Len(t, spec.Volumes, 1)
	vol := spec.Volumes[0]
	require.NotNil(t, vol.Projected, "the catalog volume is projected")
	require.Equal(t, []corev1.VolumeMount{{Name: vol.Name, MountPath: CatalogMount, ReadOnly: true}}, spec.Containers[0].VolumeMounts)
	dir := t.TempDir()
	for _, src := range vol.Projected.Sources {
		require.NotNil(t, src.ConfigMap)
		cm := find[corev1.ConfigMap](t, objs, "ConfigMap", src.ConfigMap.Name)
		var projected []string
		for _, it := range src.ConfigMap.Items {
			data, ok := cm.Data[it.Key]
			require.True(t, ok, "%s has no key %s", cm.Name, it.Key)
			projected = append(projected, it.Key)
			if skip != nil && skip(it.Path) {
				continue
			}
			require.False(t, path.IsAbs(it.Path) || strings.Contains(it.Path, ".."), it.Path)
			p := filepath.Join(dir, filepath.FromSlash(it.Path))
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.WriteFile(p, []byte(data), 0o644))
		}
		sort.Strings(projected)
		require.Equal(t, sortedKeys(cm.Data), projected, "every key of %s is projected", cm.Name)
	}
	return dir
}

// TestCatalogVolumeIsACompleteCatalog rebuilds the proto-validate Job's
// catalog volume on disk and runs the real bootstrap code against it: the
// catalog loads bare (no local.yaml beside it, as `novadev bootstrap`
// without --env does), every service's migrations are there, and
// proto-validate passes against the recorded baseline.
func TestCatalogVolumeIsACompleteCatalog(t *testing.T) {
	set, files := renderFiles(t, novaCatalog)
	objs := baseObjects(t, files)
	job := find[batchv1.Job](t, objs, "Job", catalog.StepProtoValidate).Spec.Template.Spec
	require.Equal(t, []string{"bootstrap", catalog.StepProtoValidate, "--catalog", CatalogMount + "/nova.yaml", "--env="}, job.Containers[0].Args)
	dir := catalogVolume(t, objs, job, nil)

	c, err := catalog.Load(filepath.Join(dir, "nova.yaml"), catalog.Options{})
	require.NoError(t, err)
	require.Equal(t, "proto/registry-1.0.0.json", c.Protos.Baseline)
	require.FileExists(t, filepath.Join(dir, "proto", "registry-1.0.0.json"), "the baseline sits at the catalog's relative path")
	require.Len(t, c.ActiveServices(), len(set.Base.ActiveServices()))

	withMigrations := 0
	for _, s := range set.Base.ActiveServices() {
		if s.Migrations == "" {
			continue
		}
		withMigrations++
		want, err := bootstrap.LoadMigrations(filepath.Join(filepath.Dir(set.Base.File), s.Migrations))
		require.NoError(t, err)
		require.NotEmpty(t, want, s.Name)
		got, err := bootstrap.LoadMigrations(filepath.Join(dir, s.Migrations))
		require.NoError(t, err, s.Name)
		require.Len(t, got, len(want), s.Name)
		for i := range want {
			require.Equal(t, want[i].Version, got[i].Version, s.Name)
			require.Equal(t, want[i].Checksum, got[i].Checksum, "%s: %s", s.Name, want[i].File)
		}
	}
	require.Equal(t, 15, withMigrations)

	var logs []string
	logf := func(format string, args ...any) { logs = append(logs, fmt.Sprintf(format, args...)) }
	require.NoError(t, bootstrap.ProtoValidate{}.Run(context.Background(), c, bootstrap.Targets{}, logf))
	require.Equal(t, []string{
		"compiled " + filepath.Join(dir, "proto") + ": 15 services, 75 messages; every service's API is defined",
		"no changes since baseline 1.0.0",
	}, logs)

	// without the baseline item the step fails as it did in the cluster
	bare := catalogVolume(t, objs, job, func(rel string) bool { return rel == "proto/registry-1.0.0.json" })
	c, err = catalog.Load(filepath.Join(bare, "nova.yaml"), catalog.Options{})
	require.NoError(t, err)
	err = bootstrap.ProtoValidate{}.Run(context.Background(), c, bootstrap.Targets{}, logf)
	require.ErrorContains(t, err, "registry-1.0.0.json does not exist")

	// every bootstrap Job mounts the same volume
	for _, o := range ofKind(objs, "Job") {
		spec := find[batchv1.Job](t, objs, "Job", o.Metadata.Name).Spec.Template.Spec
		require.Equal(t, job.Volumes, spec.Volumes, o.Metadata.Name)
	}
}

// kubeletRef is a $(VAR) reference the kubelet expands from earlier variables.
var kubeletRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// jobEnv is a container's environment as the kubelet hands it over:
// literal values, $(VAR) references to earlier variables expanded, and
// Secret references replaced by dummies.
func jobEnv(t *testing.T, c corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil:
			require.NotNil(t, e.ValueFrom.SecretKeyRef, e.Name)
			require.Equal(t, CredentialsSecret, e.ValueFrom.SecretKeyRef.Name, e.Name)
			env[e.Name] = "dummy-" + strings.ToLower(e.ValueFrom.SecretKeyRef.Key)
		default:
			env[e.Name] = kubeletRef.ReplaceAllStringFunc(e.Value, func(ref string) string {
				name := kubeletRef.FindStringSubmatch(ref)[1]
				v, ok := env[name]
				require.True(t, ok, "%s refers to %s, which is not defined before it", e.Name, name)
				return v
			})
		}
	}
	return env
}

// TestBootstrapJobsEnvMatchesTheCode reads every bootstrap Job's container
// environment with bootstrap.TargetsFromEnv, the code `novadev bootstrap`
// runs: each step finds the addresses and passwords it needs.
func TestBootstrapJobsEnvMatchesTheCode(t *testing.T) {
	set, files := renderFiles(t, novaCatalog)
	objs := baseObjects(t, files)
	var users []string
	for _, s := range set.Base.ActiveServices() {
		if s.Database != nil {
			users = append(users, s.Database.User)
		}
	}
	require.Len(t, users, 15)
	postgres := bootstrap.Targets{Postgres: "postgres:5432"}
	tests := []struct {
		job  string
		want bootstrap.Targets // Password is checked separately
		pw   bool              // the step needs the superuser's and every service user's password
	}{
		{catalog.StepPostgresInit, postgres, true},
		{catalog.StepMigrations, postgres, true},
		{catalog.StepRedisClusterInit, bootstrap.Targets{RedisNodes: []string{"redis-0.redis:7001", "redis-1.redis:7001", "redis-2.redis:7001"}}, false},
		{catalog.StepKafkaTopics, bootstrap.Targets{KafkaBrokers: []string{"kafka:9092"}}, false},
		{catalog.StepClickHouseInit, bootstrap.Targets{ClickHouseURL: "http://clickhouse:8123"}, false},
		{catalog.StepProtoValidate, bootstrap.Targets{}, false},
	}
	var jobs []string
	for _, o := range ofKind(objs, "Job") {
		jobs = append(jobs, o.Metadata.Name)
	}
	var covered []string
	for _, tt := range tests {
		covered = append(covered, tt.job)
		t.Run(tt.job, func(t *testing.T) {
			spec := find[batchv1.Job](t, objs, "Job", tt.job).Spec.Template.Spec
			require.Len(t, spec.Containers, 1)
			env := jobEnv(t, spec.Containers[0])
			got, err := bootstrap.TargetsFromEnv(func(k string) string { return env[k] })
			require.NoError(t, err)
			require.NotNil(t, got.Password)
			for _, u := range users {
				v := catalog.PasswordVar(u)
				if tt.pw {
					require.Equal(t, "dummy-"+strings.ToLower(v), got.Password(v), v)
				} else {
					require.Empty(t, got.Password(v), "%s: only the PostgreSQL steps get passwords", v)
				}
			}
			if tt.pw {
				require.Equal(t, "dummy-"+strings.ToLower(catalog.SuperuserPasswordVar), got.Password(catalog.SuperuserPasswordVar))
			}
			got.Password, got.Dial = nil, nil
			require.Equal(t, tt.want, got)
		})
	}
	sort.Strings(jobs)
	sort.Strings(covered)
	require.Equal(t, covered, jobs, "every rendered bootstrap Job is checked")
}

// TestBaselineIsProjected: a catalog naming protos.baseline gets the file in
// nova-protos at its relative path; a baseline not recorded yet stops the
// render with the command that records it.
func TestBaselineIsProjected(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(filepath.Dir(miniCatalog))))
	file := filepath.Join(dir, filepath.Base(miniCatalog))
	src, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Equal(t, 1, strings.Count(string(src), "  root: proto\n"))
	require.NoError(t, os.WriteFile(file, []byte(strings.Replace(string(src), "  root: proto\n", "  root: proto\n  baseline: proto/registry-2.json\n", 1)), 0o644))

	_, err = Render(loadSet(t, file))
	require.ErrorContains(t, err, "registry-2.json")
	require.ErrorContains(t, err, "record it with `novadev bootstrap proto-validate --record`")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "proto", "registry-2.json"), []byte(`{"version": "2.1.0"}`), 0o644))
	_, files := renderFiles(t, file)
	objs := baseObjects(t, files)
	require.Equal(t, `{"version": "2.1.0"}`, find[corev1.ConfigMap](t, objs, "ConfigMap", ProtosConfigMap).Data["proto_registry-2.json"])
	var items []string
	for _, src := range find[batchv1.Job](t, objs, "Job", "proto-validate").Spec.Template.Spec.Volumes[0].Projected.Sources {
		if src.ConfigMap.Name == ProtosConfigMap {
			for _, it := range src.ConfigMap.Items {
				items = append(items, it.Key+" -> "+it.Path)
			}
		}
	}
	require.Contains(t, items, "proto_registry-2.json -> proto/registry-2.json")
}
