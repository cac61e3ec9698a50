package app

// Instances: one environment run several times on one engine, each under
// its own name (--instance), compose project, network, volumes and
// host-port block, with an expiry gc enforces. See docs/instances.md.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/novadev/novadev/internal/backend/docker"
	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/cli"
	"github.com/novadev/novadev/internal/state"
	"github.com/novadev/novadev/internal/supervisor"
)

// Port blocks are allocated in [PortRangeMin, PortRangeMax]: above the
// well-known and registered ports people run by hand, below Linux's
// ephemeral range (decision 17).
const (
	PortRangeMin = 10000
	PortRangeMax = catalog.EphemeralPortMin - 1
)

// DefaultTTL is an instance's lifetime when up has no --ttl: an instance a
// dead CI job leaves behind expires, it never lives forever.
const DefaultTTL = 24 * time.Hour

// InstanceStore is where instance records live and what gc deletes: the
// Docker engine (docker.Instances) or a fake in tests.
type InstanceStore interface {
	Records(ctx context.Context) ([]state.InstanceRecord, []error, error)
	UsedPorts(ctx context.Context) ([]int, error)
	Write(ctx context.Context, r state.InstanceRecord) error
	Observe(ctx context.Context, project string) (*state.Observed, error)
	Remove(ctx context.Context, project string) error
	Close() error
}

// InstanceOpener opens the instance store of a target.
type InstanceOpener func(ctx context.Context, target string) (InstanceStore, error)

type dockerInstances struct {
	docker.Instances
	m *docker.Moby
}

func (d dockerInstances) Close() error { return d.m.Close() }

// openDockerInstances connects to the engine; an engine that is down fails
// at once with what to do.
func openDockerInstances(ctx context.Context, target string) (InstanceStore, error) {
	if target != "docker" {
		return nil, &cli.UsageError{Err: fmt.Errorf("--instance works on --target docker only for now, not %q", target)}
	}
	m, err := docker.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return dockerInstances{docker.Instances{Engine: m}, m}, nil
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// ValidateInstanceName accepts a DNS-1123 label (what a compose project, a
// network name and a Kubernetes namespace all accept).
func ValidateInstanceName(name string) error {
	if len(name) > 63 || !dnsLabel.MatchString(name) {
		return &cli.UsageError{Err: fmt.Errorf("--instance %q is not a DNS-1123 label: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit, e.g. pr-123", name)}
	}
	return nil
}

// ParseTTL reads --ttl: a Go duration (90m, 8h) or whole days (3d).
func ParseTTL(s string) (time.Duration, error) {
	bad := func() error {
		return &cli.UsageError{Err: fmt.Errorf("--ttl %q does not parse: give a positive duration such as 30m, 8h or 3d", s)}
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 365 {
			return 0, bad()
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, bad()
		}
	}
	if d <= 0 {
		return 0, bad()
	}
	return d, nil
}

// hostPorts lists every host port the loaded environment publishes (the
// same set catalog validation claims), sorted.
func hostPorts(c *catalog.Catalog) []int {
	var out []int
	for _, name := range c.StoreNames() {
		st := c.Stores[name]
		if st.External || st.Host == 0 {
			continue
		}
		n := 1
		if st.Kind == catalog.StoreRedisCluster {
			n = st.Nodes
		}
		for i := range n {
			out = append(out, st.Host+i)
		}
	}
	for _, name := range c.ServiceNames() {
		for _, p := range c.Services[name].Ports {
			if p.Host != 0 {
				out = append(out, p.Host)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// block is an environment's host ports relative to its hostPortBase.
type block struct {
	offsets []int // port - base, sorted
	span    int   // the block's size, rounded up to a multiple of 10
}

func blockOf(c *catalog.Catalog) (block, error) {
	ports := hostPorts(c)
	b := block{}
	for _, p := range ports {
		off := p - c.HostPortBase
		if off < 0 {
			return b, fmt.Errorf("environment %s publishes host port %d below its hostPortBase %d: an instance cannot move that block", c.Env.Metadata.Name, p, c.HostPortBase)
		}
		b.offsets = append(b.offsets, off)
	}
	if len(b.offsets) > 0 {
		b.span = (b.offsets[len(b.offsets)-1]/10 + 1) * 10
	} else {
		b.span = 10 // a block nobody shares even when nothing is published
	}
	return b, nil
}

// ErrNoPortBlock says every candidate block is taken.
var ErrNoPortBlock = errors.New("no free host-port block")

// allocate picks the first block base in [PortRangeMin, PortRangeMax]
// that overlaps no other instance's recorded block, holds no port a
// container publishes (used), and whose every port binds (free).
func allocate(b block, others []state.InstanceRecord, used []int, free func(int) error) (int, error) {
	inUse := map[int]bool{}
	for _, p := range used {
		inUse[p] = true
	}
	tried := 0
	for base := PortRangeMin; base+b.span-1 <= PortRangeMax; base += b.span {
		end := base + b.span - 1
		if slices.ContainsFunc(others, func(r state.InstanceRecord) bool { return base <= r.PortEnd() && r.PortBase <= end }) {
			continue
		}
		tried++
		ok := true
		for _, off := range b.offsets {
			if inUse[base+off] || free(base+off) != nil {
				ok = false
				break
			}
		}
		if ok {
			return base, nil
		}
	}
	return 0, fmt.Errorf("%w of %d ports between %d and %d (%d instances hold blocks, %d more blocks have a port in use): run `novadev gc` or `novadev down --volumes --instance NAME` for instances you no longer need (`novadev list` shows them)",
		ErrNoPortBlock, b.span, PortRangeMin, PortRangeMax, len(others), tried)
}

// bindFree reports whether port can be listened on at 127.0.0.1.
func bindFree(port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return l.Close()
}

// instanceMode says what opening an instance may do.
type instanceMode int

const (
	readInstance    instanceMode = iota // the record must exist
	previewInstance                     // up --dry-run: allocate, write nothing
	writeInstance                       // up: allocate or extend, and write
	downInstance                        // down: a missing record is fine (nothing to remove, or objects left without one)
)

// resolved is an instance's identity, as open loads it.
type resolved struct {
	record state.InstanceRecord
	found  bool // the record was on the engine already
}

// resolveInstance finds the instance's record (its port block) or, for
// up (write), allocates a block and writes the record with the expiry
// now+ttl (an existing record gets its expiry extended). The allocation
// and the write happen under one lock in the state dir, so instances
// started at the same moment never get the same block.
func (sv *service) resolveInstance(ctx context.Context, g *cli.Global, env *catalog.Catalog, mode instanceMode, ttl time.Duration) (*resolved, error) {
	write := mode == writeInstance
	name := g.Instance
	if err := ValidateInstanceName(name); err != nil {
		return nil, err
	}
	project := env.Env.Project + "-" + name
	if len(project) > 63 {
		return nil, &cli.UsageError{Err: fmt.Errorf("--instance %q makes the project %q longer than 63 characters: use a shorter name", name, project)}
	}
	b, err := blockOf(env)
	if err != nil {
		return nil, err
	}
	opener := sv.o.Instances
	if opener == nil {
		opener = openDockerInstances
	}
	store, err := opener(ctx, g.Target)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	if write {
		lock, err := sv.blockLock(ctx, g, "allocating the port block of "+project)
		if err != nil {
			return nil, err
		}
		defer lock.Release()
	}
	recs, _, err := store.Records(ctx)
	if err != nil {
		return nil, err
	}
	now := sv.now()
	var others []state.InstanceRecord
	for _, r := range recs {
		if r.Project == project {
			if r.Env != env.Env.Metadata.Name {
				return nil, &cli.UsageError{Err: fmt.Errorf("instance %s (project %s) belongs to environment %s, not %s: pick another --instance name", name, project, r.Env, env.Env.Metadata.Name)}
			}
			out := &resolved{record: r, found: true}
			if write {
				out.record.Expires = now.Add(ttl).Truncate(time.Second)
				if err := store.Write(ctx, out.record); err != nil {
					return nil, err
				}
			}
			return out, nil
		}
		others = append(others, r)
	}
	if mode == downInstance {
		// the block does not matter to a teardown: find the project's
		// objects by label, whatever is left of them
		return &resolved{record: state.InstanceRecord{Target: g.Target, Env: env.Env.Metadata.Name, Instance: name, Project: project,
			PortBase: env.HostPortBase, PortSpan: b.span}}, nil
	}
	if mode == readInstance {
		return nil, &cli.UsageError{Err: fmt.Errorf("no instance %s of environment %s on the engine: `novadev up --instance %s` creates it; `novadev list` shows the instances", name, env.Env.Metadata.Name, name)}
	}
	used, err := store.UsedPorts(ctx)
	if err != nil {
		return nil, err
	}
	free := sv.o.PortFree
	if free == nil {
		free = bindFree
	}
	// The lock serialises allocations from one state dir; two novadevs
	// with different state dirs (two users, two CI runners) can still
	// race. So after writing, read the records again: of two overlapping
	// blocks the project that sorts first keeps its block and the other
	// allocates again. Whoever writes second always sees the first.
	for attempt := 0; ; attempt++ {
		base, err := allocate(b, others, used, free)
		if err != nil {
			return nil, err
		}
		r := state.InstanceRecord{Target: g.Target, Env: env.Env.Metadata.Name, Instance: name, Project: project,
			PortBase: base, PortSpan: b.span, Created: now.Truncate(time.Second), Expires: now.Add(ttl).Truncate(time.Second)}
		if !write {
			return &resolved{record: r}, nil
		}
		if err := store.Write(ctx, r); err != nil {
			return nil, err
		}
		again, _, err := store.Records(ctx)
		if err != nil {
			return nil, err
		}
		clash := slices.ContainsFunc(again, func(o state.InstanceRecord) bool {
			return o.Project < project && o.PortBase <= r.PortEnd() && r.PortBase <= o.PortEnd()
		})
		if !clash {
			return &resolved{record: r}, nil
		}
		if attempt == 4 {
			return nil, fmt.Errorf("instance %s: port block %d-%d taken by a concurrent novadev five times; run up again", name, r.PortBase, r.PortEnd())
		}
		others = others[:0]
		for _, o := range again {
			if o.Project != project {
				others = append(others, o)
			}
		}
	}
}

// blockLock serialises port-block allocation and gc (one per target and
// state dir), waiting for the holder.
func (sv *service) blockLock(ctx context.Context, g *cli.Global, what string) (*supervisor.Lock, error) {
	return supervisor.AcquireLock(ctx, supervisor.LockPath(sv.o.StateDir, g.Target, "port-blocks"), what, func(supervisor.Holder) {})
}

func (sv *service) now() time.Time {
	if sv.o.Now != nil {
		return sv.o.Now()
	}
	return time.Now()
}

// openInstance reloads the environment as the instance g names (its
// project and port block), or refuses an environment that requires one.
func (sv *service) openInstance(ctx context.Context, g *cli.Global, c *catalog.Catalog, mode instanceMode, ttl string) (*catalog.Catalog, *state.InstanceRecord, error) {
	if g.Instance == "" {
		if c.Env.RequireInstance {
			return nil, nil, &cli.UsageError{Err: fmt.Errorf("%s needs --instance, e.g. --instance %s-123 (or NOVADEV_INSTANCE)", c.Env.Metadata.Name, c.Env.Metadata.Name)}
		}
		return c, nil, nil
	}
	d := DefaultTTL
	if ttl != "" {
		var err error
		if d, err = ParseTTL(ttl); err != nil {
			return nil, nil, err
		}
	}
	r, err := sv.resolveInstance(ctx, g, c, mode, d)
	if err != nil {
		return nil, nil, err
	}
	lo, err := sv.loadOptions(g)
	if err != nil {
		return nil, nil, err
	}
	lo.Instance, lo.HostPortBase = g.Instance, r.record.PortBase
	ic, err := catalog.LoadContext(ctx, g.Catalog, lo)
	if err != nil {
		return nil, nil, fmt.Errorf("instance %s at port block %d: %w", g.Instance, r.record.PortBase, err)
	}
	return ic, &r.record, nil
}

// loadOptions are the catalog options of the global flags, with the image
// set of another environment when NOVADEV_IMAGES_FROM names one (how pr,
// whose images are the registry's, runs here from ci's offline set).
func (sv *service) loadOptions(g *cli.Global) (catalog.Options, error) {
	o := catalog.Options{Env: cli.EnvFor(g), ImageSource: g.Images}
	if m := sv.s.Getenv(EnvImageMirror); m != "" {
		if _, err := catalog.ParseMirror(m); err != nil {
			return o, &cli.UsageError{Err: fmt.Errorf("%s=%s: %v", EnvImageMirror, m, err)}
		}
		o.Mirror = m
	}
	from := sv.s.Getenv("NOVADEV_IMAGES_FROM")
	if from == "" {
		return o, nil
	}
	src, err := catalog.Load(g.Catalog, catalog.Options{Env: from})
	if err != nil {
		// %v, not %w: the problems are the other environment's, and the
		// variable is what to fix
		return o, &cli.UsageError{Err: fmt.Errorf("NOVADEV_IMAGES_FROM=%s: cannot load that environment's images (%v): name an environment next to the catalog, e.g. ci", from, err)}
	}
	imgs := src.Env.Images
	o.Images = &imgs
	return o, nil
}
