package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/spf13/cobra"
)

func newLogs(s Streams, g *Global, svc Service) *cobra.Command {
	o := LogsOptions{}
	cmd := &cobra.Command{
		Use:   "logs [service...]",
		Short: "Print the logs of the environment's containers, each line prefixed with its service",
		Long: `Print the logs of every container of the environment (or of the named
services or stores; a Redis Cluster store names all its nodes), multiplexed,
each line prefixed with its service. -f follows them.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			o.Names = args
			streams, err := svc.Logs(ctx, g, o)
			if err != nil {
				return problemsExit(s, err)
			}
			width := 0
			for _, st := range streams {
				width = max(width, len(st.Unit))
			}
			var mu sync.Mutex
			var wg sync.WaitGroup
			errs := make(chan error, len(streams))
			for _, st := range streams {
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer st.Close()
					r := bufio.NewScanner(st)
					r.Buffer(make([]byte, 64*1024), 1<<20)
					for r.Scan() {
						mu.Lock()
						if g.Output == "json" {
							b, _ := json.Marshal(map[string]string{"unit": st.Unit, "line": r.Text()})
							fmt.Fprintf(s.Out, "%s\n", b)
						} else {
							fmt.Fprintf(s.Out, "%-*s | %s\n", width, st.Unit, r.Text())
						}
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
		},
	}
	cmd.Flags().BoolVarP(&o.Follow, "follow", "f", false, "follow the logs")
	cmd.Flags().IntVar(&o.Tail, "tail", 0, "only the last N lines of each container (0: all)")
	return cmd
}
