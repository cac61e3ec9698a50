package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestAdvertised(t *testing.T) {
	bound := &net.TCPAddr{IP: net.IPv4zero, Port: 41234}
	for spec, want := range map[string]string{
		"kafka:9092": "kafka:9092",
		"kafka":      "kafka:41234",
		"kafka:0":    "kafka:41234",
	} {
		got, err := advertised(spec, bound)
		if err != nil || string(got) != want {
			t.Errorf("advertised(%q) = %q, %v; want %q", spec, got, err, want)
		}
	}
	for _, bad := range []string{":9092", "kafka:x", "kafka:70000"} {
		if got, err := advertised(bad, bound); err == nil {
			t.Errorf("advertised(%q) = %q, want an error", bad, got)
		}
	}
}

// syncBuffer lets the test read the broker's log while it writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestBrokerAdvertisesAndPersists runs the broker on a loopback port under an
// advertised name that does not resolve, reaches it through a dialer remap
// (what host clients do), and checks that metadata carries the advertised
// name, that topics are not auto-created, and that a topic and its record
// survive a restart on the same data dir.
func TestBrokerAdvertisesAndPersists(t *testing.T) {
	dir := t.TempDir()
	const name = "nova-kafka.invalid"

	start := func() (addr string, stop func()) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		ready := make(chan string, 1)
		done := make(chan error, 1)
		var logs syncBuffer
		go func() {
			done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--advertise", name, "--data-dir", dir}, &logs, ready)
		}()
		select {
		case addr = <-ready:
		case err := <-done:
			t.Fatalf("broker exited: %v; log:\n%s", err, logs.String())
		case <-time.After(10 * time.Second):
			t.Fatal("broker not ready after 10s")
		}
		return addr, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("broker: %v", err)
			}
			if !strings.Contains(logs.String(), "nova-kafka: stopped") {
				t.Errorf("no clean stop in log:\n%s", logs.String())
			}
		}
	}
	client := func(addr string) *kgo.Client {
		t.Helper()
		port := addr[strings.LastIndex(addr, ":")+1:]
		d := &net.Dialer{Timeout: 2 * time.Second}
		cl, err := kgo.NewClient(
			kgo.SeedBrokers(addr),
			kgo.Dialer(func(ctx context.Context, network, host string) (net.Conn, error) {
				if h, _, _ := net.SplitHostPort(host); h == name {
					host = net.JoinHostPort("127.0.0.1", port)
				}
				return d.DialContext(ctx, network, host)
			}),
			kgo.ConsumeTopics("orders"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	addr, stop := start()
	if !strings.HasPrefix(addr, name+":") {
		t.Fatalf("advertised %q, want %s:<port>", addr, name)
	}
	cl := client(addr)
	adm := kadm.NewClient(cl)
	brokers, err := adm.ListBrokers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(brokers) != 1 || brokers[0].Host != name {
		t.Fatalf("metadata brokers = %+v, want one named %s", brokers, name)
	}
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The consuming client asked for "orders" already; it must come back as
	// unknown, not created (no auto topic creation).
	for name, d := range topics {
		if d.Err == nil {
			t.Fatalf("fresh broker has topic %s", name)
		}
	}
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("hello")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	stop()

	addr, stop = start()
	defer stop()
	cl = client(addr)
	topics, err = kadm.NewClient(cl).ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := topics.Names(); len(got) != 1 || got[0] != "orders" || len(topics["orders"].Partitions) != 3 {
		t.Fatalf("after restart topics = %v, want orders with 3 partitions", topics)
	}
	fetches := cl.PollFetches(ctx)
	if errs := fetches.Errors(); len(errs) > 0 {
		t.Fatalf("fetch: %v", errs)
	}
	recs := fetches.Records()
	if len(recs) != 1 || string(recs[0].Value) != "hello" {
		t.Fatalf("after restart records = %v, want one \"hello\"", recs)
	}
}

func TestHealthcheck(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var logs syncBuffer
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--advertise", "kafka.invalid", "--data-dir", ""}, &logs, ready)
	}()
	var adv string
	select {
	case adv = <-ready:
	case err := <-done:
		t.Fatalf("broker exited: %v; log:\n%s", err, logs.String())
	case <-time.After(10 * time.Second):
		t.Fatal("broker not ready after 10s")
	}
	_, port, err := net.SplitHostPort(adv)
	if err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"-healthcheck", "-listen", "0.0.0.0:" + port}, io.Discard, nil); err != nil {
		t.Fatalf("healthcheck against a live broker: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	if err := run(context.Background(), []string{"-healthcheck", "-listen", dead}, io.Discard, nil); err == nil {
		t.Fatal("healthcheck passed with no broker listening")
	}
}
