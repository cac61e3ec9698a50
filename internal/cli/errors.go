package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/novadev/novadev/internal/catalog"
)

// Exit codes every verb uses (README, Commands).
const (
	ExitOK          = 0   // done
	ExitFailure     = 1   // the verb ran and failed (problems, a failed check, a node that failed)
	ExitUsage       = 2   // how it was called: unknown verb or flag, bad argument or flag value
	ExitInterrupted = 130 // Ctrl-C or SIGTERM (128+SIGINT)
)

// problemsError is a catalog refusal after its problems: the summary line,
// unwrapping to the problems so -o json can list them.
type problemsError struct{ ps catalog.Problems }

func (e problemsError) Error() string {
	return plural(len(e.ps), "problem") + " found; fix them and run novadev validate again"
}

func (e problemsError) Unwrap() error { return e.ps }

// ErrorJSON is what a failed verb prints on stdout with -o json. Problems
// are the catalog's, shaped as validate -o json prints them (pos with file,
// line and col; field; message; hint); empty for other failures.
type ErrorJSON struct {
	Error    string            `json:"error"`
	Problems []catalog.Problem `json:"problems"`
	ExitCode int               `json:"exitCode"`
}

// usageErr marks an error cobra returns for how a command was called.
func usageErr(err error) error {
	if err == nil {
		return nil
	}
	return &UsageError{Err: err}
}

// markUsage makes every flag and argument error of the tree a UsageError
// (exit code 2): cobra returns them as plain errors.
func markUsage(root *cobra.Command) {
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr(err) })
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if args := c.Args; args != nil {
			c.Args = func(cmd *cobra.Command, a []string) error { return usageErr(args(cmd, a)) }
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// IsUsage says err comes from how novadev was called (exit code 2): a
// UsageError, a flag or argument error, or an unknown verb (cobra's own
// error from finding the command, the one it returns untyped).
func IsUsage(err error) bool {
	var u *UsageError
	if errors.As(err, &u) {
		return true
	}
	var exit *ExitError
	if errors.As(err, &exit) {
		return exit.Code == ExitUsage
	}
	return strings.HasPrefix(err.Error(), "unknown command ")
}

// WantsJSON says the command line asked for -o json: the parsed flag when
// parsing got that far, else the arguments themselves (a usage error can
// stop parsing before --output).
func WantsJSON(root *cobra.Command, args []string) bool {
	if f := root.PersistentFlags().Lookup("output"); f != nil && f.Changed {
		return f.Value.String() == "json"
	}
	for i, a := range args {
		switch {
		case a == "--":
			return false
		case a == "-o" || a == "--output":
			if i+1 < len(args) && args[i+1] == "json" {
				return true
			}
		case a == "-ojson" || a == "-o=json" || a == "--output=json":
			return true
		}
	}
	return false
}

// PrintError reports a failed command: with -o json an ErrorJSON on
// stdout (catalog problems listed), else every catalog problem and then
// "novadev: err" on stderr. An ExitError without an error was
// reported by its verb.
func PrintError(s Streams, asJSON bool, err error, code int) {
	var exit *ExitError
	if errors.As(err, &exit) && exit.Err == nil {
		return
	}
	if !asJSON {
		var pe problemsError
		if errors.As(err, &pe) {
			for _, p := range pe.ps {
				fmt.Fprintln(s.Err, p.String())
			}
		}
		fmt.Fprintln(s.Err, "novadev:", err)
		return
	}
	out := ErrorJSON{Error: err.Error(), Problems: []catalog.Problem{}, ExitCode: code}
	var ps catalog.Problems
	if errors.As(err, &ps) {
		out.Problems = ps
	}
	enc := json.NewEncoder(s.Out)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
}
