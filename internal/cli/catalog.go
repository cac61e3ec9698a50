package cli

import (
	"errors"
	"strconv"

	"github.com/novadev/novadev/internal/catalog"
)

// loadCatalog loads the catalog with the selected environment; problems
// become exit code 1 with every problem printed.
func loadCatalog(s Streams, g *Global) (*catalog.Catalog, error) {
	c, err := catalog.Load(g.Catalog, catalog.Options{Env: envFor(g)})
	return c, problemsExit(s, err)
}

// envFor is the environment to load: the chosen one, or the default
// (local) unless the catalog is alone in its directory
// (catalog.DefaultEnvironment): a missing default next to other
// environments is an error, never a silent fall-back to the bare catalog.
func envFor(g *Global) string {
	if g.EnvExplicit || g.Env == "" {
		return g.Env
	}
	return catalog.DefaultEnvironment(g.Catalog, g.Env)
}

// problemsExit turns catalog problems into exit code 1, keeping them for
// PrintError (every problem on stderr, or in the JSON error with -o json);
// other errors pass through.
func problemsExit(_ Streams, err error) error {
	var ps catalog.Problems
	if errors.As(err, &ps) {
		return &ExitError{Code: ExitFailure, Err: problemsError{ps}}
	}
	return err
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// EnvFor is the environment the global flags select (see envFor), for the
// Service that loads the catalog itself.
func EnvFor(g *Global) string { return envFor(g) }
