package bootstrap

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/novadev/novadev/internal/catalog"
)

// TestIntegrationKafkaTopics runs the step against the offline Kafka image,
// advertising kafka:9092 as in the stack, from the host through a remap.
func TestIntegrationKafkaTopics(t *testing.T) {
	needEngine(t, "novadev/kafka:kfake")
	c := novaCatalog(t, "local")
	port := freePort(t)
	run(t, "-p", fmt.Sprintf("127.0.0.1:%d:9092", port), "novadev/kafka:kfake")
	tg := Targets{KafkaBrokers: []string{"kafka:9092"}, Dial: RemapDialer(map[string]string{"kafka:9092": fmt.Sprintf("127.0.0.1:%d", port)})}
	adm, err := kafkaAdmin(tg)
	require.NoError(t, err)
	defer adm.Close()
	eventually(t, 30*time.Second, "kafka", func() error {
		_, err := adm.ListTopics(ctxFor(t, 2*time.Second))
		return err
	})

	var first logLines
	require.NoError(t, KafkaTopics{}.Run(ctxFor(t, time.Minute), c, tg, first.log))
	require.Len(t, first, 9)
	require.Contains(t, first, "created feed.post-published: 6 partitions, replication 1, retention.ms 604800000")
	require.Contains(t, first, "created trust-safety.reports: 3 partitions, replication 1, retention.ms 2592000000")

	var second logLines
	require.NoError(t, KafkaTopics{}.Run(ctxFor(t, time.Minute), c, tg, second.log))
	require.Equal(t, logLines{"9 topics already as the catalog says; nothing changed"}, second)

	ctx := ctxFor(t, time.Minute)
	// a fresh client: kgo answers metadata requests from a short-lived cache
	adm2, err := kafkaAdmin(tg)
	require.NoError(t, err)
	defer adm2.Close()
	details, err := adm2.ListTopics(ctx)
	require.NoError(t, err)
	for _, tp := range kafkaTopics(c) {
		d, ok := details[tp.Name]
		require.True(t, ok, "%s listed", tp.Name)
		require.Len(t, d.Partitions, tp.Partitions, tp.Name)
	}
	cfgs, err := adm2.DescribeTopicConfigs(ctx, "analytics.events")
	require.NoError(t, err)
	rc, err := cfgs.On("analytics.events", nil)
	require.NoError(t, err)
	var ret string
	for _, cf := range rc.Configs {
		if cf.Key == "retention.ms" && cf.Value != nil {
			ret = *cf.Value
		}
	}
	require.Equal(t, "604800000", ret)

	// by hand: a compacted topic
	resp, err := adm2.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "cleanup.policy", Value: kadm.StringPtr("compact")}}, "feed.fanout-requests")
	require.NoError(t, err)
	for _, r := range resp {
		require.NoError(t, r.Err)
	}
	// the catalog grows a topic, shortens another's retention, and asks for
	// what the step cannot do: fewer partitions, more replicas
	for _, tp := range kafkaTopics(c) {
		switch tp.Name {
		case "analytics.user-activity":
			tp.Partitions = 5
		case "analytics.events":
			tp.Retention = catalog.Duration{Duration: 2 * 24 * time.Hour}
		case "feed.impressions":
			tp.Partitions = 2
		case "trust-safety.reports":
			tp.Replication = 3
		}
	}
	wantDrift := []string{
		"feed.fanout-requests: cleanup.policy: catalog delete, broker compact",
		"feed.impressions: partitions: catalog 2, broker 6 (Kafka cannot remove partitions)",
		"trust-safety.reports: replication: catalog 3, broker 1 (changing it needs a partition reassignment)",
	}

	// --check: every difference, nothing changed
	var check logLines
	err = KafkaTopics{Options: Options{Check: true}}.Run(ctx, c, tg, check.log)
	var de *DriftError
	require.ErrorAs(t, err, &de)
	require.Equal(t, append([]string{
		"would have set retention.ms of analytics.events to 172800000",
		"would have grown analytics.user-activity to 5 partitions",
	}, wantDrift...), de.Diffs)
	require.Empty(t, check)
	adm4, err := kafkaAdmin(tg)
	require.NoError(t, err)
	defer adm4.Close()
	details, err = adm4.ListTopics(ctx, "analytics.user-activity")
	require.NoError(t, err)
	require.Len(t, details["analytics.user-activity"].Partitions, 3, "--check changed nothing")

	// a run corrects what it can, then fails on the drift with what to do
	var third logLines
	err = KafkaTopics{}.Run(ctx, c, tg, third.log)
	require.ErrorAs(t, err, &de)
	require.Equal(t, wantDrift, de.Diffs)
	require.ErrorContains(t, err, "3 difference(s) from the catalog:\n  feed.fanout-requests: cleanup.policy: catalog delete, broker compact\n")
	require.ErrorContains(t, err, "--allow-drift only warns")
	require.Equal(t, logLines{
		"analytics.events: retention.ms 604800000 -> 172800000",
		"analytics.user-activity: grew from 3 to 5 partitions",
	}, third, strings.Join(third, "\n"))
	adm3, err := kafkaAdmin(tg)
	require.NoError(t, err)
	defer adm3.Close()
	details, err = adm3.ListTopics(ctx, "analytics.user-activity")
	require.NoError(t, err)
	require.Len(t, details["analytics.user-activity"].Partitions, 5)

	// --allow-drift: warnings, success
	var fourth logLines
	require.NoError(t, KafkaTopics{Options: Options{AllowDrift: true}}.Run(ctx, c, tg, fourth.log))
	var warned []string
	for _, d := range wantDrift {
		warned = append(warned, "warning: drift (allowed by --allow-drift): "+d)
	}
	require.Equal(t, logLines(warned), fourth)
}
