// Command nova-kafka is a small Kafka-protocol broker for local Nova stacks,
// built on franz-go's kfake. It binds --listen (all interfaces in a
// container) and advertises --advertise in metadata, so other containers reach
// it by service name and host clients through a published port plus a dialer
// that maps the advertised name to 127.0.0.1. Topics are never created
// implicitly: bootstrap creates them like it would on a real cluster.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		fmt.Fprintf(os.Stderr, "nova-kafka: %v\n", err)
		os.Exit(1)
	}
}

type options struct {
	listen    string
	advertise string
	dataDir   string
	clusterID string
	logLevel  string
	// healthcheck: answer whether a broker on listen serves the Kafka
	// protocol, then exit (the compose healthcheck; the image has no shell)
	healthcheck bool
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("nova-kafka", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", "0.0.0.0:9092", "address to bind")
	fs.StringVar(&o.advertise, "advertise", "kafka:9092", "host:port reported to clients in metadata (port 0 or none: the bound port)")
	fs.StringVar(&o.dataDir, "data-dir", "/data", "directory that persists topics and records across restarts (empty: memory only)")
	fs.StringVar(&o.clusterID, "cluster-id", "nova-local", "cluster ID reported in metadata")
	fs.StringVar(&o.logLevel, "log-level", "warn", "kfake log level: none, error, warn, info, debug")
	fs.BoolVar(&o.healthcheck, "healthcheck", false, "exit 0 when a broker on --listen answers a Kafka ApiVersions request, 1 otherwise")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return o, nil
}

// run serves until ctx ends. ready, when non-nil, receives the advertised
// address once the broker accepts connections.
func run(ctx context.Context, args []string, stderr io.Writer, ready chan<- string) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	if o.healthcheck {
		return healthcheck(ctx, o.listen)
	}
	level, err := parseLevel(o.logLevel)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	adv, err := advertised(o.advertise, ln.Addr())
	if err != nil {
		ln.Close()
		return err
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ClusterID(o.clusterID),
		kfake.WithLogger(kfake.BasicLogger(stderr, level)),
		// kfake asks for 127.0.0.1:<port>; hand it the listener bound above,
		// reporting the advertised address as its own.
		kfake.ListenFn(func(string, string) (net.Listener, error) {
			return advertisedListener{Listener: ln, addr: adv}, nil
		}),
	}
	if o.dataDir != "" {
		if err := os.MkdirAll(o.dataDir, 0o755); err != nil {
			ln.Close()
			return err
		}
		opts = append(opts, kfake.DataDir(o.dataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		ln.Close()
		return err
	}
	fmt.Fprintf(stderr, "nova-kafka: listening on %s, advertising %s, data in %q\n", ln.Addr(), adv, o.dataDir)
	if ready != nil {
		ready <- adv.String()
	}
	<-ctx.Done()
	c.Close() // persists state to the data dir before returning
	fmt.Fprintln(stderr, "nova-kafka: stopped")
	return nil
}

func parseLevel(s string) (kfake.LogLevel, error) {
	switch s {
	case "none":
		return kfake.LogLevelNone, nil
	case "error":
		return kfake.LogLevelError, nil
	case "warn":
		return kfake.LogLevelWarn, nil
	case "info":
		return kfake.LogLevelInfo, nil
	case "debug":
		return kfake.LogLevelDebug, nil
	}
	return 0, fmt.Errorf("unknown --log-level %q", s)
}

// advertised resolves --advertise against the bound address: a missing or
// zero port means the port actually bound.
func advertised(spec string, bound net.Addr) (hostPort, error) {
	_, boundPort, err := net.SplitHostPort(bound.String())
	if err != nil {
		return "", err
	}
	host, port, err := net.SplitHostPort(spec)
	if err != nil {
		var aerr *net.AddrError
		if !errors.As(err, &aerr) || aerr.Err != "missing port in address" {
			return "", fmt.Errorf("--advertise %q: %w", spec, err)
		}
		host, port = spec, ""
	}
	if host == "" {
		return "", fmt.Errorf("--advertise %q: empty host", spec)
	}
	if port == "" || port == "0" {
		port = boundPort
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return "", fmt.Errorf("--advertise %q: bad port", spec)
	}
	return hostPort(net.JoinHostPort(host, port)), nil
}

// hostPort is a net.Addr that is just a name and a port.
type hostPort string

func (hostPort) Network() string  { return "tcp" }
func (h hostPort) String() string { return string(h) }

// advertisedListener reports the advertised address as its own: kfake puts
// Addr() into metadata responses.
type advertisedListener struct {
	net.Listener
	addr hostPort
}

func (l advertisedListener) Addr() net.Addr { return l.addr }

// healthcheck dials the broker on listen (0.0.0.0 means this host) and
// asks it for its API versions: a real protocol round trip, not a port knock.
func healthcheck(ctx context.Context, listen string) error {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return err
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	addr := net.JoinHostPort(host, port)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("broker on %s: %w", addr, err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return fmt.Errorf("broker on %s: %w", addr, err)
	}
	return nil
}
