// Package cli holds the cobra commands, one file per verb: flags become an
// options struct and the command calls a library. Commands print; libraries
// return values and emit events.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/novadev/novadev/internal/catalog"
)

// Streams are the command's input, outputs and environment, injected so
// tests can run commands in-process.
type Streams struct {
	In     io.Reader
	Out    io.Writer
	Err    io.Writer
	Getenv func(string) string
}

// ExitError carries a specific exit code; Err, when set, is printed.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Global holds the flags every command shares.
type Global struct {
	Catalog string
	Env     string
	Output  string // text or json
	NoColor bool
	// EnvExplicit says --env or NOVADEV_ENV chose the environment; when not,
	// a missing local.yaml means the bare catalog (e.g. a catalog mounted
	// alone into a kind Job).
	EnvExplicit bool
	// Target is what runs the environment: docker, kube (the cluster
	// Context names) or kind (the catalog's kind cluster).
	Target string
	// Context is the kubeconfig context --target kube runs on ("": the
	// current one).
	Context string
	// Instance names one instance of the environment (its own project,
	// network, volumes and host-port block); "": the environment itself.
	Instance string
	// Images overrides the environment's images.source: auto, upstream or
	// offline; "": the environment's.
	Images string
}

// Version is set at build time with -ldflags "-X .../internal/cli.Version=...".
var Version = "dev"

// NewRoot builds the novadev command tree; svc carries out the verbs that
// touch a target.
func NewRoot(s Streams, svc Service) *cobra.Command {
	g := &Global{}
	root := &cobra.Command{
		Use:   "novadev",
		Short: "Run the Nova platform locally from one service catalog",
		Long: `novadev turns one service catalog (envs/nova.yaml plus an environment
overlay such as envs/local.yaml) into a docker-compose stack, a kind cluster
and a Tiltfile, and runs the stack on Docker with every service proven ready.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	if s.Getenv == nil {
		s.Getenv = os.Getenv
	}
	def := func(name, fallback string) string {
		if v := s.Getenv(name); v != "" {
			return v
		}
		return fallback
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.Catalog, "catalog", def("NOVADEV_CATALOG", "envs/nova.yaml"), "the service catalog (env NOVADEV_CATALOG)")
	pf.StringVar(&g.Env, "env", def("NOVADEV_ENV", "local"), "environment overlay: a name next to the catalog (local, ci, pr) or a file; \"\" for the bare catalog (env NOVADEV_ENV)")
	pf.StringVarP(&g.Output, "output", "o", "text", "output format: text or json")
	pf.BoolVar(&g.NoColor, "no-color", s.Getenv("NO_COLOR") != "", "disable colour (also NO_COLOR)")
	pf.StringVar(&g.Target, "target", def("NOVADEV_TARGET", "docker"), "what runs the environment: docker, kube (the cluster --context names), kind (the catalog's kind cluster) (env NOVADEV_TARGET)")
	pf.StringVar(&g.Context, "context", def("NOVADEV_KUBE_CONTEXT", ""), "the kubeconfig context --target kube runs on (kubeconfig from KUBECONFIG, else ~/.kube/config); \"\": the current one (env NOVADEV_KUBE_CONTEXT)")
	pf.StringVar(&g.Images, "images", def("NOVADEV_IMAGES", ""), "where store images come from: auto (pull upstream, fall back to the offline set per image), upstream or offline; default: the environment's images.source (env NOVADEV_IMAGES)")
	pf.StringVar(&g.Instance, "instance", def("NOVADEV_INSTANCE", ""), "run a named instance of the environment (own project, volumes, port block), e.g. pr-123 (env NOVADEV_INSTANCE)")
	// --version (and -v), as docker compose has it: the root's own flag,
	// answered before any verb runs
	var showVersion bool
	root.Flags().BoolVarP(&showVersion, "version", "v", false, "print the novadev version (as novadev version)")
	root.RunE = func(cmd *cobra.Command, args []string) error {
		if showVersion {
			return printVersion(s, g)
		}
		return cmd.Help()
	}
	root.SuggestionsMinimumDistance = 2
	root.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if sug := cmd.SuggestionsFor(args[0]); len(sug) > 0 {
			msg += "; did you mean " + strings.Join(sug, " or ") + "?"
		}
		return &UsageError{Err: errors.New(msg + " (novadev --help lists the verbs)")}
	}
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		g.EnvExplicit = cmd.Flags().Changed("env") || s.Getenv("NOVADEV_ENV") != ""
		if g.Output != "text" && g.Output != "json" {
			return &UsageError{Err: fmt.Errorf("--output must be text or json, not %q", g.Output)}
		}
		if g.Images != "" && !slices.Contains(catalog.ImageSources, g.Images) {
			return &UsageError{Err: fmt.Errorf("--images must be one of %s, not %q", strings.Join(catalog.ImageSources, ", "), g.Images)}
		}
		return nil
	}
	root.AddCommand(
		newValidate(s, g),
		newGraph(s, g),
		newRender(s, g, svc),
		newUp(s, g, svc),
		newDown(s, g, svc),
		newStatus(s, g, svc),
		newPs(s, g, svc),
		newConfig(s, g),
		newPull(s, g, svc),
		newStop(s, g, svc),
		newStart(s, g, svc),
		newRestart(s, g, svc),
		newExec(s, g, svc),
		newLogs(s, g, svc),
		newDoctor(s, g, svc),
		newVerify(s, g, svc),
		newBootstrap(s, g, svc),
		newWait(s, g, svc),
		newEnv(s, g, svc),
		newCI(s, g, svc),
		newVersion(s, g),
		newCompletion(s, g),
		newList(s, g, svc),
		newGC(s, g, svc),
		newSnapshot(s, g, svc),
	)
	markUsage(root) // last: it wraps the Args of every command added above
	registerCompletions(root, g, svc)
	return root
}
