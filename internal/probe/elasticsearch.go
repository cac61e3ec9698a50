package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Elasticsearch is ready when the cluster health API (GET
// /_cluster/health) answers a status of green or yellow. Yellow is ready:
// a single-node cluster (every local target) can never place replica
// shards, so it never turns green, yet it serves every read and write.
// Red (a primary shard unassigned) is not ready yet; a 401 (security
// enabled, wrong or missing credentials) is permanent.
type Elasticsearch struct {
	URL      string // http://127.0.0.1:9200
	User     string // basic auth when security is enabled; "" for none
	Password string
	Dial     DialFunc
}

// ClusterHealth is the part of the cluster health answer the check reads
// (Elasticsearch 7 and 8 answer the same fields).
type ClusterHealth struct {
	ClusterName      string  `json:"cluster_name"`
	Status           string  `json:"status"` // green, yellow, red
	TimedOut         bool    `json:"timed_out"`
	NumberOfNodes    int     `json:"number_of_nodes"`
	ActiveShards     int     `json:"active_shards"`
	UnassignedShards int     `json:"unassigned_shards"`
	ActivePercent    float64 `json:"active_shards_percent_as_number"`
}

// esError is Elasticsearch's error answer: {"error": {"type", "reason"}, "status"}.
type esError struct {
	Error struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
	Status int `json:"status"`
}

// maxHealthBody bounds what the check reads: a health answer is a few
// hundred bytes; anything far larger is not one.
const maxHealthBody = 64 << 10

// Check implements Check.
func (c Elasticsearch) Check(ctx context.Context) (bool, error) {
	// timeout=1s bounds the server side: without wait_for_* it answers at
	// once anyway, and a master still being elected answers 503 quickly
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(c.URL, "/")+"/_cluster/health?timeout=1s", nil)
	if err != nil {
		return false, Permanent(err)
	}
	if c.User != "" {
		req.SetBasicAuth(c.User, c.Password)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := httpClient(c.Dial).Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxHealthBody))
	if err != nil {
		return false, err
	}
	return readHealth(resp.StatusCode, body)
}

// readHealth reads one cluster health answer: its HTTP status code and
// body (at most maxHealthBody bytes).
func readHealth(code int, body []byte) (bool, error) {
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		// security is on and these credentials will not change while we wait
		return false, Permanent(fmt.Errorf("cluster health: HTTP %d%s: security is enabled; give the credentials or run it with xpack.security.enabled=false", code, esReason(body)))
	case code != http.StatusOK && code != http.StatusRequestTimeout:
		// 503 master_not_discovered_exception while the node starts
		return false, fmt.Errorf("cluster health: HTTP %d%s", code, esReason(body))
	}
	// 408 comes with a full health body (a wait_for_* timed out)
	var h ClusterHealth
	if err := json.Unmarshal(body, &h); err != nil || h.Status == "" {
		return false, fmt.Errorf("cluster health: HTTP %d: not an Elasticsearch cluster health answer: %q", code, abbrev(body))
	}
	switch h.Status {
	case "green", "yellow":
		return true, nil
	case "red":
		return false, fmt.Errorf("cluster %s is red: %d shards unassigned (%.0f%% active)", abbrev([]byte(h.ClusterName)), h.UnassignedShards, h.ActivePercent)
	}
	return false, fmt.Errorf("cluster health: unknown status %q", abbrev([]byte(h.Status)))
}

func (c Elasticsearch) String() string {
	return "elasticsearch " + strings.TrimSuffix(c.URL, "/") + "/_cluster/health"
}

// esReason renders an Elasticsearch error body as ": type: reason", or ""
// when the body is not one.
func esReason(body []byte) string {
	var e esError
	if json.Unmarshal(body, &e) != nil || e.Error.Type == "" {
		if s := abbrev(body); s != "" {
			return ": " + s
		}
		return ""
	}
	if e.Error.Reason == "" {
		return ": " + abbrev([]byte(e.Error.Type))
	}
	return ": " + abbrev([]byte(e.Error.Type+": "+e.Error.Reason))
}

func abbrev(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
