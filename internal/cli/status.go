package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/novadev/novadev/internal/state"
)

func init() { register(newStatus) }

// containerStatus is one line of `novadev status`.
type containerStatus struct {
	Service   string       `json:"service"`
	Node      string       `json:"node"`
	Container string       `json:"container"`
	State     string       `json:"state"`
	Ready     bool         `json:"ready"`
	NotReady  string       `json:"notReady,omitempty"`
	Ports     []state.Port `json:"ports"`
	Uptime    string       `json:"uptime,omitempty"`
	Memory    uint64       `json:"memoryBytes,omitempty"`
}

func newStatus(s Streams, g *Global) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show each container's state, readiness, ports, uptime and memory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := openStack(ctx, s, g, false)
			if err != nil {
				return err
			}
			defer st.drv.Close()
			obs, err := st.drv.Observe(ctx, st.spec.Identity.Project)
			if err != nil {
				return err
			}
			out := make([]containerStatus, len(obs.Containers))
			ready := map[string]error{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			for _, n := range st.c.Graph().Names() {
				wg.Add(1)
				go func() {
					defer wg.Done()
					check, _ := st.ends.Readiness(n)
					if check == nil {
						return
					}
					cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
					defer cancel()
					ok, err := check.Check(cctx)
					if ok {
						err = nil
					} else if err == nil {
						err = fmt.Errorf("not ready")
					}
					mu.Lock()
					ready[n] = err
					mu.Unlock()
				}()
			}
			for i, c := range obs.Containers {
				out[i] = containerStatus{Service: c.Service, Node: c.Node, Container: c.Name, State: c.State, Ports: c.Ports}
				if c.State == state.Running {
					if !c.Started.IsZero() {
						out[i].Uptime = time.Since(c.Started).Round(time.Second).String()
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						if m, err := st.drv.Memory(ctx, c.ID); err == nil {
							out[i].Memory = m
						}
					}()
				}
			}
			wg.Wait()
			for i := range out {
				err, checked := ready[out[i].Node]
				out[i].Ready = out[i].State == state.Running && (!checked || err == nil)
				if checked && err != nil {
					out[i].NotReady = err.Error()
				}
			}
			if g.Output == "json" {
				enc := json.NewEncoder(s.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					Project    string            `json:"project"`
					Containers []containerStatus `json:"containers"`
				}{st.spec.Identity.Project, out})
			}
			if len(out) == 0 {
				fmt.Fprintf(s.Out, "%s: nothing runs (novadev up starts it)\n", st.spec.Identity.Project)
				return nil
			}
			fmt.Fprintf(s.Out, "%-24s %-9s %-6s %-10s %9s  %s\n", "SERVICE", "STATE", "READY", "UPTIME", "MEMORY", "PORTS")
			for _, c := range out {
				var ports []string
				for _, p := range c.Ports {
					ports = append(ports, fmt.Sprintf("%s:%d->%d", p.HostIP, p.Host, p.Container))
				}
				r := "yes"
				if !c.Ready {
					r = "no"
				}
				fmt.Fprintf(s.Out, "%-24s %-9s %-6s %-10s %9s  %s\n", c.Service, c.State, r, c.Uptime, mib(c.Memory), strings.Join(ports, ","))
				if c.NotReady != "" {
					fmt.Fprintf(s.Out, "  %s\n", firstLine(c.NotReady))
				}
			}
			return nil
		},
	}
}

func mib(b uint64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fMiB", float64(b)/(1<<20))
}
