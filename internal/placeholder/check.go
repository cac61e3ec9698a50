// Package placeholder is the stand-in for a Nova service whose image is not
// available: it serves grpc.health.v1 and Prometheus metrics, and answers
// SERVING only while every dependency the service was given works with the
// service's own credentials (docs/contracts.md).
package placeholder

import (
	"context"
	"fmt"
)

// Check probes one dependency.
type Check interface {
	// Name identifies the dependency in logs, metrics and health detail.
	Name() string
	// Check returns nil when the dependency works right now.
	Check(ctx context.Context) error
}

// Dependency is a Check and whether SERVING waits for it.
type Dependency struct {
	Check
	// Required dependencies block SERVING; optional ones are only reported.
	Required bool
}

// Result is the outcome of one Check.
type Result struct {
	Name     string `json:"name"`
	Required bool   `json:"required"`
	OK       bool   `json:"ok"`
	Error    string `json:"error,omitempty"`
	// Failures counts the consecutive rounds this check has failed,
	// this one included (0 when it passed).
	Failures int `json:"consecutiveFailures,omitempty"`
	// Tolerated marks a required failure that does not block SERVING
	// yet: the placeholder was serving and the check has failed fewer
	// times in a row than the monitor's failure threshold.
	Tolerated bool `json:"tolerated,omitempty"`
}

// Status is the aggregate of one round of checks.
type Status struct {
	Serving bool     `json:"serving"`
	Results []Result `json:"dependencies"`
	// Notes tell about stores that were not checked (optional or absent).
	Notes []string `json:"notes,omitempty"`
}

// Aggregate decides SERVING from a round of results: every required
// dependency must pass; optional ones never block.
func Aggregate(results []Result) Status {
	s := Status{Serving: true, Results: results}
	for _, r := range results {
		if r.Required && !r.OK {
			s.Serving = false
		}
	}
	return s
}

// key is the part of a status that a state change is about: whether it
// serves, and which dependencies fail.
func (s Status) key() string {
	k := "serving"
	if !s.Serving {
		k = "not-serving"
	}
	for _, r := range s.Results {
		if !r.OK {
			k += "|" + r.Name
		}
	}
	return k
}

// String is the one-line form logged on every state change.
func (s Status) String() string {
	line := "SERVING"
	if !s.Serving {
		line = "NOT_SERVING"
	}
	sep := ": "
	for _, r := range s.Results {
		if r.OK {
			continue
		}
		kind := "required"
		if !r.Required {
			kind = "optional"
		}
		if r.Tolerated {
			kind = fmt.Sprintf("required, failed %d in a row, tolerated", r.Failures)
		}
		line += sep + r.Name + " (" + kind + ") failing: " + r.Error
		sep = "; "
	}
	if sep == ": " {
		line += ": all dependencies ok"
	}
	return line
}
