package kind

import (
	"fmt"
	"path"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/resid"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/contract"
	"github.com/novadev/novadev/internal/render"
	"github.com/novadev/novadev/internal/state"
)

// Pull-request overlay markers: CI sets the namespace and suffix per pull
// request (kustomize edit set namespace nova-pr-<n>; the suffix transformer's
// value), and a janitor deletes namespaces labelled state.LabelEphemeral
// once older than their state.AnnotationExpiresAfter.
const (
	PRExpiresAfter = "72h"
	PRSuffix       = "-pr"
)

// Staging's shapes (the staging guide).
const (
	StagingStorageClass = "gp3"
	StagingVolumeSize   = "10Gi"
	StagingKafkaImage   = "confluentinc/cp-kafka:7.7.1" // Kafka 3.7 in ZooKeeper mode
	StagingZooKeeper    = "confluentinc/cp-zookeeper:7.7.1"
	ZooKeeperName       = "zookeeper"
	ClickHouseCHIName   = "nova-clickhouse"
	SecretStoreName     = "aws-secrets-manager"
	SecretRemoteKey     = "nova-staging"
)

// splitImage splits a reference into repository and tag.
func splitImage(ref string) (name, tag string) {
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ref, ""
	}
	return ref[:i], ref[i+1:]
}

// imageOverrides are kustomize images entries turning the base's images into
// the environment's (placeholder and offline images for dev, the pull
// request's tag for pr).
func imageOverrides(base, env *catalog.Catalog) []types.Image {
	seen := map[string]bool{}
	var out []types.Image
	add := func(from, to string) {
		if from == to || from == "" || to == "" {
			return
		}
		fn, ft := splitImage(from)
		tn, tt := splitImage(to)
		if seen[fn] {
			return
		}
		seen[fn] = true
		img := types.Image{Name: fn}
		if tn != fn {
			img.NewName = tn
		}
		if tt != ft {
			img.NewTag = tt
		}
		out = append(out, img)
	}
	for _, s := range base.ActiveServices() {
		if e := env.Services[s.Name]; e != nil {
			add(s.Image, e.Image)
		}
	}
	for _, st := range clusterStores(base) {
		if e := env.Stores[st.Name]; e != nil && env.Unavailable(st.Name) == "" {
			add(st.Image, e.Image)
		}
	}
	slices.SortFunc(out, func(a, b types.Image) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// baseImages are the images of the base's pods: every active service's,
// every cluster store's the environment can run (not an unavailable one,
// which the overlay deletes) and the tool image (init containers, Jobs).
func baseImages(base, env *catalog.Catalog) []string {
	var out []string
	for _, s := range base.ActiveServices() {
		out = append(out, s.Image)
	}
	for _, st := range clusterStores(base) {
		if env.Unavailable(st.Name) != "" {
			continue // the overlay deletes its workload: nothing pulls it
		}
		out = append(out, st.Image)
	}
	return append(out, ToolImage)
}

// registryImages points every image of an overlay at the local registry
// (RegistryHost/<repository>:<tag>, the repository without its registry
// host, as internal/kindcluster.RegistryRef names what it pushes): the
// node's containerd pulls them through the mirror cluster.yaml configures,
// so no image has to be side-loaded into the node (kind load) and a rebuilt
// image reaches the cluster by a push of what changed. overrides are the
// environment's images entries; base images without one are added.
func registryImages(base, env *catalog.Catalog, overrides []types.Image) []types.Image {
	byName := map[string]types.Image{}
	for _, img := range overrides {
		byName[img.Name] = img
	}
	// The overlay's own patches (run-as: volume-owner init containers) name
	// the environment's images directly.
	for _, img := range overrides {
		if img.NewName != "" {
			if _, ok := byName[img.NewName]; !ok {
				byName[img.NewName] = types.Image{Name: img.NewName}
			}
		}
	}
	for _, ref := range baseImages(base, env) {
		if n, _ := splitImage(ref); n != "" {
			if _, ok := byName[n]; !ok {
				byName[n] = types.Image{Name: n}
			}
		}
	}
	out := make([]types.Image, 0, len(byName))
	for _, img := range byName {
		to := img.NewName
		if to == "" {
			to = img.Name
		}
		img.NewName = RegistryHost + "/" + repositoryPath(to)
		out = append(out, img)
	}
	slices.SortFunc(out, func(a, b types.Image) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// repositoryPath is an image name without its registry host, in the
// familiar form for Docker Hub (postgres, not docker.io/library/postgres).
func repositoryPath(name string) string {
	if first, rest, ok := strings.Cut(name, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		name = rest
		if first == "docker.io" || first == "index.docker.io" {
			name = strings.TrimPrefix(name, "library/")
		}
	}
	return name
}

// LocalImages are the images, as the Docker engine names them, that the dev
// overlay pulls from the local registry: what the kind target pushes
// (kindcluster.Provisioner.LoadImages) before applying it.
func LocalImages(set *catalog.Set) ([]string, error) {
	dev := set.ForKindOverlay(OverlayDev)
	if dev == nil {
		return nil, fmt.Errorf("no environment with `kindOverlay: %s`", OverlayDev)
	}
	byName := map[string]string{}
	for _, img := range imageOverrides(set.Base, dev) {
		byName[img.Name] = joinImage(img)
	}
	seen := map[string]bool{}
	var out []string
	for _, ref := range baseImages(set.Base, dev) {
		n, t := splitImage(ref)
		local, ok := byName[n]
		if !ok {
			local = ref
		} else if _, lt := splitImage(local); lt == "" && t != "" {
			local += ":" + t // kustomize keeps the base's tag when the entry sets none
		}
		if !seen[local] {
			seen[local] = true
			out = append(out, local)
		}
	}
	slices.Sort(out)
	return out, nil
}

// joinImage is what an images entry turns its Name into (NewTag empty: the
// tag stays as it was).
func joinImage(img types.Image) string {
	n := img.Name
	if img.NewName != "" {
		n = img.NewName
	}
	if img.NewTag != "" {
		n += ":" + img.NewTag
	}
	return n
}

// resourcePatches are strategic-merge patches setting the environment's
// (scaled) requests and limits where they differ from the base's; fit
// adjusts the environment's resources first (the dev node's CPU budget).
func resourcePatches(base, env *catalog.Catalog, fit func(catalog.Resources) (catalog.Resources, error)) ([]any, error) {
	var out []any
	patch := func(kind, apiVersion, name string, r catalog.Resources) error {
		res, err := resources(r)
		if err != nil {
			return err
		}
		out = append(out, map[string]any{
			"apiVersion": apiVersion, "kind": kind, "metadata": patchMeta(base, name),
			"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
				"containers": []any{map[string]any{"name": name, "resources": res}},
			}}},
		})
		return nil
	}
	for _, s := range base.ActiveServices() {
		if e := env.Services[s.Name]; e != nil {
			r, err := fit(e.Resources)
			if err != nil {
				return nil, fmt.Errorf("service %s: %w", s.Name, err)
			}
			if quantities(s.Resources) != quantities(r) {
				if err := patch("Deployment", "apps/v1", s.Name, r); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, st := range clusterStores(base) {
		if e := env.Stores[st.Name]; e != nil && env.Unavailable(st.Name) == "" {
			r, err := fit(e.Resources)
			if err != nil {
				return nil, fmt.Errorf("store %s: %w", st.Name, err)
			}
			if quantities(st.Resources) != quantities(r) {
				if err := patch("StatefulSet", "apps/v1", st.Name, r); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

func quantities(r catalog.Resources) [4]string {
	return [4]string{r.Requests.CPU, r.Requests.Memory, r.Limits.CPU, r.Limits.Memory}
}

// credentialsGenerator makes the credentials Secret from the git-ignored env
// file that novadev writes next to the overlay's kustomization.
func credentialsGenerator() types.SecretArgs {
	return types.SecretArgs{GeneratorArgs: types.GeneratorArgs{
		Name:          CredentialsSecret,
		KvPairSources: types.KvPairSources{EnvSources: []string{CredentialsFile}},
	}, Type: "Opaque"}
}

// overlay collects an overlay's files and kustomization.
type overlay struct {
	files render.Files
	k     *types.Kustomization
}

func newOverlay(namespace string) *overlay {
	k := kustomization()
	k.Namespace = namespace
	k.Resources = []string{"../../base"}
	return &overlay{files: render.Files{}, k: k}
}

func (o *overlay) resource(rel string, objs ...any) error {
	data, err := encode(objs...)
	if err != nil {
		return err
	}
	o.files[rel] = data
	o.k.Resources = append(o.k.Resources, rel)
	return nil
}

func (o *overlay) patch(rel string, objs ...any) error {
	for i, obj := range objs {
		data, err := encodePatch(obj)
		if err != nil {
			return err
		}
		name := rel
		if len(objs) > 1 {
			name = strings.TrimSuffix(rel, ".yaml") + fmt.Sprintf("-%02d.yaml", i)
		}
		o.files[name] = data
		o.k.Patches = append(o.k.Patches, types.Patch{Path: name})
	}
	return nil
}

func (o *overlay) done() (render.Files, error) {
	data, err := encode(o.k)
	if err != nil {
		return nil, err
	}
	o.files["kustomization.yaml"] = data
	return o.files, nil
}

// namespacePatch renames the base's Namespace object to the overlay's (the
// namespace transformer sets every object's namespace but leaves Namespace
// objects' names alone) and adds annotations.
func namespacePatch(base *catalog.Catalog, namespace string, labels, annotations map[string]string) types.Patch {
	var ops []string
	ops = append(ops, fmt.Sprintf("- op: replace\n  path: /metadata/name\n  value: %s", namespace))
	for _, k := range sortedKeys(labels) {
		ops = append(ops, fmt.Sprintf("- op: add\n  path: /metadata/labels/%s\n  value: %q", jsonPointer(k), labels[k]))
	}
	if len(annotations) > 0 {
		ops = append(ops, "- op: add\n  path: /metadata/annotations\n  value: {}")
		for _, k := range sortedKeys(annotations) {
			ops = append(ops, fmt.Sprintf("- op: add\n  path: /metadata/annotations/%s\n  value: %q", jsonPointer(k), annotations[k]))
		}
	}
	return types.Patch{
		Target: &types.Selector{ResId: resIDNamespace(base.Env.Namespace)},
		Patch:  strings.Join(ops, "\n") + "\n",
	}
}

func jsonPointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// renderDev is kind on a laptop: the local environment's images (the
// placeholder for services, the offline store images), its scaled
// resources, generated credentials and the gateway on a NodePort.
func renderDev(base, dev *catalog.Catalog) (render.Files, error) {
	o := newOverlay(dev.Env.Namespace)
	o.k.Patches = append(o.k.Patches, namespacePatch(base, dev.Env.Namespace, nil, nil))
	o.k.Images = registryImages(base, dev, imageOverrides(base, dev))
	o.k.SecretGenerator = []types.SecretArgs{credentialsGenerator()}
	var gw []any
	for _, gp := range gatewayPorts(dev) {
		gw = append(gw, &corev1.Service{
			TypeMeta:   typeMeta("v1", "Service"),
			ObjectMeta: meta(dev, gp.service+"-nodeport", ComponentService),
			Spec: corev1.ServiceSpec{
				Type:     corev1.ServiceTypeNodePort,
				Selector: selector(gp.service),
				Ports:    []corev1.ServicePort{{Name: "http", Port: int32(gp.port), TargetPort: intstr.FromString("http"), NodePort: int32(gp.nodePort), Protocol: corev1.ProtocolTCP}},
			},
		})
	}
	if len(gw) > 0 {
		if err := o.resource("gateway-nodeport.yaml", gw...); err != nil {
			return nil, err
		}
	}
	// one kind node next to the control plane: CPU requests fit its budget
	fit, err := fitCPU(dev, DevCPUBudgetMilli)
	if err != nil {
		return nil, err
	}
	if err := o.resourcePatches(base, dev, fit); err != nil {
		return nil, err
	}
	if del := unavailableStores(base, dev); len(del) > 0 {
		if err := o.patch("patches/unavailable.yaml", del...); err != nil {
			return nil, err
		}
	}
	// stores whose offline image runs as non-root own their volume
	runAs, err := runAsPatches(base, dev)
	if err != nil {
		return nil, err
	}
	if len(runAs) > 0 {
		if err := o.patch("patches/run-as.yaml", runAs...); err != nil {
			return nil, err
		}
	}
	return o.done()
}

// renderPR is one namespace per pull request: the pr environment's images,
// a name suffix on everything that is not a network identity (Services and
// StatefulSets keep their names: addresses and pod hostnames are derived
// from them), an expiry annotation on the Namespace, and the stores the pr
// environment adds (Elasticsearch).
func renderPR(base, pr *catalog.Catalog) (render.Files, error) {
	o := newOverlay(pr.Env.Namespace)
	o.k.Patches = append(o.k.Patches, namespacePatch(base, pr.Env.Namespace,
		map[string]string{state.LabelEphemeral: "true"},
		map[string]string{state.AnnotationExpiresAfter: PRExpiresAfter}))
	o.k.Images = imageOverrides(base, pr)
	o.k.SecretGenerator = []types.SecretArgs{credentialsGenerator()}
	suffix := map[string]any{
		"apiVersion": "builtin",
		"kind":       "PrefixSuffixTransformer",
		"metadata":   map[string]any{"name": "pr-suffix"},
		"suffix":     PRSuffix,
	}
	var specs []any
	for _, k := range []string{"ConfigMap", "Deployment", "Job", "NetworkPolicy", "Role", "RoleBinding", "Secret", "ServiceAccount"} {
		specs = append(specs, map[string]any{"kind": k, "path": "metadata/name"})
	}
	suffix["fieldSpecs"] = specs
	data, err := encode(suffix)
	if err != nil {
		return nil, err
	}
	o.files["suffix.yaml"] = data
	o.k.Transformers = []string{"suffix.yaml"}

	if err := extraStores(o, base, pr); err != nil {
		return nil, err
	}
	if err := o.resourcePatches(base, pr, unchanged); err != nil {
		return nil, err
	}
	return o.done()
}

// extraStores adds the stores an environment activates beyond the base's
// (profiles): their objects and network policies, and the environment
// variables of the services that use them.
func extraStores(o *overlay, base, env *catalog.Catalog) error {
	g := env.Graph()
	var patches []any
	for _, st := range clusterStores(env) {
		if b := base.Stores[st.Name]; b != nil && base.Active(b.Profiles) {
			continue
		}
		objs, err := storeObjects(base, st)
		if err != nil {
			return err
		}
		it, _ := g.Node(st.Name)
		objs = append(objs, allowPolicy(base, g, it))
		for _, u := range g.Users(st.Name) {
			ui, _ := g.Node(u)
			if ui.Kind != catalog.KindService {
				continue
			}
			objs = append(objs, &networkingv1.NetworkPolicy{
				TypeMeta:   typeMeta("networking.k8s.io/v1", "NetworkPolicy"),
				ObjectMeta: meta(base, "allow-"+u+"-to-"+st.Name, ComponentService),
				Spec: networkingv1.NetworkPolicySpec{
					PodSelector: metav1LabelSelector{MatchLabels: selector(u)},
					PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
					Egress:      []networkingv1.NetworkPolicyEgressRule{{To: peer(st.Name), Ports: policyPorts(netPorts(it))}},
				},
			})
			vars, err := envVars(contract.StoreVars(env, contract.Kind, ui.Service, st))
			if err != nil {
				return fmt.Errorf("service %s: %w", u, err)
			}
			patches = append(patches, map[string]any{
				"apiVersion": "apps/v1", "kind": "Deployment", "metadata": patchMeta(base, u),
				"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
					"containers": []any{map[string]any{"name": u, "env": vars}},
				}}},
			})
		}
		if err := o.resource(path.Join("stores", st.Name+".yaml"), objs...); err != nil {
			return err
		}
	}
	if len(patches) > 0 {
		return o.patch("patches/store-env.yaml", patches...)
	}
	return nil
}

// renderStaging is the staging guide's shape: the nova-staging namespace,
// credentials from AWS Secrets Manager through an ExternalSecret, ClickHouse
// through the Altinity operator's ClickHouseInstallation, Kafka with
// ZooKeeper, and gp3 volumes of 10Gi.
func renderStaging(base *catalog.Catalog) (render.Files, error) {
	o := newOverlay(StagingNamespace)
	o.k.Patches = append(o.k.Patches, namespacePatch(base, StagingNamespace, nil, nil))
	reg := strings.TrimSuffix(base.Images.Registry, "/")
	name, _ := splitImage(ToolImage)
	o.k.Images = []types.Image{{Name: name, NewName: reg + "/" + path.Base(name), NewTag: base.Images.Tag}}

	if err := o.resource("external-secret.yaml", externalSecret(base)); err != nil {
		return nil, err
	}
	for _, st := range base.StoresOfKind(catalog.StoreClickHouse) {
		chi, err := clickHouseInstallation(base, st)
		if err != nil {
			return nil, err
		}
		if err := o.resource("clickhouse-installation.yaml", chi); err != nil {
			return nil, err
		}
		for _, kind := range []string{"StatefulSet", "Service"} {
			api := "v1"
			if kind == "StatefulSet" {
				api = "apps/v1"
			}
			if err := o.patch("patches/delete-clickhouse-"+strings.ToLower(kind)+".yaml", map[string]any{
				"apiVersion": api, "kind": kind, "metadata": patchMeta(base, st.Name), "$patch": "delete",
			}); err != nil {
				return nil, err
			}
		}
	}
	for _, st := range base.StoresOfKind(catalog.StoreKafka) {
		zk, err := zookeeper(base, st)
		if err != nil {
			return nil, err
		}
		if err := o.resource("zookeeper.yaml", zk...); err != nil {
			return nil, err
		}
		if err := o.patch("patches/kafka-zookeeper.yaml", kafkaPatch(base, st)); err != nil {
			return nil, err
		}
	}
	o.k.Patches = append(o.k.Patches, types.Patch{
		Target: &types.Selector{ResId: resIDKind("StatefulSet")},
		Patch: fmt.Sprintf("- op: add\n  path: /spec/volumeClaimTemplates/0/spec/storageClassName\n  value: %s\n"+
			"- op: replace\n  path: /spec/volumeClaimTemplates/0/spec/resources/requests/storage\n  value: %s\n", StagingStorageClass, StagingVolumeSize),
	})
	return o.done()
}

// externalSecret fills the credentials Secret from AWS Secrets Manager: one
// property of the nova-staging secret per key.
func externalSecret(c *catalog.Catalog) map[string]any {
	var data []any
	for _, k := range CredentialKeys(c) {
		data = append(data, map[string]any{"secretKey": k, "remoteRef": map[string]any{"key": SecretRemoteKey, "property": k}})
	}
	return map[string]any{
		"apiVersion": "external-secrets.io/v1",
		"kind":       "ExternalSecret",
		"metadata":   map[string]any{"name": CredentialsSecret, "labels": labels(c, CredentialsSecret, ComponentStore)},
		"spec": map[string]any{
			"refreshInterval": "1h",
			"secretStoreRef":  map[string]any{"kind": "ClusterSecretStore", "name": SecretStoreName},
			"target":          map[string]any{"name": CredentialsSecret, "creationPolicy": "Owner"},
			"data":            data,
		},
	}
}

// clickHouseCHIUsers are the ClickHouseInstallation's users (the operator's
// flat "user/setting" keys): the admin clickhouse-init logs in as, allowed to
// manage users (access_management), and each service user with SELECT and
// INSERT on its own database (grants/query, which the operator turns into
// users.d grants), every password read by the operator from the credentials
// Secret the ExternalSecret fills (k8s_secret_password: secret/key in the
// installation's namespace). The operator keeps its own restriction of the
// password-less default user to the installation's pods.
func clickHouseCHIUsers(c *catalog.Catalog) map[string]any {
	out := map[string]any{}
	user := func(name string, cr contract.Credential) {
		out[name+"/k8s_secret_password"] = CredentialsSecret + "/" + cr.Key
		out[name+"/networks/ip"] = []any{"::/0"}
		out[name+"/profile"] = "default"
	}
	user(contract.ClickHouseAdminUser, contract.ClickHouseCredentials(c)[0])
	out[contract.ClickHouseAdminUser+"/access_management"] = 1
	for _, u := range contract.ClickHouseUsers(c) {
		user(u.User, u.Password)
		out[u.User+"/grants/query"] = []any{"GRANT SELECT, INSERT ON " + u.Database + ".*"}
	}
	return out
}

// clickHouseInstallation replaces the ClickHouse StatefulSet: one shard, one
// replica, its Service named like the store so addresses do not change, and
// pods labelled like the base's so the network policies still apply.
func clickHouseInstallation(c *catalog.Catalog, st *catalog.Store) (map[string]any, error) {
	res, err := resources(st.Resources)
	if err != nil {
		return nil, err
	}
	pod := corev1.PodSpec{Containers: []corev1.Container{{
		Name: "clickhouse", Image: st.Image, Resources: res,
		Ports: storePorts(st),
	}}}
	var ports []any
	for _, p := range storePorts(st) {
		ports = append(ports, map[string]any{"name": p.Name, "port": p.ContainerPort})
	}
	return map[string]any{
		"apiVersion": "clickhouse.altinity.com/v1",
		"kind":       "ClickHouseInstallation",
		"metadata":   map[string]any{"name": ClickHouseCHIName, "labels": labels(c, st.Name, ComponentStore)},
		"spec": map[string]any{
			"defaults": map[string]any{"templates": map[string]any{
				"podTemplate": "clickhouse", "dataVolumeClaimTemplate": "data", "serviceTemplate": "clickhouse",
			}},
			"configuration": map[string]any{
				"clusters": []any{map[string]any{
					"name": "nova", "layout": map[string]any{"shardsCount": 1, "replicasCount": 1},
				}},
				"users": clickHouseCHIUsers(c),
			},
			"templates": map[string]any{
				"podTemplates": []any{map[string]any{
					"name":     "clickhouse",
					"metadata": map[string]any{"labels": labels(c, st.Name, ComponentStore)},
					"spec":     pod,
				}},
				"volumeClaimTemplates": []any{map[string]any{
					"name": "data",
					"spec": map[string]any{
						"storageClassName": StagingStorageClass,
						"accessModes":      []any{"ReadWriteOnce"},
						"resources":        map[string]any{"requests": map[string]any{"storage": StagingVolumeSize}},
					},
				}},
				"serviceTemplates": []any{map[string]any{
					"name": "clickhouse", "generateName": st.Name,
					"spec": map[string]any{"type": "ClusterIP", "ports": ports},
				}},
			},
		},
	}, nil
}

// kafkaPatch swaps the Kafka-protocol stand-in for Kafka in ZooKeeper mode.
func kafkaPatch(c *catalog.Catalog, st *catalog.Store) map[string]any {
	env := []corev1.EnvVar{
		{Name: "KAFKA_BROKER_ID", Value: "1"},
		{Name: "KAFKA_ZOOKEEPER_CONNECT", Value: fmt.Sprintf("%s:2181", ZooKeeperName)},
		{Name: "KAFKA_LISTENERS", Value: fmt.Sprintf("PLAINTEXT://0.0.0.0:%d", st.Port)},
		{Name: "KAFKA_ADVERTISED_LISTENERS", Value: "PLAINTEXT://" + storeAddr(st)},
		{Name: "KAFKA_LOG_DIRS", Value: "/data/logs"},
		{Name: "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", Value: "1"},
		{Name: "KAFKA_AUTO_CREATE_TOPICS_ENABLE", Value: "false"},
	}
	return map[string]any{
		"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": patchMeta(c, st.Name),
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"containers": []any{map[string]any{"name": st.Name, "image": StagingKafkaImage, "args": nil, "env": env}},
		}}},
	}
}

// zookeeper is the single ZooKeeper node staging's Kafka uses, with the
// network policies of that edge (kafka -> zookeeper), which the catalog's
// graph does not know about.
func zookeeper(c *catalog.Catalog, kafka *catalog.Store) ([]any, error) {
	zk := &catalog.Store{Name: ZooKeeperName, Kind: "zookeeper", Image: StagingZooKeeper, Port: 2181, Storage: StagingVolumeSize,
		Resources: catalog.Resources{Requests: catalog.Quantities{CPU: "100m", Memory: "256Mi"}, Limits: catalog.Quantities{CPU: "500m", Memory: "512Mi"}}}
	res, err := resources(zk.Resources)
	if err != nil {
		return nil, err
	}
	svc := &corev1.Service{
		TypeMeta: typeMeta("v1", "Service"), ObjectMeta: meta(c, zk.Name, ComponentStore),
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: selector(zk.Name),
			Ports: []corev1.ServicePort{{Name: "client", Port: 2181, TargetPort: intstr.FromString("client"), Protocol: corev1.ProtocolTCP}}},
	}
	sts := &appsv1.StatefulSet{
		TypeMeta: typeMeta("apps/v1", "StatefulSet"), ObjectMeta: meta(c, zk.Name, ComponentStore),
		Spec: appsv1.StatefulSetSpec{
			ServiceName: zk.Name, Replicas: ptr(int32(1)),
			Selector: &metav1LabelSelector{MatchLabels: selector(zk.Name)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: podMeta(c, zk.Name, ComponentStore),
				Spec: corev1.PodSpec{
					AutomountServiceAccountToken: ptr(false), EnableServiceLinks: ptr(false),
					Containers: []corev1.Container{{
						Name: zk.Name, Image: zk.Image, ImagePullPolicy: corev1.PullIfNotPresent,
						Env:            []corev1.EnvVar{{Name: "ZOOKEEPER_CLIENT_PORT", Value: "2181"}, {Name: "ZOOKEEPER_TICK_TIME", Value: "2000"}},
						Ports:          []corev1.ContainerPort{{Name: "client", ContainerPort: 2181, Protocol: corev1.ProtocolTCP}},
						ReadinessProbe: &corev1.Probe{PeriodSeconds: 5, TimeoutSeconds: 2, FailureThreshold: 3, ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(2181)}}},
						Resources:      res,
						VolumeMounts:   []corev1.VolumeMount{{Name: "data", MountPath: "/var/lib/zookeeper"}},
					}},
				},
			},
		},
	}
	size, err := resourceQuantity(zk.Storage)
	if err != nil {
		return nil, err
	}
	pvc := corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
	}}
	pvc.Name = "data"
	sts.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{pvc}
	zkPolicy := &networkingv1.NetworkPolicy{
		TypeMeta: typeMeta("networking.k8s.io/v1", "NetworkPolicy"), ObjectMeta: meta(c, "allow-"+zk.Name, ComponentStore),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1LabelSelector{MatchLabels: selector(zk.Name)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: peer(kafka.Name), Ports: policyPorts([]int32{2181})}},
			Egress:      []networkingv1.NetworkPolicyEgressRule{dnsEgress()},
		},
	}
	kafkaPolicy := &networkingv1.NetworkPolicy{
		TypeMeta: typeMeta("networking.k8s.io/v1", "NetworkPolicy"), ObjectMeta: meta(c, "allow-"+kafka.Name+"-to-"+zk.Name, ComponentStore),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1LabelSelector{MatchLabels: selector(kafka.Name)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress:      []networkingv1.NetworkPolicyEgressRule{{To: peer(zk.Name), Ports: policyPorts([]int32{2181})}},
		},
	}
	return []any{svc, sts, zkPolicy, kafkaPolicy}, nil
}

func resIDNamespace(name string) resid.ResId {
	return resid.ResId{Gvk: resid.Gvk{Version: "v1", Kind: "Namespace"}, Name: name}
}

func resIDKind(kind string) resid.ResId {
	return resid.ResId{Gvk: resid.Gvk{Kind: kind}}
}

// patchMeta names a base object in a patch (patches match on namespace too).
func patchMeta(base *catalog.Catalog, name string) map[string]any {
	return map[string]any{"name": name, "namespace": base.Env.Namespace}
}

// resourcePatches adds the patch scaling an environment's requests and
// limits against the base's, when any differ.
func (o *overlay) resourcePatches(base, env *catalog.Catalog, fit func(catalog.Resources) (catalog.Resources, error)) error {
	patches, err := resourcePatches(base, env, fit)
	if err != nil || len(patches) == 0 {
		return err
	}
	return o.patch("patches/resources.yaml", patches...)
}

// unavailableStores are delete patches for the base's workload and Service
// of each optional store the environment has no image for
// (catalog.Unavailable: Elasticsearch on the offline set): a pod that can
// never pull would only sit in ImagePullBackOff. Its users keep its
// address (the contract) and run degraded; nothing waits for it (optional
// stores get no init container).
func unavailableStores(base, env *catalog.Catalog) []any {
	var out []any
	for _, st := range clusterStores(base) {
		if env.Unavailable(st.Name) == "" {
			continue
		}
		for _, k := range [][2]string{{"apps/v1", "StatefulSet"}, {"v1", "Service"}} {
			out = append(out, map[string]any{"$patch": "delete", "apiVersion": k[0], "kind": k[1], "metadata": patchMeta(base, st.Name)})
		}
	}
	return out
}

// unchanged is the fit of environments that run on a cluster sized for them.
func unchanged(r catalog.Resources) (catalog.Resources, error) { return r, nil }
