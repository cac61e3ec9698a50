package bootstrap

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/catalog"
)

func TestTopicPlan(t *testing.T) {
	day := catalog.Duration{Duration: 24 * time.Hour}
	want := []*catalog.Topic{
		{Name: "new", Partitions: 6, Replication: 1, Retention: day},
		{Name: "same", Partitions: 3, Replication: 1, Retention: day},
		{Name: "grow", Partitions: 6, Replication: 1, Retention: day},
		{Name: "shrink", Partitions: 3, Replication: 1, Retention: day},
		{Name: "retention", Partitions: 3, Replication: 1, Retention: catalog.Duration{Duration: 7 * 24 * time.Hour}},
		{Name: "default-retention", Partitions: 3, Replication: 1},
		{Name: "replicas", Partitions: 3, Replication: 3, Retention: day},
		{Name: "compacted", Partitions: 3, Replication: 1, Retention: day},
		{Name: "unknown-policy", Partitions: 3, Replication: 1, Retention: day},
	}
	have := map[string]topicState{
		"same":              {3, 1, "86400000", "delete"},
		"grow":              {3, 1, "86400000", "delete"},
		"shrink":            {6, 1, "86400000", "delete"},
		"retention":         {3, 1, "86400000", "delete"},
		"default-retention": {3, 1, "604800000", "delete"},
		"replicas":          {3, 1, "86400000", "delete"},
		"compacted":         {3, 1, "86400000", "compact,delete"},
		"unknown-policy":    {3, 1, "86400000", ""},
		"not-in-catalog":    {1, 1, "", "compact"},
	}
	plan, drift := topicPlan(want, have)
	require.Equal(t, []topicAction{
		{Topic: "new", Create: true, SetParts: 6, Retention: "86400000"},
		{Topic: "grow", SetParts: 6},
		{Topic: "retention", Retention: "604800000"},
	}, plan)
	require.Equal(t, []string{
		"shrink: partitions: catalog 3, broker 6 (Kafka cannot remove partitions)",
		"replicas: replication: catalog 3, broker 1 (changing it needs a partition reassignment)",
		"compacted: cleanup.policy: catalog delete, broker compact,delete",
	}, drift)
	require.Equal(t, []string{"created new: 6 partitions, retention.ms 86400000", "grown grow to 6 partitions", "set retention.ms of retention to 604800000"},
		[]string{plan[0].String(), plan[1].String(), plan[2].String()})

	plan, drift = topicPlan(want[1:2], have)
	require.Empty(t, plan)
	require.Empty(t, drift)
}

func TestNovaTopics(t *testing.T) {
	topics := kafkaTopics(novaCatalog(t, "local"))
	require.Len(t, topics, 9)
	require.Equal(t, "feed.post-published", topics[0].Name)
	require.Equal(t, "604800000", retentionMS(topics[0]))
}

func TestDriftResult(t *testing.T) {
	var l logLines
	require.NoError(t, driftResult("kafka-topics", nil, false, l.log, "hint"))
	err := driftResult("kafka-topics", []string{"a: x", "b: y"}, false, l.log, "do this")
	var de *DriftError
	require.ErrorAs(t, err, &de)
	require.Equal(t, "2 difference(s) from the catalog:\n  a: x\n  b: y\ndo this; --allow-drift only warns", err.Error())
	require.Empty(t, l)
	require.NoError(t, driftResult("kafka-topics", []string{"a: x"}, true, l.log, "do this"))
	require.Equal(t, logLines{"warning: drift (allowed by --allow-drift): a: x"}, l)

	l = nil
	require.NoError(t, checkResult("s", nil, nil, false, l.log, ""))
	require.Equal(t, logLines{"the store is as the catalog says; nothing would change"}, l)
	err = checkResult("kafka-topics", []string{"would have created x"}, []string{"y: z"}, false, l.log, "fix it")
	require.EqualError(t, err, "2 difference(s) from the catalog:\n  would have created x\n  y: z\n"+
		"`novadev bootstrap kafka-topics` (or `novadev up`) makes the changes marked \"would have\"; fix it; --allow-drift only warns")
}

func TestWithOptions(t *testing.T) {
	for _, name := range []string{catalog.StepPostgresInit, catalog.StepRedisClusterInit, catalog.StepKafkaTopics, catalog.StepClickHouseInit} {
		s, _ := Lookup(name)
		got, err := WithOptions(s, Options{Check: true, AllowDrift: true})
		require.NoError(t, err, name)
		require.Equal(t, name, got.Name())
		require.Equal(t, Options{Check: true, AllowDrift: true}, got.(interface{ options() Options }).options())
	}
	s, _ := Lookup(catalog.StepMigrations)
	got, err := WithOptions(s, Options{})
	require.NoError(t, err)
	require.Equal(t, s, got)
	got, err = WithOptions(s, Options{Check: true})
	require.NoError(t, err)
	require.Equal(t, checkedMigrations{Options: Options{Check: true}}, got)
	_, err = WithOptions(s, Options{AllowDrift: true})
	require.ErrorContains(t, err, "migrations: --allow-drift does not apply")
	got, err = WithOptions(ProtoValidate{}, Options{Check: true})
	require.NoError(t, err)
	require.Equal(t, ProtoValidate{}, got)
	_, err = WithOptions(ProtoValidate{Record: true}, Options{Check: true})
	require.ErrorContains(t, err, "choose one")
}
