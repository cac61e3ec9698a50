package cli

import (
	"bufio"
	"fmt"
	"slices"
	"sync"

	"github.com/spf13/cobra"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/driver"
	"github.com/novadev/novadev/internal/driver/docker"
)

func init() { register(newLogs) }

func newLogs(s Streams, g *Global) *cobra.Command {
	var follow bool
	var tail int
	cmd := &cobra.Command{
		Use:   "logs [service...]",
		Short: "Print the logs of the environment's containers, each line prefixed with its service",
		Long: `Print the logs of every container of the environment (or of the named
services or stores; a Redis Cluster store names all its nodes), multiplexed,
each line prefixed with its service. -f follows them.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := loadCatalog(s, g)
			if err != nil {
				return err
			}
			return streamLogs(cmd, s, c, args, follow, tail)
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "follow the logs")
	cmd.Flags().IntVar(&tail, "tail", 0, "only the last N lines of each container (0: all)")
	return cmd
}

func streamLogs(cmd *cobra.Command, s Streams, c *catalog.Catalog, names []string, follow bool, tail int) error {
	ctx := cmd.Context()
	drv, err := docker.New(ctx)
	if err != nil {
		return err
	}
	defer drv.Close()
	obs, err := drv.Observe(ctx, c.Env.Project)
	if err != nil {
		return err
	}
	width := 0
	type src struct{ id, name string }
	var srcs []src
	for _, k := range obs.Containers {
		if len(names) > 0 && !slices.Contains(names, k.Service) && !slices.Contains(names, k.Node) {
			continue
		}
		srcs = append(srcs, src{k.ID, k.Service})
		width = max(width, len(k.Service))
	}
	if len(srcs) == 0 {
		return fmt.Errorf("no container of %s matches %v (novadev status lists them)", c.Env.Project, names)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, len(srcs))
	for _, sc := range srcs {
		rc, err := drv.Logs(ctx, sc.id, driver.LogOptions{Follow: follow, Tail: tail})
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer rc.Close()
			r := bufio.NewScanner(rc)
			r.Buffer(make([]byte, 64*1024), 1<<20)
			for r.Scan() {
				mu.Lock()
				fmt.Fprintf(s.Out, "%-*s | %s\n", width, sc.name, r.Text())
				mu.Unlock()
			}
			if err := r.Err(); err != nil && ctx.Err() == nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}
