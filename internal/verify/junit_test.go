package verify

import (
	"bytes"
	"encoding/xml"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// parsed is JUnit as a reader sees it, declared independently of the
// writer's types so a wrong tag on either side shows.
type parsed struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Suites   []struct {
		Name      string `xml:"name,attr"`
		Tests     int    `xml:"tests,attr"`
		Failures  int    `xml:"failures,attr"`
		Errors    int    `xml:"errors,attr"`
		Skipped   int    `xml:"skipped,attr"`
		Time      string `xml:"time,attr"`
		Timestamp string `xml:"timestamp,attr"`
		Cases     []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Time      string `xml:"time,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestJUnitShape(t *testing.T) {
	start := time.Date(2026, 12, 1, 7, 30, 0, 0, time.UTC)
	rep := &Report{Instance: "nova-pr-123", Started: start, Duration: 1234 * time.Millisecond, Results: []Result{
		{ID: "postgres/up", Kind: KindStore, Node: "postgres", Status: Passed, Message: "login ok", Duration: 6 * time.Millisecond},
		{ID: "redis/up", Kind: KindStore, Node: "redis", What: "every Redis node answers PING", Status: Failed,
			Message: "redis is not ready: nova-pr-123-redis-2-1 is exited", Duration: 1500 * time.Microsecond,
			LogTail: "redis-1 | # Cluster state changed: fail\x1b[0m\nredis-3 | FAIL message received <about> redis-2 & more\n"},
		{ID: "redis/cluster", Kind: KindRedisCluster, Node: "redis", Status: Failed, Blocked: "redis",
			Message: "not run: needs redis, whose check redis/up failed: redis is not ready"},
		{ID: "neo4j/up", Kind: KindStore, Node: "neo4j", Status: Skipped, Message: "external store"},
	}}
	var buf bytes.Buffer
	require.NoError(t, WriteJUnit(&buf, rep))
	require.True(t, strings.HasPrefix(buf.String(), `<?xml version="1.0" encoding="UTF-8"?>`))

	var p parsed
	require.NoError(t, xml.Unmarshal(buf.Bytes(), &p), buf.String())
	require.Equal(t, 4, p.Tests)
	require.Equal(t, 2, p.Failures)
	require.Len(t, p.Suites, 1, "one testsuite")
	s := p.Suites[0]
	require.Equal(t, "novadev verify nova-pr-123", s.Name)
	require.Equal(t, 4, s.Tests)
	require.Equal(t, 2, s.Failures)
	require.Equal(t, 0, s.Errors)
	require.Equal(t, 1, s.Skipped)
	require.Equal(t, "1.234", s.Time)
	require.Equal(t, "2026-12-01T07:30:00", s.Timestamp)
	require.Len(t, s.Cases, 4, "one testcase per check")

	var names []string
	for _, c := range s.Cases {
		names = append(names, c.Name)
		_, err := strconv.ParseFloat(c.Time, 64)
		require.NoError(t, err, "time of %s", c.Name)
	}
	require.Equal(t, []string{"postgres/up", "redis/up", "redis/cluster", "neo4j/up"}, names)

	ok := s.Cases[0]
	require.Nil(t, ok.Failure)
	require.Nil(t, ok.Skipped)
	require.Equal(t, "verify.nova-pr-123.store", ok.Classname)
	require.Equal(t, "0.006", ok.Time)
	require.Equal(t, "login ok", ok.SystemOut)

	red := s.Cases[1]
	require.NotNil(t, red.Failure)
	require.Equal(t, "0.002", red.Time)
	require.Equal(t, "redis is not ready: nova-pr-123-redis-2-1 is exited", red.Failure.Message)
	require.Equal(t, "check", red.Failure.Type)
	require.Contains(t, red.Failure.Text, "every Redis node answers PING")
	require.Contains(t, red.Failure.Text, "last log lines of redis:\nredis-1 | # Cluster state changed: fail[0m\nredis-3 | FAIL message received <about> redis-2 & more",
		"the log tail, escaped and without the terminal escape byte")

	blocked := s.Cases[2]
	require.Equal(t, "blocked by redis", blocked.Failure.Type)
	require.Equal(t, "verify.nova-pr-123.redis-cluster", blocked.Classname)

	require.NotNil(t, s.Cases[3].Skipped)
	require.Equal(t, "external store", s.Cases[3].Skipped.Message)
}
