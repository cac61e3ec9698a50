package catalog_test

import (
	"sort"
	"testing"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The staging guide's database mapping table, verbatim.
var stagingDatabases = map[string][2]string{
	"auth-service":          {"nova_auth", "nova_auth_svc"},
	"user-service":          {"nova_user", "nova_user_svc"},
	"content-service":       {"nova_content", "nova_content_svc"},
	"feed-service":          {"nova_feed", "nova_feed_svc"},
	"messaging-service":     {"nova_messaging", "nova_messaging_svc"},
	"search-service":        {"nova_search", "nova_search_svc"},
	"notification-service":  {"nova_notification", "nova_notification_svc"},
	"media-service":         {"nova_media", "nova_media_svc"},
	"analytics-service":     {"nova_analytics", "nova_analytics_svc"},
	"graph-service":         {"nova_graph", "nova_graph_svc"},
	"ranking-service":       {"nova_ranking", "nova_ranking_svc"},
	"feature-store":         {"nova_feature_store", "nova_feature_store_svc"},
	"identity-service":      {"nova_identity", "nova_identity_svc"},
	"trust-safety-service":  {"nova_trust_safety", "nova_trust_safety_svc"},
	"realtime-chat-service": {"nova_realtime_chat", "nova_realtime_chat_svc"},
}

// The staging guide's service dependency map (services and stores only;
// every service also needs its PostgreSQL database).
var stagingDeps = map[string][]string{
	"user-service":          nil,
	"media-service":         nil,
	"notification-service":  {"redis"},
	"identity-service":      nil,
	"auth-service":          nil, // absent from the guide's map: docs/decisions.md
	"feature-store":         nil, // absent from the guide's map: docs/decisions.md
	"content-service":       {"user-service"},
	"graph-service":         {"user-service", "neo4j"},
	"messaging-service":     {"user-service"},
	"trust-safety-service":  {"user-service", "kafka"},
	"feed-service":          {"user-service", "content-service", "kafka"},
	"search-service":        {"content-service", "elasticsearch"},
	"ranking-service":       {"user-service", "content-service", "redis"},
	"analytics-service":     {"kafka", "clickhouse"},
	"realtime-chat-service": {"user-service", "messaging-service", "redis"},
}

func loadNova(t *testing.T, env string) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Load("../../envs/nova.yaml", catalog.Options{Env: env})
	require.NoError(t, err)
	return c
}

func TestNovaMatchesStagingGuide(t *testing.T) {
	c := loadNova(t, "local")
	g := c.Graph()

	got := map[string][2]string{}
	for _, s := range c.ActiveServices() {
		if s.Database != nil {
			got[s.Name] = [2]string{s.Database.Name, s.Database.User}
		}
	}
	assert.Equal(t, stagingDatabases, got, "one database and one user per service, as in the guide's table")

	for svc, deps := range stagingDeps {
		var want []string
		for _, d := range deps {
			want = append(want, d)
		}
		want = append(want, "postgres")
		var have []string
		for _, n := range g.Needs(svc) {
			it, _ := g.Node(n)
			if it.Kind != catalog.KindBootstrap {
				have = append(have, n)
			}
		}
		sort.Strings(want)
		assert.Equal(t, want, have, "%s: services and stores it needs", svc)
	}

	var gatewayNeeds []string
	for _, n := range g.Needs("graphql-gateway") {
		gatewayNeeds = append(gatewayNeeds, n)
	}
	var all []string
	for s := range stagingDatabases {
		all = append(all, s)
	}
	sort.Strings(all)
	assert.Equal(t, all, gatewayNeeds, "the gateway depends on every service and nothing else")
	assert.Len(t, c.ActiveServices(), 16, "15 services + the gateway")
}

func TestNovaStores(t *testing.T) {
	c := loadNova(t, "")
	assert.Equal(t, []string{"uuid-ossp", "pgcrypto"}, c.Stores["postgres"].Extensions)
	assert.Equal(t, 3, c.Stores["redis"].Nodes)
	assert.Len(t, c.Stores["kafka"].Topics, 9, "the guide's 9 topics")
	var tables []string
	for _, tb := range c.Stores["clickhouse"].Databases[0].Tables {
		tables = append(tables, tb.Name)
	}
	assert.Equal(t, []string{"events", "user_activity", "content_metrics", "feed_analytics", "service_metrics"}, tables)
	assert.True(t, c.Stores["neo4j"].External)

	var redisUsers, kafkaUsers []string
	for _, s := range c.ActiveServices() {
		if s.Uses.Redis {
			redisUsers = append(redisUsers, s.Name)
		}
		if s.Uses.Kafka != nil {
			kafkaUsers = append(kafkaUsers, s.Name)
		}
	}
	assert.Equal(t, []string{"notification-service", "ranking-service", "realtime-chat-service"}, redisUsers)
	assert.Equal(t, []string{"analytics-service", "feed-service", "trust-safety-service"}, kafkaUsers)
}

func TestNovaBootstrapOrder(t *testing.T) {
	g := loadNova(t, "local").Graph()
	assert.Equal(t, []string{"postgres", "postgres-init"}, g.Needs("migrations"), "migrations after postgres init")
	for _, b := range []string{"redis-cluster-init", "kafka-topics", "clickhouse-init"} {
		needs := g.Needs(b)
		require.Len(t, needs, 1, b)
		it, _ := g.Node(needs[0])
		assert.Equal(t, catalog.KindStore, it.Kind, "%s needs only its store, so it runs in parallel with the others", b)
	}
	layers, err := g.Layers()
	require.NoError(t, err)
	assert.Equal(t, []string{"graphql-gateway"}, layers[len(layers)-1], "the gateway starts last")
}
