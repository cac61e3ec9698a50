package kind

import (
	"path"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/types"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/render"
	"github.com/novadev/novadev/internal/state"
)

// renderBase renders the kustomize base from the catalog with no overlay:
// the catalog's names, images and resources, in the catalog's namespace.
func renderBase(c *catalog.Catalog) (render.Files, error) {
	g := c.Graph()
	files := render.Files{}
	var resources []string
	add := func(rel string, objs ...any) error {
		data, err := encode(objs...)
		if err != nil {
			return err
		}
		files[rel] = data
		resources = append(resources, rel)
		return nil
	}
	ns := &corev1.Namespace{TypeMeta: typeMeta("v1", "Namespace"), ObjectMeta: meta(c, c.Env.Namespace, ComponentService)}
	ns.Namespace = ""
	delete(ns.Labels, state.LabelApp)
	if err := add("namespace.yaml", ns); err != nil {
		return nil, err
	}

	cms, err := loadCatalogConfigMaps(c)
	if err != nil {
		return nil, err
	}
	reg, err := registryConfigMap(c, g)
	if err != nil {
		return nil, err
	}
	catalogObjs := []any{reg}
	for _, cm := range cms.maps {
		catalogObjs = append(catalogObjs, cm)
	}
	if err := add("catalog.yaml", catalogObjs...); err != nil {
		return nil, err
	}

	for _, st := range clusterStores(c) {
		objs, err := storeObjects(c, st)
		if err != nil {
			return nil, err
		}
		if st.Kind == catalog.StorePostgres {
			objs = append(objs, &corev1.ConfigMap{
				TypeMeta:   typeMeta("v1", "ConfigMap"),
				ObjectMeta: meta(c, PostgresInitMap, ComponentStore),
				Data:       map[string]string{"init.sql": postgresInitSQL(c, st)},
			})
		}
		if err := add(path.Join("stores", st.Name+".yaml"), objs...); err != nil {
			return nil, err
		}
	}

	jobs, err := bootstrapJobs(c, g, cms)
	if err != nil {
		return nil, err
	}
	if err := add("bootstrap.yaml", append(rbacObjects(c, g), jobs...)...); err != nil {
		return nil, err
	}
	if err := add("grpc-services.yaml", grpcServices(c)); err != nil {
		return nil, err
	}
	for _, s := range c.ActiveServices() {
		objs, err := serviceObjects(c, g, s, cms)
		if err != nil {
			return nil, err
		}
		if err := add(path.Join("services", s.Name+".yaml"), objs...); err != nil {
			return nil, err
		}
	}
	if err := add("network-policies.yaml", networkPolicies(c, g)...); err != nil {
		return nil, err
	}

	k := kustomization()
	k.Labels = []types.Label{{Pairs: map[string]string{state.LabelAppPartOf: c.Metadata.Name}}}
	k.Resources = resources
	data, err := encode(k)
	if err != nil {
		return nil, err
	}
	files["kustomization.yaml"] = data
	return files, nil
}

func kustomization() *types.Kustomization {
	return &types.Kustomization{TypeMeta: types.TypeMeta{APIVersion: types.KustomizationVersion, Kind: types.KustomizationKind}}
}
