// Package event holds the typed progress events the supervisor emits while
// it brings an environment up or down, and the Sink they go to. Libraries
// never print: the CLI renders events for a terminal, as plain timestamped
// lines or as JSON lines.
package event

import (
	"encoding/json"
	"sync"
	"time"
)

// Type says what happened to a node.
type Type string

// Event types, in the order a node usually goes through them.
const (
	// Planned: the action chosen for a node (Detail says which).
	Planned Type = "planned"
	// Waiting: the node waits for the nodes in WaitingOn.
	Waiting Type = "waiting"
	// Starting: the node's action began (create, start, run a bootstrap).
	Starting Type = "starting"
	// Probing: the node runs and its readiness check is polled.
	Probing Type = "probing"
	// Ready: the node is proven ready.
	Ready Type = "ready"
	// Unchanged: the node was already running with the same configuration.
	Unchanged Type = "unchanged"
	// Failed: the node failed; Error says why.
	Failed Type = "failed"
	// Skipped: the node was not started; Detail says why (a failed need,
	// an optional store without an image, an external store).
	Skipped Type = "skipped"
	// Canceled: the run was interrupted before the node finished.
	Canceled Type = "canceled"
	// Stopping and Removed: teardown.
	Stopping Type = "stopping"
	Removed  Type = "removed"
	// Log: a progress line from inside a node (a bootstrap's findings).
	Log Type = "log"
	// Note: a message about the whole run (Node empty).
	Note Type = "note"
	// Pulling: an image of the node is being pulled (Detail: the
	// reference, then a layer's progress).
	Pulling Type = "pulling"
	// Pulled: the pull finished (Detail: the reference).
	Pulled Type = "pulled"
	// ImageFallback: the upstream image could not be pulled and the node
	// runs its offline image (Detail says which and why).
	ImageFallback Type = "image fallback"
)

// Duration is a time.Duration that is written to JSON as seconds.
type Duration time.Duration

// MarshalJSON writes seconds with millisecond precision.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(float64(time.Duration(d).Milliseconds()) / 1000)
}

// Event is one progress event.
type Event struct {
	Time      time.Time `json:"time"`
	Type      Type      `json:"type"`
	Node      string    `json:"node,omitempty"`
	Kind      string    `json:"kind,omitempty"` // service, store, bootstrap
	Detail    string    `json:"detail,omitempty"`
	WaitingOn []string  `json:"waitingOn,omitempty"`
	Elapsed   Duration  `json:"elapsed,omitempty"` // since the node started (Ready, Failed)
	Error     string    `json:"error,omitempty"`
}

// Sink receives events; implementations must be safe for concurrent use.
type Sink interface {
	Emit(Event)
}

// Func adapts a function to a Sink.
type Func func(Event)

// Emit calls f.
func (f Func) Emit(e Event) { f(e) }

// Discard drops every event.
var Discard Sink = Func(func(Event) {})

// Recorder keeps every event, for tests.
type Recorder struct {
	mu     sync.Mutex
	events []Event
}

// Emit records e.
func (r *Recorder) Emit(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// Events returns a copy of what was recorded.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// Of returns the recorded events of one type.
func (r *Recorder) Of(t Type) []Event {
	var out []Event
	for _, e := range r.Events() {
		if e.Type == t {
			out = append(out, e)
		}
	}
	return out
}
