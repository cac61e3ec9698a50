package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/novadev/novadev/internal/event"
	"github.com/novadev/novadev/internal/supervisor"
)

// progress renders supervisor events: live per-node lines on a terminal,
// plain timestamped lines otherwise (or with CI=true), JSON lines with
// --output json.
type progress struct {
	mu    sync.Mutex
	out   io.Writer
	mode  string // tty, plain, json
	color bool
	start time.Time
	// tty state
	order []string
	lines map[string]string
	drawn int
	last  time.Time
}

func newProgress(s Streams, g *Global) *progress {
	p := &progress{out: s.Out, mode: "plain", start: time.Now(), lines: map[string]string{}}
	switch {
	case g.Output == "json":
		p.mode = "json"
	case s.Getenv("CI") == "true":
	case isTerminal(s.Out):
		p.mode = "tty"
		p.color = !g.NoColor
	}
	return p
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Emit implements event.Sink.
func (p *progress) Emit(e event.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.mode {
	case "json":
		b, _ := json.Marshal(e)
		p.out.Write(append(b, '\n'))
	case "plain":
		if e.Type == event.Planned {
			return
		}
		fmt.Fprintf(p.out, "%s %-22s %s\n", e.Time.Format("15:04:05.000"), e.Node, describe(e))
	default:
		p.tty(e)
	}
}

func describe(e event.Event) string {
	s := string(e.Type)
	if len(e.WaitingOn) > 0 {
		s += " on " + strings.Join(e.WaitingOn, ", ")
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Elapsed > 0 {
		s += fmt.Sprintf(" (%.1fs)", time.Duration(e.Elapsed).Seconds())
	}
	if e.Error != "" {
		s += ": " + firstLine(e.Error)
	}
	return s
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// tty keeps one line per node and redraws the block in place.
func (p *progress) tty(e event.Event) {
	if e.Node == "" {
		fmt.Fprintln(p.out, describe(e))
		p.drawn = 0
		return
	}
	if _, ok := p.lines[e.Node]; !ok {
		p.order = append(p.order, e.Node)
	}
	if e.Type == event.Log {
		return // bootstrap chatter: the summary has the result
	}
	mark := map[event.Type]string{event.Ready: "✔", event.Unchanged: "=", event.Failed: "✘", event.Skipped: "-", event.Canceled: "!", event.Pulled: "↓", event.ImageFallback: "!"}[e.Type]
	if mark == "" {
		mark = "…"
	}
	line := fmt.Sprintf("%s %-22s %s", mark, e.Node, describe(e))
	if p.color {
		switch e.Type {
		case event.Ready, event.Unchanged, event.Pulled:
			line = "\x1b[32m" + line + "\x1b[0m"
		case event.Failed:
			line = "\x1b[31m" + line + "\x1b[0m"
		case event.Skipped, event.Canceled, event.ImageFallback:
			line = "\x1b[33m" + line + "\x1b[0m"
		}
	}
	p.lines[e.Node] = line
	if time.Since(p.last) < 50*time.Millisecond && e.Type != event.Failed && e.Type != event.Ready {
		return
	}
	p.redraw()
}

func (p *progress) redraw() {
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	for _, n := range p.order {
		b.WriteString("\x1b[2K" + p.lines[n] + "\n")
	}
	p.drawn = len(p.order)
	p.last = time.Now()
	io.WriteString(p.out, b.String())
}

// Close draws the final state.
func (p *progress) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == "tty" && len(p.order) > 0 {
		p.redraw()
	}
}

// Summary prints each node's time (failed nodes first), the critical path
// and the endpoints of the nodes the run left running.
func (p *progress) Summary(r *supervisor.Result, endpoints []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == "json" {
		type node struct {
			Name    string         `json:"name"`
			Kind    string         `json:"kind"`
			Action  string         `json:"action"`
			Status  string         `json:"status"`
			Seconds event.Duration `json:"seconds"`
			Detail  string         `json:"detail,omitempty"`
			// State: the status, or "degraded: <why>" (NodeResult.State)
			State       string `json:"state"`
			Degraded    string `json:"degraded,omitempty"`
			Unavailable string `json:"unavailable,omitempty"`
		}
		out := struct {
			Type         string         `json:"type"`
			Seconds      event.Duration `json:"seconds"`
			CriticalPath []string       `json:"criticalPath"`
			CriticalSecs event.Duration `json:"criticalPathSeconds"`
			Nodes        []node         `json:"nodes"`
			FromSnapshot string         `json:"fromSnapshot,omitempty"`
		}{Type: "summary", Seconds: event.Duration(r.Total), CriticalPath: r.CriticalPath, CriticalSecs: event.Duration(r.CriticalTime), FromSnapshot: r.FromSnapshot}
		for _, n := range r.Order {
			nr := r.Nodes[n]
			out.Nodes = append(out.Nodes, node{n, string(nr.Kind), string(nr.Op), string(nr.Status), event.Duration(nr.Duration), nr.Detail, nr.State(), nr.Degraded, nr.Unavailable})
		}
		b, _ := json.Marshal(out)
		p.out.Write(append(b, '\n'))
		return
	}
	// the failed nodes first, first failure first (the likeliest cause),
	// then the slowest
	failed := r.Failed()
	order := slices.DeleteFunc(slices.Clone(r.Order), func(n string) bool { return slices.Contains(failed, n) })
	slices.SortStableFunc(order, func(a, b string) int { return int(r.Nodes[b].Duration - r.Nodes[a].Duration) })
	order = append(failed, order...)
	fmt.Fprintf(p.out, "\n%-24s %-10s %-10s %8s\n", "NODE", "ACTION", "STATUS", "TIME")
	var notes []string
	for _, n := range order {
		nr := r.Nodes[n]
		status := string(nr.Status)
		if st := nr.State(); st != status {
			status = "degraded"
			notes = append(notes, fmt.Sprintf("  %-24s %s", n, st))
		}
		fmt.Fprintf(p.out, "%-24s %-10s %-10s %7.2fs\n", n, nr.Op, status, nr.Duration.Seconds())
	}
	// what runs without an optional store, and the store skipped: said
	// at the end, where people look, not only in the progress lines
	for _, n := range r.Order {
		if nr := r.Nodes[n]; nr.Status == supervisor.StatusSkipped && nr.Unavailable != "" {
			notes = append(notes, fmt.Sprintf("  %-24s skipped: unavailable (%s)", n, nr.Unavailable))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(p.out, "\nrunning without optional stores:")
		for _, l := range notes {
			fmt.Fprintln(p.out, l)
		}
	}
	if r.FromSnapshot != "" {
		var kept []string
		for _, n := range r.Order {
			if r.Nodes[n].Detail == "from snapshot "+r.FromSnapshot {
				kept = append(kept, n)
			}
		}
		fmt.Fprintf(p.out, "\nfrom snapshot %s: stores restored; bootstraps skipped (proven on the restored data): %s\n", r.FromSnapshot, strings.Join(kept, ", "))
	}
	fmt.Fprintf(p.out, "\ntotal %.2fs; critical path %.2fs: %s\n", r.Total.Seconds(), r.CriticalTime.Seconds(), strings.Join(r.CriticalPath, " -> "))
	if len(endpoints) > 0 {
		fmt.Fprintln(p.out, "\nendpoints:")
		for _, e := range endpoints {
			fmt.Fprintln(p.out, "  "+e)
		}
	}
}
