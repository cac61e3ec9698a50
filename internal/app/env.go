package app

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"

	"github.com/novadev/novadev/internal/cli"
	"github.com/novadev/novadev/internal/contract"
)

// Env implements cli.Service: the runtime contract of one service on the
// host target (contract.Host), credentials resolved from compose/.env (a
// variable of the process environment wins, as it does for up). It needs
// no engine: the published ports are the catalog's.
func (sv *service) Env(ctx context.Context, g *cli.Global, name string) (*cli.EnvReport, error) {
	c, err := sv.load(g)
	if err != nil {
		return nil, err
	}
	// an instance publishes its own block: read it from the engine
	if c, _, err = sv.openInstance(ctx, g, c, readInstance, ""); err != nil {
		return nil, err
	}
	s, ok := c.Services[name]
	if !ok || !c.Active(s.Profiles) {
		var names []string
		for _, s := range c.ActiveServices() {
			names = append(names, s.Name)
		}
		slices.Sort(names)
		return nil, &cli.UsageError{Err: fmt.Errorf("%q is not a service of project %s; services: %s", name, c.Env.Project, strings.Join(names, ", "))}
	}
	file, err := credentialsFile(c)
	if err != nil {
		return nil, err
	}
	vals := map[string]string{}
	if _, err := os.Stat(file); err == nil {
		if vals, err = dotenv.Read(file); err != nil {
			return nil, fmt.Errorf("reading %s: %w", file, err)
		}
	}
	var missing []string
	secret := func(cr contract.Credential) string {
		if v := sv.s.Getenv(cr.Key); v != "" {
			return v
		}
		v, ok := vals[cr.Key]
		if !ok || v == "" {
			missing = append(missing, cr.Key)
		}
		return v
	}
	rep := &cli.EnvReport{Service: s.Name, Warnings: contract.Unreachable(c, s)}
	for _, v := range contract.ServiceEnv(c, contract.Host, s) {
		rep.Vars = append(rep.Vars, cli.EnvVar{Name: v.Name, Value: v.Value.Resolve(secret)})
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: credential %s not in %s: novadev up generates it (or render compose)",
			s.Name, strings.Join(slices.Compact(missing), ", "), file)
	}
	return rep, nil
}
