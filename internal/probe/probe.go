// Package probe proves that a store or service is ready: checks that answer
// (done, err) — TCP, HTTP, gRPC health, PostgreSQL login, Redis Cluster
// state, Kafka metadata, ClickHouse ping and query — and Poll, which runs a
// check with adaptive backoff (fast at first, about once a second later)
// under a timeout, on an injected clock so tests need no real waiting.
package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// Check is one readiness check.
type Check interface {
	// Check answers whether the target is ready; err says why not.
	Check(ctx context.Context) (done bool, err error)
	// String says what the check waits for, for people.
	String() string
}

// DialFunc opens TCP connections; nil means net.Dialer.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

func (d DialFunc) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if d != nil {
		return d(ctx, network, addr)
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

// Clock is the time source of Poll.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// Real is the wall clock.
var Real Clock = realClock{}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Backoff is the polling schedule: Initial, multiplied by Factor after each
// attempt, never above Max.
type Backoff struct {
	Initial, Max time.Duration
	Factor       float64
}

// DefaultBackoff starts at 20 ms and backs off to 1 s: a store that is up
// in 300 ms is seen within tens of milliseconds, and a slow one costs about
// one attempt a second.
var DefaultBackoff = Backoff{Initial: 20 * time.Millisecond, Max: time.Second, Factor: 2}

// Next returns the delay after d.
func (b Backoff) Next(d time.Duration) time.Duration {
	if d <= 0 {
		return b.Initial
	}
	n := time.Duration(float64(d) * b.Factor)
	if n > b.Max {
		n = b.Max
	}
	return n
}

// AttemptTimeout bounds one attempt, so a hung connection does not eat the
// whole budget.
const AttemptTimeout = 3 * time.Second

// TimeoutError says a check never passed in time.
type TimeoutError struct {
	What  string        // the check's String
	After time.Duration // the timeout
	Tries int
	Last  error // the last reason it was not ready
}

func (e *TimeoutError) Error() string {
	msg := fmt.Sprintf("not ready after %s: waited for %s (%d attempts)", e.After, e.What, e.Tries)
	if e.Last != nil {
		msg += "; last error: " + e.Last.Error()
	}
	return msg
}

func (e *TimeoutError) Unwrap() error { return e.Last }

// PermanentError marks a check failure that waiting cannot fix: the
// password is refused, the database does not exist. Poll stops at once.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }

func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as one that waiting cannot fix; nil stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether err (or an error it wraps) is permanent.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// GaveUpError says a check failed in a way that can never pass.
type GaveUpError struct {
	What  string // the check's String
	Tries int
	Err   error // the permanent error
}

func (e *GaveUpError) Error() string {
	return fmt.Sprintf("cannot become ready: %s failed (attempt %d): %v; waiting will not fix this", e.What, e.Tries, e.Err)
}

func (e *GaveUpError) Unwrap() error { return e.Err }

// Poll runs c until it is done, ctx ends, or timeout passes on clk. Delays
// follow b. It returns nil when ready, ctx's error when canceled, a
// *GaveUpError as soon as the check fails permanently (see Permanent), and
// a *TimeoutError otherwise.
func Poll(ctx context.Context, clk Clock, b Backoff, timeout time.Duration, c Check) error {
	if clk == nil {
		clk = Real
	}
	deadline := clk.Now().Add(timeout)
	var delay time.Duration
	var last error
	for tries := 1; ; tries++ {
		actx, cancel := context.WithTimeout(ctx, AttemptTimeout)
		done, err := c.Check(actx)
		cancel()
		if done {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			err = errors.New("not ready yet")
		}
		if IsPermanent(err) {
			return &GaveUpError{What: c.String(), Tries: tries, Err: err}
		}
		last = err
		if !clk.Now().Before(deadline) {
			return &TimeoutError{What: c.String(), After: timeout, Tries: tries, Last: last}
		}
		delay = b.Next(delay)
		if rest := deadline.Sub(clk.Now()); delay > rest {
			delay = rest
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-clk.After(delay):
		}
	}
}

// All is ready when every check is, checked in order.
type All []Check

// Check implements Check.
func (a All) Check(ctx context.Context) (bool, error) {
	for _, c := range a {
		if ok, err := c.Check(ctx); !ok {
			if err == nil {
				err = errors.New("not ready yet")
			}
			return false, fmt.Errorf("%s: %w", c, err)
		}
	}
	return true, nil
}

func (a All) String() string {
	s := ""
	for i, c := range a {
		if i > 0 {
			s += " and "
		}
		s += c.String()
	}
	return s
}

// Func is a check from a function, for tests and one-offs.
type Func struct {
	What string
	F    func(ctx context.Context) (bool, error)
}

// Check implements Check.
func (f Func) Check(ctx context.Context) (bool, error) { return f.F(ctx) }

func (f Func) String() string { return f.What }
