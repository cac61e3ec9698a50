package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

// Instance is one instance on the engine, as list and gc show it.
type Instance struct {
	Target   string    `json:"target"`
	Env      string    `json:"environment"`
	Instance string    `json:"instance"`
	Project  string    `json:"project"`
	Created  time.Time `json:"created"`
	Age      string    `json:"age"`
	Expires  time.Time `json:"expires"`
	Expired  bool      `json:"expired"`
	PortBase int       `json:"portBase"`
	PortEnd  int       `json:"portEnd"`
	// HostPorts are the host ports its containers publish now.
	HostPorts []int `json:"hostPorts"`
	// State is running (every container runs), partial (some do), or
	// stopped (none do, or none exist: the record keeps the block); on a
	// cluster (the instance is a namespace) active or terminating.
	State string `json:"state"`
}

// GCOptions are gc's flags.
type GCOptions struct {
	DryRun bool
	// InCluster collects the cluster the process runs in (a pod's
	// ServiceAccount: the janitor CronJob), whatever --target says.
	InCluster bool
}

// GCReport is what gc deleted (or, with --dry-run, would delete) and kept.
type GCReport struct {
	DryRun  bool       `json:"dryRun"`
	Removed []Instance `json:"removed"`
	Kept    []Instance `json:"kept"`
	// Unreadable are novadev record volumes (or namespaces) whose labels
	// do not parse, or namespaces that changed since gc listed them: never
	// deleted.
	Unreadable []string `json:"unreadable,omitempty"`
}

// InstanceService lists and collects instances across every environment
// on the target's engine. The Service of internal/app implements it.
type InstanceService interface {
	List(ctx context.Context, g *Global) ([]Instance, error)
	GC(ctx context.Context, g *Global, o GCOptions) (*GCReport, error)
}

func instanceService(svc Service) (InstanceService, error) {
	is, ok := svc.(InstanceService)
	if !ok {
		return nil, errors.New("this build has no instance support")
	}
	return is, nil
}

func newList(s Streams, g *Global, svc Service) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List every instance on the engine (--target kube: on the cluster): environment, age, expiry, port block, state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			is, err := instanceService(svc)
			if err != nil {
				return err
			}
			list, err := is.List(cmd.Context(), g)
			if err != nil {
				return problemsExit(s, err)
			}
			if g.Output == "json" {
				if list == nil {
					list = []Instance{}
				}
				enc := json.NewEncoder(s.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(list)
			}
			if len(list) == 0 {
				fmt.Fprintln(s.Out, "no instances (novadev up --instance NAME starts one)")
				return nil
			}
			printInstances(s, list)
			return nil
		},
	}
}

func printInstances(s Streams, list []Instance) {
	fmt.Fprintf(s.Out, "%-7s %-10s %-16s %-24s %-8s %-22s %-12s %s\n", "TARGET", "ENV", "INSTANCE", "PROJECT", "AGE", "EXPIRES", "PORTS", "STATE")
	for _, in := range list {
		exp := in.Expires.UTC().Format(time.RFC3339)
		if in.Expired {
			exp += "!"
		}
		fmt.Fprintf(s.Out, "%-7s %-10s %-16s %-24s %-8s %-22s %-12s %s\n", in.Target, in.Env, in.Instance, in.Project, in.Age, exp,
			fmt.Sprintf("%d-%d", in.PortBase, in.PortEnd), in.State)
	}
}
