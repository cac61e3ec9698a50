package catalog

// NoOfflineImage is why an optional store is unavailable in an environment
// that runs the offline image set: there is no offline image of it (today
// Elasticsearch), and the offline set is all such an environment pulls.
const NoOfflineImage = "no offline image; use --images upstream or a mirror"

// Unavailable says why the environment has no image for a store, "" when it
// has one. Only an optional store can be unavailable: it is then a graph
// node that nothing runs (renderers leave it out of what starts by
// default, `up` skips it), and the services using it run degraded, with
// its address still in their environment.
//
// The rule is static, from the environment (after --images): with
// images.source offline or auto, a store with no offline image and no
// images.stores entry is not run (auto falls back per image, and this one
// has nothing to fall back to; the kind dev overlay runs only the offline
// set): `--images upstream` runs it. An environment without a source (pr,
// the bare catalog staging is rendered from) runs the image as written,
// unless it names per-store images (images.stores: an offline set) and
// none for this store. `up` also skips an optional store whose image is missing
// on the engine, whatever this says (supervisor.MakePlan).
func (c *Catalog) Unavailable(store string) string {
	st := c.Stores[store]
	if st == nil || !st.Optional || st.External || c.Env == nil {
		return ""
	}
	src := c.Env.Images.Source
	stores := c.Env.Images.Stores
	if stores[store] != "" {
		return ""
	}
	if (src == SourceOffline || src == SourceAuto) && st.Offline == "" || src == "" && len(stores) > 0 {
		return NoOfflineImage
	}
	return ""
}

// Degradations returns, for a service, the stores it uses that this
// environment cannot run (Unavailable), each with why: the service starts
// without them and is reported degraded. Sorted by store name.
func (c *Catalog) Degradations(s *Service) []Degradation {
	var out []Degradation
	for _, u := range c.UsedStores(s) {
		if why := c.Unavailable(u.Store.Name); why != "" {
			out = append(out, Degradation{Store: u.Store.Name, Why: why})
		}
	}
	return out
}

// Degradation is one store a service runs without, and why.
type Degradation struct {
	Store string
	Why   string
}

// String is the degraded state as people read it:
// "elasticsearch unavailable (no offline image; use --images upstream or a mirror)".
func (d Degradation) String() string { return d.Store + " unavailable (" + d.Why + ")" }
