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
	}
	have := map[string]topicState{
		"same":              {3, 1, "86400000"},
		"grow":              {3, 1, "86400000"},
		"shrink":            {6, 1, "86400000"},
		"retention":         {3, 1, "86400000"},
		"default-retention": {3, 1, "604800000"},
		"replicas":          {3, 1, "86400000"},
		"not-in-catalog":    {1, 1, ""},
	}
	require.Equal(t, []topicAction{
		{Topic: "new", Create: true, SetParts: 6, Retention: "86400000"},
		{Topic: "grow", SetParts: 6},
		{Topic: "shrink", Warn: "has 6 partitions, the catalog says 3: Kafka cannot remove partitions, left as is"},
		{Topic: "retention", Retention: "604800000"},
		{Topic: "replicas", Warn: "has replication 1, the catalog says 3: changing it needs a partition reassignment, left as is"},
	}, topicPlan(want, have))
}

func TestNovaTopics(t *testing.T) {
	topics := kafkaTopics(novaCatalog(t, "local"))
	require.Len(t, topics, 9)
	require.Equal(t, "feed.post-published", topics[0].Name)
	require.Equal(t, "604800000", retentionMS(topics[0]))
}
