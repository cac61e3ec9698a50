package bootstrap

import (
	"context"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/probe"
)

// RedisClusterInit forms a Redis Cluster of masters only from the catalog's
// nodes: every node gets a contiguous share of the 16384 slots (the layout
// redis-cli --cluster create uses), the first node meets the others, and the
// step waits until every node reports cluster_state:ok. A cluster that is
// already ok is left alone; a half-formed one is completed.
//
// Redis 7.0's CLUSTER MEET takes IP addresses only, so each node's address is
// read from CLIENT INFO's laddr on a connection to it: the node's own address
// inside the stack's network, whether the connection came through a published
// port or not.
//
// With Options.Check it only reports whether the cluster is formed.
type RedisClusterInit struct {
	Options
}

// Name returns catalog.StepRedisClusterInit.
func (RedisClusterInit) Name() string { return catalog.StepRedisClusterInit }

// ClusterSlots is the number of hash slots of a Redis Cluster.
const ClusterSlots = 16384

// slotRange is an inclusive range of hash slots.
type slotRange struct{ Lo, Hi int }

func (r slotRange) String() string { return fmt.Sprintf("%d-%d", r.Lo, r.Hi) }

// slotLayout splits the slots among n masters like redis-cli does
// (0-5460, 5461-10922, 10923-16383 for three).
func slotLayout(n int) []slotRange {
	per := float64(ClusterSlots) / float64(n)
	out := make([]slotRange, n)
	first, cursor := 0, 0.0
	for i := range n {
		last := int(math.Round(cursor + per - 1))
		if last > ClusterSlots-1 || i == n-1 {
			last = ClusterSlots - 1
		}
		out[i] = slotRange{first, last}
		first = last + 1
		cursor += per
	}
	return out
}

// clusterNode is one line of CLUSTER NODES.
type clusterNode struct {
	ID     string
	Addr   string // ip:port the node is known at (without @cport,hostname)
	Flags  []string
	Slots  []slotRange
	Myself bool
	Master bool
}

// parseClusterNodes reads CLUSTER NODES output (importing/migrating slot
// markers are skipped).
func parseClusterNodes(s string) ([]clusterNode, error) {
	var out []clusterNode
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 8 {
			return nil, fmt.Errorf("CLUSTER NODES line %q: too few fields", line)
		}
		addr, _, _ := strings.Cut(f[1], "@")
		n := clusterNode{ID: f[0], Addr: addr, Flags: strings.Split(f[2], ",")}
		for _, fl := range n.Flags {
			n.Myself = n.Myself || fl == "myself"
			n.Master = n.Master || fl == "master"
		}
		for _, sl := range f[8:] {
			if strings.HasPrefix(sl, "[") {
				continue
			}
			lo, hi, found := strings.Cut(sl, "-")
			if !found {
				hi = lo
			}
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("CLUSTER NODES line %q: bad slot %q", line, sl)
			}
			n.Slots = append(n.Slots, slotRange{a, b})
		}
		out = append(out, n)
	}
	return out, nil
}

// missingRanges returns the parts of want no node owns, given owned[slot].
func missingRanges(want slotRange, owned []bool) []slotRange {
	var out []slotRange
	for s := want.Lo; s <= want.Hi; s++ {
		if owned[s] {
			continue
		}
		if n := len(out); n > 0 && out[n-1].Hi == s-1 {
			out[n-1].Hi = s
		} else {
			out = append(out, slotRange{s, s})
		}
	}
	return out
}

// clientInfoField returns one field of CLIENT INFO output (e.g. laddr).
func clientInfoField(info, field string) string {
	for _, kv := range strings.Fields(info) {
		if k, v, ok := strings.Cut(kv, "="); ok && k == field {
			return v
		}
	}
	return ""
}

// clusterBackoff polls the forming cluster at most every 250 ms: three
// CLUSTER INFO calls are cheap, and this step is on the critical path of a
// cold `up` (the cluster is ok about 1.1 s after the meets with
// cluster-node-timeout 1000).
var clusterBackoff = probe.Backoff{Initial: 20 * time.Millisecond, Max: 250 * time.Millisecond, Factor: 2}

// redisNode is one node being set up.
type redisNode struct {
	addr   string // as given in Targets
	client *redis.Client
	id     string
	laddr  string // ip:port inside the network
	nodes  []clusterNode
}

// Run implements Step.
func (rc RedisClusterInit) Run(ctx context.Context, c *catalog.Catalog, t Targets, log func(string, ...any)) error {
	want := 0
	for _, st := range c.StoresOfKind(catalog.StoreRedisCluster) {
		want = st.Nodes
	}
	if len(t.RedisNodes) == 0 {
		return fmt.Errorf("redis-cluster-init: no Redis nodes (%s)", EnvRedisNodes)
	}
	if want != 0 && len(t.RedisNodes) != want {
		return fmt.Errorf("redis-cluster-init: the catalog says %d nodes, got %d addresses: %s", want, len(t.RedisNodes), strings.Join(t.RedisNodes, ","))
	}
	n := len(t.RedisNodes)
	nodes := make([]*redisNode, n)
	for i, a := range t.RedisNodes {
		cl := redis.NewClient(&redis.Options{Addr: a, Dialer: t.dialer(), MaxRetries: -1, DialTimeout: 5 * time.Second, PoolSize: 1})
		defer cl.Close()
		nodes[i] = &redisNode{addr: a, client: cl}
	}

	// the probe package's cluster check: the same test `novadev up` waits on
	formed := probe.RedisCluster{Addrs: t.RedisNodes, Masters: n, Dial: probe.DialFunc(t.dialer())}
	ok, notOK := formed.Check(ctx)
	if ok {
		log("cluster already ok: %d masters, all %d slots assigned; nothing changed", n, ClusterSlots)
		return nil
	}
	if rc.Check {
		return checkResult(catalog.StepRedisClusterInit, []string{"would have formed the cluster, now " + errString(notOK)}, nil, rc.AllowDrift, log, "")
	}

	owned := make([]bool, ClusterSlots)
	for _, nd := range nodes {
		info, err := nd.client.Do(ctx, "CLIENT", "INFO").Text()
		if err != nil {
			return fmt.Errorf("redis-cluster-init: %s: CLIENT INFO: %w", nd.addr, err)
		}
		if nd.laddr = clientInfoField(info, "laddr"); nd.laddr == "" {
			return fmt.Errorf("redis-cluster-init: %s: CLIENT INFO has no laddr (Redis 6.2 or newer needed): %q", nd.addr, info)
		}
		if nd.id, err = nd.client.Do(ctx, "CLUSTER", "MYID").Text(); err != nil {
			return fmt.Errorf("redis-cluster-init: %s: CLUSTER MYID: %w (is cluster-enabled yes set?)", nd.addr, err)
		}
		text, err := nd.client.ClusterNodes(ctx).Result()
		if err != nil {
			return fmt.Errorf("redis-cluster-init: %s: CLUSTER NODES: %w", nd.addr, err)
		}
		if nd.nodes, err = parseClusterNodes(text); err != nil {
			return fmt.Errorf("redis-cluster-init: %s: %w", nd.addr, err)
		}
		for _, cn := range nd.nodes {
			if cn.Myself {
				for _, r := range cn.Slots {
					for s := r.Lo; s <= r.Hi; s++ {
						owned[s] = true
					}
				}
			}
		}
	}

	for i, r := range slotLayout(n) {
		nd := nodes[i]
		missing := missingRanges(r, owned)
		if len(missing) == 0 {
			continue
		}
		args := []any{"CLUSTER", "ADDSLOTSRANGE"}
		var names []string
		for _, m := range missing {
			args = append(args, m.Lo, m.Hi)
			names = append(names, m.String())
		}
		if err := nd.client.Do(ctx, args...).Err(); err != nil {
			return fmt.Errorf("redis-cluster-init: %s: CLUSTER ADDSLOTSRANGE %s: %w", nd.addr, strings.Join(names, " "), err)
		}
		log("%s (%s): assigned slots %s", nd.addr, nd.laddr, strings.Join(names, ","))
	}

	// the first node meets every node it does not know (gossip introduces
	// the rest); and every node that knows another at an old IP (its
	// container was recreated while nodes.conf survived in its volume)
	// meets it again at its current address: Redis then updates the
	// address of a node ID it already knows and keeps its slots
	for i, from := range nodes {
		for _, to := range nodes {
			if from == to {
				continue
			}
			known, current := false, false
			for _, cn := range from.nodes {
				if cn.ID == to.id {
					known, current = true, cn.Addr == to.laddr
				}
			}
			if current || (!known && i > 0) {
				continue
			}
			host, port, err := net.SplitHostPort(to.laddr)
			if err != nil {
				return fmt.Errorf("redis-cluster-init: %s: laddr %q: %w", to.addr, to.laddr, err)
			}
			if err := from.client.Do(ctx, "CLUSTER", "MEET", host, port).Err(); err != nil {
				return fmt.Errorf("redis-cluster-init: %s: CLUSTER MEET %s: %w", from.addr, to.laddr, err)
			}
			log("%s met %s at %s", from.addr, to.addr, to.laddr)
		}
	}

	// until just before ctx's deadline (the bootstrap's timeout), so the
	// error is the probe's with the last state seen rather than ctx's; a
	// minute without a deadline
	timeout := time.Minute
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		timeout = max(left-time.Second, left/2)
	}
	if err := probe.Poll(ctx, probe.Real, clusterBackoff, timeout, formed); err != nil {
		return fmt.Errorf("redis-cluster-init: cluster not ok: %w", err)
	}
	log("cluster ok: %d masters, all %d slots assigned", n, ClusterSlots)
	return nil
}

// errString is err's text, or "not ready yet" for nil.
func errString(err error) string {
	if err == nil {
		return "not ready yet"
	}
	return err.Error()
}
