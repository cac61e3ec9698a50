package kindcluster

import (
	"fmt"
	"strings"

	"sigs.k8s.io/kind/pkg/log"
)

// kindLogger turns kind's user-facing messages (V(0): "Creating cluster",
// " ✓ Preparing nodes 📦") and warnings into progress lines; its debug
// levels are dropped.
type kindLogger struct{ progress func(string) }

func (l *kindLogger) line(prefix, s string) {
	s = strings.TrimSpace(s)
	// A step's start (" • Preparing nodes  ...") is followed by its end
	// (" ✓ Preparing nodes"): the end says everything.
	if s == "" || strings.HasPrefix(s, "•") {
		return
	}
	l.progress("kind: " + prefix + s)
}

func (l *kindLogger) Warn(m string)                { l.line("warning: ", m) }
func (l *kindLogger) Warnf(f string, a ...any)     { l.line("warning: ", fmt.Sprintf(f, a...)) }
func (l *kindLogger) Error(m string)               { l.line("error: ", m) }
func (l *kindLogger) Errorf(f string, a ...any)    { l.line("error: ", fmt.Sprintf(f, a...)) }
func (l *kindLogger) V(v log.Level) log.InfoLogger { return infoLogger{l: l, on: v == 0} }

type infoLogger struct {
	l  *kindLogger
	on bool
}

func (i infoLogger) Info(m string) {
	if i.on {
		i.l.line("", m)
	}
}

func (i infoLogger) Infof(f string, a ...any) {
	if i.on {
		i.l.line("", fmt.Sprintf(f, a...))
	}
}

func (i infoLogger) Enabled() bool { return i.on }
