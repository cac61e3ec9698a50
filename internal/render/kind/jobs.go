package kind

import (
	"fmt"
	"path"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/novadev/novadev/internal/catalog"
)

// BootstrapServiceAccount runs the bootstrap Jobs.
const BootstrapServiceAccount = "nova-bootstrap"

// JobReader is the Role (and RoleBinding) letting pods read Jobs, so their
// init containers can wait for a bootstrap Job to complete.
const JobReader = "nova-job-reader"

// CatalogMount is where bootstrap pods find the catalog, its proto files and
// migrations (a projected volume of the catalog ConfigMaps).
const CatalogMount = "/etc/novadev/catalog"

// bootstrapJobs are one Job per bootstrap in the graph. Ordering comes from
// init containers: each waits for its store (tcp) and for the bootstraps it
// needs (job://, read through the API), so independent Jobs run in parallel.
func bootstrapJobs(c *catalog.Catalog, g *catalog.Graph, cms catalogConfigMaps) []any {
	var out []any
	for _, b := range c.Bootstraps {
		if _, ok := g.Node(b.Name); !ok {
			continue
		}
		m := meta(c, b.Name, ComponentBootstrap)
		m.Labels[LabelBootstrap] = b.Name
		pm := podMeta(c, b.Name, ComponentBootstrap)
		pm.Labels[LabelBootstrap] = b.Name
		out = append(out, &batchv1.Job{
			TypeMeta:   typeMeta("batch/v1", "Job"),
			ObjectMeta: m,
			Spec: batchv1.JobSpec{
				BackoffLimit: ptr(int32(6)),
				Template: corev1.PodTemplateSpec{
					ObjectMeta: pm,
					Spec: corev1.PodSpec{
						ServiceAccountName: BootstrapServiceAccount,
						RestartPolicy:      corev1.RestartPolicyOnFailure,
						EnableServiceLinks: ptr(false),
						InitContainers:     waitContainers(c, g, b.Name),
						Containers: []corev1.Container{{
							Name:            "bootstrap",
							Image:           ToolImage,
							ImagePullPolicy: corev1.PullIfNotPresent,
							Args:            bootstrapArgs(c, b),
							Env:             bootstrapEnv(c, b),
							Resources:       toolResources(),
							VolumeMounts:    []corev1.VolumeMount{{Name: "catalog", MountPath: CatalogMount, ReadOnly: true}},
						}},
						Volumes: []corev1.Volume{cms.volume()},
					},
				},
			},
		})
	}
	return out
}

// bootstrapArgs is the command line after the image's novadev entrypoint.
func bootstrapArgs(c *catalog.Catalog, b *catalog.Bootstrap) []string {
	return []string{"bootstrap", b.Step, "--catalog", path.Join(CatalogMount, path.Base(c.File))}
}

// bootstrapEnv tells a bootstrap where its store is and its credentials.
func bootstrapEnv(c *catalog.Catalog, b *catalog.Bootstrap) []corev1.EnvVar {
	st := c.Stores[b.Store.Value]
	if st == nil {
		return nil
	}
	switch st.Kind {
	case catalog.StorePostgres:
		env := []corev1.EnvVar{
			secretEnv(catalog.SuperuserPasswordVar, catalog.SuperuserPasswordVar),
			{Name: "DATABASE_URL", Value: fmt.Sprintf("postgres://postgres:$(%s)@%s:%d/postgres?sslmode=disable", catalog.SuperuserPasswordVar, st.Name, st.Port)},
		}
		for _, u := range databaseUsers(c) {
			env = append(env, secretEnv(catalog.PasswordVar(u), catalog.PasswordVar(u)))
		}
		return env
	case catalog.StoreRedisCluster:
		return []corev1.EnvVar{{Name: "REDIS_CLUSTER_NODES", Value: storeAddr(st)}}
	case catalog.StoreKafka:
		return []corev1.EnvVar{{Name: "KAFKA_BROKERS", Value: storeAddr(st)}}
	case catalog.StoreClickHouse:
		return []corev1.EnvVar{{Name: "CLICKHOUSE_URL", Value: storeAddr(st)}}
	}
	return nil
}

// databaseUsers are the database users of every active service, sorted by service.
func databaseUsers(c *catalog.Catalog) []string {
	var out []string
	for _, s := range c.ActiveServices() {
		if s.Database != nil {
			out = append(out, s.Database.User)
		}
	}
	return out
}

// rbacObjects are the bootstrap ServiceAccount and the Role/RoleBinding that
// lets every pod waiting on a Job read Jobs, and nothing else.
func rbacObjects(c *catalog.Catalog, g *catalog.Graph) []any {
	sa := &corev1.ServiceAccount{
		TypeMeta:                     typeMeta("v1", "ServiceAccount"),
		ObjectMeta:                   meta(c, BootstrapServiceAccount, ComponentBootstrap),
		AutomountServiceAccountToken: ptr(true),
	}
	role := &rbacv1.Role{
		TypeMeta:   typeMeta("rbac.authorization.k8s.io/v1", "Role"),
		ObjectMeta: meta(c, JobReader, ComponentBootstrap),
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"get", "list", "watch"},
		}},
	}
	binding := &rbacv1.RoleBinding{
		TypeMeta:   typeMeta("rbac.authorization.k8s.io/v1", "RoleBinding"),
		ObjectMeta: meta(c, JobReader, ComponentBootstrap),
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: JobReader},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: BootstrapServiceAccount, Namespace: c.Env.Namespace}},
	}
	for _, s := range c.ActiveServices() {
		if needsJobs(g, s.Name) {
			binding.Subjects = append(binding.Subjects, rbacv1.Subject{Kind: "ServiceAccount", Name: s.Name, Namespace: c.Env.Namespace})
		}
	}
	return []any{sa, role, binding}
}

// postgresInitSQL is the psql script creating every service's database and
// least-privilege user, with the catalog's extensions: idempotent, passwords
// read from the environment (\getenv), CREATE DATABASE on its own
// statement.
func postgresInitSQL(c *catalog.Catalog, st *catalog.Store) string {
	var b strings.Builder
	fmt.Fprintf(&b, "-- %s\n-- psql -v ON_ERROR_STOP=1 -f init.sql, with every *_PASSWORD variable set.\n\\set ON_ERROR_STOP on\n", "Generated by novadev render from the catalog: one database and one least-privilege user per service.")
	for _, s := range c.ActiveServices() {
		if s.Database == nil {
			continue
		}
		db, user := s.Database.Name, s.Database.User
		pwVar := strings.ToLower(catalog.PasswordVar(user))
		fmt.Fprintf(&b, "\n-- %s\n", s.Name)
		fmt.Fprintf(&b, "\\getenv %s %s\n", pwVar, catalog.PasswordVar(user))
		fmt.Fprintf(&b, "SELECT 'CREATE ROLE %s' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '%s')\\gexec\n", user, user)
		fmt.Fprintf(&b, "ALTER ROLE %s WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'%s';\n", user, pwVar)
		fmt.Fprintf(&b, "SELECT 'CREATE DATABASE %s OWNER %s' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '%s')\\gexec\n", db, user, db)
		fmt.Fprintf(&b, "REVOKE ALL ON DATABASE %s FROM PUBLIC;\n", db)
		fmt.Fprintf(&b, "GRANT CONNECT, TEMPORARY ON DATABASE %s TO %s;\n", db, user)
		fmt.Fprintf(&b, "\\connect %s\n", db)
		for _, ext := range st.Extensions {
			fmt.Fprintf(&b, "CREATE EXTENSION IF NOT EXISTS %q;\n", ext)
		}
		fmt.Fprintf(&b, "\\connect postgres\n")
	}
	b.WriteString("\n-- PUBLIC may connect to these by default\nREVOKE CONNECT ON DATABASE postgres, template1 FROM PUBLIC;\n")
	return b.String()
}
