package app

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/rest"

	"github.com/novadev/novadev/internal/cli"
	"github.com/novadev/novadev/internal/kubegc"
)

// TargetKube is the cluster target whose instances are namespaces: list and
// gc reach it through the kubeconfig context --context names.
const TargetKube = "kube"

// onCluster reports whether list and gc work on a cluster rather than on
// the Docker engine.
func onCluster(g *cli.Global, inCluster bool) bool { return inCluster || g.Target == TargetKube }

// cluster connects to the cluster of --context, or with inCluster to the
// one the process runs in. Nothing is sent yet: an unreachable cluster
// shows on the first request, as a kubegc.UnreachableError naming it.
func (sv *service) cluster(g *cli.Global, inCluster bool) (*kubegc.Cluster, error) {
	var cfg *rest.Config
	var err error
	where := kubegc.InCluster
	if inCluster {
		cfg, err = kubegc.ForInCluster()
	} else {
		where = kubegc.Where(g.Context)
		cfg, err = kubegc.ForContext(sv.s.Getenv("KUBECONFIG"), g.Context)
	}
	if err != nil {
		return nil, err
	}
	return kubegc.Connect(cfg, where)
}

// namespaceInstance is a cluster instance as list and gc show it.
func namespaceInstance(in kubegc.Instance, now time.Time) cli.Instance {
	out := cli.Instance{Target: in.Target, Env: in.Env, Instance: in.Instance, Project: in.Project, Created: in.Created,
		Age: now.Sub(in.Created).Truncate(time.Second).String(), Expires: in.Expires, Expired: in.Expired(now),
		PortBase: in.PortBase, PortEnd: in.PortEnd(), HostPorts: []int{}, State: "active"}
	if in.Terminating {
		out.State = "terminating"
	}
	if out.Target == "" {
		out.Target = TargetKube
	}
	return out
}

func (sv *service) listCluster(ctx context.Context, g *cli.Global) ([]cli.Instance, error) {
	c, err := sv.cluster(g, false)
	if err != nil {
		return nil, err
	}
	list, bad, err := c.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, b := range bad {
		fmt.Fprintf(sv.s.Err, "novadev: left alone: %v\n", b)
	}
	now := sv.now()
	out := []cli.Instance{}
	for _, in := range list {
		out = append(out, namespaceInstance(in, now))
	}
	return out, nil
}

// gcCluster needs no lock: each delete is conditional on the namespace as
// listed (UID and resourceVersion), so an up that extends an instance in
// between wins and the next gc decides again.
func (sv *service) gcCluster(ctx context.Context, g *cli.Global, o cli.GCOptions) (*cli.GCReport, error) {
	c, err := sv.cluster(g, o.InCluster)
	if err != nil {
		return nil, err
	}
	now := sv.now()
	rep, err := c.GC(ctx, now, o.DryRun)
	if rep == nil {
		return nil, err
	}
	out := &cli.GCReport{DryRun: rep.DryRun, Removed: []cli.Instance{}, Kept: []cli.Instance{}, Unreadable: rep.LeftAlone}
	for _, in := range rep.Removed {
		out.Removed = append(out.Removed, namespaceInstance(in, now))
	}
	for _, in := range rep.Kept {
		out.Kept = append(out.Kept, namespaceInstance(in, now))
	}
	return out, err
}
