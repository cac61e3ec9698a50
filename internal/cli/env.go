package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// EnvVar is one variable of a service's environment, resolved.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// EnvReport is what a service receives in the stack, as the host reaches
// it (Service.Env).
type EnvReport struct {
	Service string
	Vars    []EnvVar
	// Warnings name what the service receives in the stack that the host
	// cannot reach (a store or dependency publishing no port): those
	// variables are left out.
	Warnings []string
}

// EnvFormats are env's --format values.
var EnvFormats = []string{"shell", "dotenv", "json"}

func newEnv(s Streams, g *Global, svc Service) *cobra.Command {
	format := "shell"
	cmd := &cobra.Command{
		Use:   "env SERVICE",
		Short: "Print the settings a service receives in the stack, reachable from the host",
		Long: `Print the runtime contract of SERVICE (the variables its container receives:
DATABASE_URL, REDIS_CLUSTER_NODES, KAFKA_BROKERS, NOVA_GRPC_DEPENDENCIES, ...)
with every address rewritten to where the host reaches it (127.0.0.1 at the
port the environment publishes) and credentials read from compose/.env, so
the service can run on the host against the stack:

  novadev up --except feed-service
  eval "$(novadev env feed-service)" && cargo run

NOVA_HOST_MAP maps the addresses the stores announce inside the stack (Redis
Cluster MOVED redirections name redis-2:7002, Kafka metadata names kafka:9092)
to their host addresses, from=to,...: a host-side client applies it in its
dialer. --format shell (export lines, for eval), dotenv (KEY="value"), json
(an object).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if g.Output == "json" {
				format = "json"
			}
			if !contains(EnvFormats, format) {
				return &ExitError{Code: 2, Err: fmt.Errorf("--format %q: want one of %s", format, strings.Join(EnvFormats, ", "))}
			}
			rep, err := svc.Env(cmd.Context(), g, args[0])
			if err != nil {
				return err
			}
			for _, w := range rep.Warnings {
				fmt.Fprintf(s.Err, "novadev: %s: %s: left out\n", rep.Service, w)
			}
			return WriteEnv(s.Out, format, rep.Vars)
		},
	}
	cmd.Flags().StringVar(&format, "format", format, "shell, dotenv or json")
	return cmd
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// WriteEnv writes vars in format (one of EnvFormats).
func WriteEnv(w io.Writer, format string, vars []EnvVar) error {
	switch format {
	case "json":
		m := make(map[string]string, len(vars))
		for _, v := range vars {
			m[v.Name] = v.Value
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(m)
	case "dotenv":
		for _, v := range vars {
			if _, err := fmt.Fprintf(w, "%s=%s\n", v.Name, DotenvQuote(v.Value)); err != nil {
				return err
			}
		}
		return nil
	case "shell":
		for _, v := range vars {
			if _, err := fmt.Fprintf(w, "export %s=%s\n", v.Name, ShellQuote(v.Value)); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown env format %q", format)
}

// ShellQuote quotes s for a POSIX shell: in single quotes, each quote in s
// closing them, escaped, and reopening them (nothing else is special
// inside single quotes, so nothing else is escaped).
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// DotenvQuote quotes s for a .env file read by docker compose (and most
// dotenv libraries): double quotes with \, ", $ and newlines escaped, so
// nothing in a password is expanded or ends the value.
func DotenvQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", `\$`, "\n", `\n`, "\r", `\r`)
	return `"` + r.Replace(s) + `"`
}
