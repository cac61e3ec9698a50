package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/novadev/novadev/internal/catalog"
)

// Shell completion of the names a catalog defines: nodes (services,
// stores, bootstraps) for --only and the verbs that take node names, and
// environments for --env. The catalog is read with the flags typed so far
// (--catalog, --env); a catalog that does not load completes nothing.

// completeNodes completes graph node names of the selected environment,
// leaving out those already given.
func completeNodes(g *Global) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		c, err := catalog.LoadContext(cmd.Context(), g.Catalog, catalog.Options{Env: envFor(g)})
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		given := map[string]bool{}
		for _, a := range args {
			given[a] = true
		}
		var out []cobra.Completion
		for _, n := range c.Graph().Names() {
			if !given[n] && strings.HasPrefix(n, toComplete) {
				out = append(out, n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeEnvs completes the environment names next to the catalog.
func completeEnvs(g *Global) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		set, err := catalog.LoadSetContext(cmd.Context(), g.Catalog)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, n := range set.EnvNames() {
			if strings.HasPrefix(n, toComplete) {
				out = append(out, n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeInstances offers the instances of --env that exist on the
// target (what `novadev list` shows), for --instance.
func completeInstances(g *Global, svc Service) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		is, err := instanceService(svc)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		list, err := is.List(cmd.Context(), g)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		env := EnvFor(g)
		var out []cobra.Completion
		for _, in := range list {
			if (env == "" || in.Env == env) && strings.HasPrefix(in.Instance, toComplete) {
				out = append(out, in.Instance)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeSnapshots offers the snapshots on the target (what `novadev
// snapshot list` shows), for up --from-snapshot and snapshot rm.
func completeSnapshots(g *Global, svc Service) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		ss, err := snapshotService(svc)
		if err != nil || (cmd.Name() == "rm" && len(args) > 0) {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		list, err := ss.SnapshotList(cmd.Context(), g)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, sn := range list {
			if strings.HasPrefix(sn.Name, toComplete) {
				out = append(out, sn.Name)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// registerCompletions wires the completions into the tree: --env and
// --instance at the root, --only wherever it exists, the node arguments
// of logs, and snapshot names (up --from-snapshot, snapshot rm).
func registerCompletions(root *cobra.Command, g *Global, svc Service) {
	_ = root.RegisterFlagCompletionFunc("env", completeEnvs(g))
	_ = root.RegisterFlagCompletionFunc("instance", completeInstances(g, svc))
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.LocalFlags().Lookup("only") != nil {
			_ = c.RegisterFlagCompletionFunc("only", completeNodes(g))
		}
		if c.Name() == "logs" && c.ValidArgsFunction == nil {
			c.ValidArgsFunction = completeNodes(g)
		}
		if c.LocalFlags().Lookup("from-snapshot") != nil {
			_ = c.RegisterFlagCompletionFunc("from-snapshot", completeSnapshots(g, svc))
		}
		if c.Name() == "rm" && c.Parent() != nil && c.Parent().Name() == "snapshot" {
			c.ValidArgsFunction = completeSnapshots(g, svc)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
