package kind

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/novadev/novadev/internal/catalog"
)

// ConfigMaps that carry the catalog into the cluster.
const (
	CatalogConfigMap    = "novadev-catalog"
	ProtosConfigMap     = "nova-protos"
	MigrationsConfigMap = "nova-migrations"
	RegistryConfigMap   = "nova-service-registry"
	PostgresInitMap     = "postgres-init"
)

// catalogConfigMaps hold the catalog file, proto files and migrations, with
// the relative path of every key, so a projected volume rebuilds the
// catalog's directory tree for `novadev bootstrap --catalog`.
type catalogConfigMaps struct {
	maps  []*corev1.ConfigMap
	paths map[string]map[string]string // configmap -> key -> relative path
}

func (m catalogConfigMaps) volume() corev1.Volume {
	var sources []corev1.VolumeProjection
	for _, cm := range m.maps {
		var items []corev1.KeyToPath
		for _, k := range sortedKeys(cm.Data) {
			items = append(items, corev1.KeyToPath{Key: k, Path: m.paths[cm.Name][k]})
		}
		sources = append(sources, corev1.VolumeProjection{ConfigMap: &corev1.ConfigMapProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: cm.Name}, Items: items,
		}})
	}
	return corev1.Volume{Name: "catalog", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: sources}}}
}

// protoVolume projects the proto files of nova-protos (not the baseline)
// at their paths relative to protos.root: what a service container sees at
// contract.ProtoMount.
func (m catalogConfigMaps) protoVolume(c *catalog.Catalog) corev1.Volume {
	var items []corev1.KeyToPath
	for _, cm := range m.maps {
		if cm.Name != ProtosConfigMap {
			continue
		}
		for _, k := range sortedKeys(cm.Data) {
			rel := m.paths[cm.Name][k]
			if in, ok := strings.CutPrefix(rel, path.Clean(c.Protos.Root)+"/"); ok && strings.HasSuffix(in, ".proto") {
				items = append(items, corev1.KeyToPath{Key: k, Path: in})
			}
		}
	}
	return corev1.Volume{Name: "protos", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{
		ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: ProtosConfigMap}, Items: items},
	}}}}}
}

// configKey turns a relative path into a ConfigMap key: a/b/c.proto -> a_b_c.proto.
func configKey(rel string) string { return strings.ReplaceAll(rel, "/", "_") }

// loadCatalogConfigMaps reads the catalog file, the proto files of every
// active service with the recorded baseline (protos.baseline), and their
// migrations, relative to the catalog's directory.
func loadCatalogConfigMaps(c *catalog.Catalog) (catalogConfigMaps, error) {
	files := c.Files()
	out := catalogConfigMaps{paths: map[string]map[string]string{}}
	newMap := func(name string) *corev1.ConfigMap {
		cm := &corev1.ConfigMap{TypeMeta: typeMeta("v1", "ConfigMap"), ObjectMeta: meta(c, name, ComponentBootstrap), Data: map[string]string{}}
		out.maps = append(out.maps, cm)
		out.paths[name] = map[string]string{}
		return cm
	}
	put := func(cm *corev1.ConfigMap, rel string) error {
		data, err := fs.ReadFile(files, rel)
		if err != nil {
			return fmt.Errorf("render kind: %w", err)
		}
		key := configKey(rel)
		if old, dup := out.paths[cm.Name][key]; dup && old != rel {
			return fmt.Errorf("render kind: %s and %s map to the same ConfigMap key %s", old, rel, key)
		}
		cm.Data[key] = string(data)
		out.paths[cm.Name][key] = rel
		return nil
	}
	catalogMap := newMap(CatalogConfigMap)
	if err := put(catalogMap, filepath.Base(c.File)); err != nil {
		return out, err
	}
	protos := newMap(ProtosConfigMap)
	migrations := newMap(MigrationsConfigMap)
	// the recorded registry baseline, at the catalog's relative path, so
	// `novadev bootstrap proto-validate` finds it beside the proto files
	if c.Protos.Baseline != "" {
		if err := put(protos, path.Clean(c.Protos.Baseline)); err != nil {
			return out, fmt.Errorf("%w (protos.baseline: record it with `novadev bootstrap proto-validate --record`)", err)
		}
	}
	for _, s := range c.ActiveServices() {
		for _, p := range s.Protos {
			if err := put(protos, path.Join(c.Protos.Root, p)); err != nil {
				return out, err
			}
		}
		if s.Migrations == "" {
			continue
		}
		entries, err := fs.ReadDir(files, path.Clean(s.Migrations))
		if err != nil {
			return out, fmt.Errorf("render kind: migrations of %s: %w", s.Name, err)
		}
		for _, e := range entries {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".sql") {
				if err := put(migrations, path.Join(s.Migrations, e.Name())); err != nil {
					return out, err
				}
			}
		}
	}
	return out, nil
}

// Registry is the service registry ConfigMap's content: the API contract
// version and, per service, its API, address, proto files and dependencies.
type Registry struct {
	Version  string          `json:"version"`
	Services []RegistryEntry `json:"services"`
}

// RegistryEntry is one service in the Registry.
type RegistryEntry struct {
	Name      string   `json:"name"`
	API       string   `json:"api,omitempty"`
	Address   string   `json:"address"`
	Protos    []string `json:"protos,omitempty"`
	DependsOn []string `json:"dependsOn,omitempty"`
	Stores    []string `json:"stores,omitempty"`
}

// registry builds the Registry from the dependency graph.
func registry(c *catalog.Catalog, g *catalog.Graph) Registry {
	r := Registry{Version: c.Protos.Version, Services: []RegistryEntry{}}
	for _, s := range c.ActiveServices() {
		e := RegistryEntry{Name: s.Name, API: s.API, Address: fmt.Sprintf("%s:%d", s.Name, grpcPort(s)), Protos: s.Protos}
		for _, d := range g.Needs(s.Name) {
			switch it, _ := g.Node(d); it.Kind {
			case catalog.KindService:
				e.DependsOn = append(e.DependsOn, d)
			case catalog.KindStore:
				e.Stores = append(e.Stores, d)
			}
		}
		r.Services = append(r.Services, e)
	}
	return r
}

func registryConfigMap(c *catalog.Catalog, g *catalog.Graph) (*corev1.ConfigMap, error) {
	data, err := json.MarshalIndent(registry(c, g), "", "  ")
	if err != nil {
		return nil, err
	}
	cm := &corev1.ConfigMap{TypeMeta: typeMeta("v1", "ConfigMap"), ObjectMeta: meta(c, RegistryConfigMap, ComponentService),
		Data: map[string]string{"registry.json": string(data) + "\n", "version": c.Protos.Version}}
	return cm, nil
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
