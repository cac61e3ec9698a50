package probe_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/probe"
)

// Answers as Elasticsearch 8.13 gives them (GET /_cluster/health on a
// single node: yellow once an index with a replica exists; the 503 while no
// master is elected; the 401 with security on).
const (
	esGreen    = `{"cluster_name":"docker-cluster","status":"green","timed_out":false,"number_of_nodes":1,"number_of_data_nodes":1,"active_primary_shards":0,"active_shards":0,"relocating_shards":0,"initializing_shards":0,"unassigned_shards":0,"delayed_unassigned_shards":0,"number_of_pending_tasks":0,"number_of_in_flight_fetch":0,"task_max_waiting_in_queue_millis":0,"active_shards_percent_as_number":100.0}`
	esYellow   = `{"cluster_name":"docker-cluster","status":"yellow","timed_out":false,"number_of_nodes":1,"number_of_data_nodes":1,"active_primary_shards":3,"active_shards":3,"relocating_shards":0,"initializing_shards":0,"unassigned_shards":3,"delayed_unassigned_shards":0,"number_of_pending_tasks":0,"number_of_in_flight_fetch":0,"task_max_waiting_in_queue_millis":0,"active_shards_percent_as_number":50.0}`
	esRed      = `{"cluster_name":"docker-cluster","status":"red","timed_out":false,"number_of_nodes":1,"number_of_data_nodes":1,"active_primary_shards":1,"active_shards":1,"relocating_shards":0,"initializing_shards":0,"unassigned_shards":2,"delayed_unassigned_shards":0,"number_of_pending_tasks":0,"number_of_in_flight_fetch":0,"task_max_waiting_in_queue_millis":0,"active_shards_percent_as_number":33.33333333333333}`
	esNoMaster = `{"error":{"root_cause":[{"type":"master_not_discovered_exception","reason":null}],"type":"master_not_discovered_exception","reason":null},"status":503}`
	esAuth     = `{"error":{"root_cause":[{"type":"security_exception","reason":"missing authentication credentials for REST request [/_cluster/health?timeout=1s]"}],"type":"security_exception","reason":"missing authentication credentials for REST request [/_cluster/health?timeout=1s]"},"status":401}`
)

func esServer(t *testing.T, code int, body string, seen *http.Request) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen != nil {
			*seen = *r.Clone(context.Background())
		}
		if r.URL.Path != "/_cluster/health" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestElasticsearchClusterHealth(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		code      int
		body      string
		ready     bool
		err       string
		permanent bool
	}{
		{name: "green", code: 200, body: esGreen, ready: true},
		{name: "yellow is ready on a single node", code: 200, body: esYellow, ready: true},
		{name: "red", code: 200, body: esRed, err: "cluster docker-cluster is red: 2 shards unassigned (33% active)"},
		{name: "no master yet", code: 503, body: esNoMaster, err: "cluster health: HTTP 503: master_not_discovered_exception"},
		{name: "security on", code: 401, body: esAuth, permanent: true,
			err: "cluster health: HTTP 401: security_exception: missing authentication credentials for REST request [/_cluster/health?timeout=1s]: security is enabled"},
		{name: "wait timed out, still red", code: 408, body: esRed, err: "is red"},
		{name: "not elasticsearch", code: 200, body: `Ok.`, err: "not an Elasticsearch cluster health answer"},
		{name: "json without status", code: 200, body: `{"name":"node-1"}`, err: "not an Elasticsearch cluster health answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := esServer(t, tc.code, tc.body, nil)
			ok, err := probe.Elasticsearch{URL: srv.URL}.Check(ctx)
			require.Equal(t, tc.ready, ok)
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.err)
			require.Equal(t, tc.permanent, probe.IsPermanent(err), "%v", err)
		})
	}
}

func TestElasticsearchSendsCredentialsAndBoundsTheWait(t *testing.T) {
	var seen http.Request
	srv := esServer(t, 200, esGreen, &seen)
	c := probe.Elasticsearch{URL: srv.URL + "/", User: "elastic", Password: "s3cret"}
	ok, err := c.Check(context.Background())
	require.NoError(t, err)
	require.True(t, ok)
	user, pw, _ := seen.BasicAuth()
	require.Equal(t, [2]string{"elastic", "s3cret"}, [2]string{user, pw})
	require.Equal(t, "1s", seen.URL.Query().Get("timeout"), "the server side of the check is bounded")
	require.Equal(t, "elasticsearch "+srv.URL+"/_cluster/health", c.String())
}

// A server that never answers: the check returns when its context ends
// (Poll's per-attempt deadline), not later.
func TestElasticsearchTimeout(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(block); srv.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	ok, err := probe.Elasticsearch{URL: srv.URL}.Check(ctx)
	require.False(t, ok)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second)
	require.False(t, probe.IsPermanent(err), "a slow node may answer on the next try")
}

// Nothing listens: not ready, try again (the container may be starting).
func TestElasticsearchRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	ok, err := probe.Elasticsearch{URL: url}.Check(context.Background())
	require.False(t, ok)
	require.Error(t, err)
	require.False(t, probe.IsPermanent(err))
}
