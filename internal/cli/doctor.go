package cli

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/novadev/novadev/internal/supervisor"
)

func newDoctor(s Streams, g *Global, svc Service) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check this machine can run the environment: engine, API version, memory, images, free ports",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			checks, err := svc.Doctor(cmd.Context(), g)
			if g.Output == "json" {
				return doctorJSON(s, checks, err)
			}
			if err != nil {
				fmt.Fprintf(s.Out, "FAIL %-14s %s\n", "engine", err.Error())
				return &ExitError{Code: 1}
			}
			failed := 0
			for _, c := range checks {
				mark := "ok  "
				switch {
				case c.Note:
					mark = "note"
				case !c.OK:
					mark = "FAIL"
					failed++
				}
				fmt.Fprintf(s.Out, "%s %-14s %s\n", mark, c.What, strings.ReplaceAll(c.Detail, "\n", "\n                    "))
				if !c.OK && c.Fix != "" {
					fmt.Fprintf(s.Out, "     fix: %s\n", c.Fix)
				}
			}
			if failed > 0 {
				return &ExitError{Code: 1, Err: fmt.Errorf("%d checks failed", failed)}
			}
			return nil
		},
	}
}

// doctorJSON prints the checks as JSON; an engine that cannot be asked is
// the verb's error (an ErrorJSON), a failed check exit code 1.
func doctorJSON(s Streams, checks []supervisor.Check, err error) error {
	if err != nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	failed := 0
	for _, c := range checks {
		if !c.OK && !c.Note {
			failed++
		}
	}
	if checks == nil {
		checks = []supervisor.Check{}
	}
	enc := json.NewEncoder(s.Out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(map[string]any{"ok": failed == 0, "checks": checks}); err != nil {
		return err
	}
	if failed > 0 {
		return &ExitError{Code: ExitFailure}
	}
	return nil
}
