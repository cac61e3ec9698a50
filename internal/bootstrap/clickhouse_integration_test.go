package bootstrap

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestIntegrationClickHouseInit(t *testing.T) {
	needEngine(t, "novadev/clickhouse:18.16")
	c := novaCatalog(t, "local")
	port := freePort(t)
	run(t, "-p", fmt.Sprintf("127.0.0.1:%d:8123", port), "novadev/clickhouse:18.16")
	tg := Targets{ClickHouseURL: "http://clickhouse:8123", Dial: RemapDialer(map[string]string{"clickhouse:8123": fmt.Sprintf("127.0.0.1:%d", port)})}
	cl, err := newClickClient(tg)
	require.NoError(t, err)
	eventually(t, 60*time.Second, "clickhouse", func() error {
		_, err := cl.exec(ctxFor(t, 2*time.Second), "SELECT 1")
		return err
	})

	var first logLines
	require.NoError(t, ClickHouseInit{}.Run(ctxFor(t, time.Minute), c, tg, first.log))
	require.Equal(t, logLines{
		"CREATE DATABASE IF NOT EXISTS `nova_analytics`",
		"CREATE TABLE IF NOT EXISTS `nova_analytics`.`events` ...",
		"CREATE TABLE IF NOT EXISTS `nova_analytics`.`user_activity` ...",
		"CREATE TABLE IF NOT EXISTS `nova_analytics`.`content_metrics` ...",
		"CREATE TABLE IF NOT EXISTS `nova_analytics`.`feed_analytics` ...",
		"CREATE TABLE IF NOT EXISTS `nova_analytics`.`service_metrics` ...",
	}, first)

	var second logLines
	require.NoError(t, ClickHouseInit{}.Run(ctxFor(t, time.Minute), c, tg, second.log))
	require.Equal(t, logLines{"1 databases and 5 tables already exist; nothing changed"}, second)

	ctx := ctxFor(t, time.Minute)
	out, err := cl.exec(ctx, "SHOW TABLES FROM nova_analytics")
	require.NoError(t, err)
	require.Equal(t, []string{"content_metrics", "events", "feed_analytics", "service_metrics", "user_activity"}, strings.Fields(out))
	_, err = cl.exec(ctx, "INSERT INTO nova_analytics.feed_analytics (user_id, impression_time, impression_date, content_id, position, score) VALUES ('u1', now(), today(), 'c1', 3, 0.5)")
	require.NoError(t, err)
	out, err = cl.exec(ctx, "SELECT user_id, position FROM nova_analytics.feed_analytics FORMAT TabSeparated")
	require.NoError(t, err)
	require.Equal(t, "u1\t3\n", out)

	_, err = cl.exec(ctx, "CREATE TABLE broken (x Map(String, String)) ENGINE = MergeTree() ORDER BY x")
	require.ErrorContains(t, err, "HTTP ", "a refused statement is an error with ClickHouse's status")

	// by hand: a table rebuilt with another engine and keys, a column added
	for _, q := range []string{
		"DROP TABLE nova_analytics.service_metrics",
		"CREATE TABLE nova_analytics.service_metrics (service String, metric_time DateTime, metric_date Date, name String, value Float64) " +
			"ENGINE = ReplacingMergeTree() PARTITION BY metric_date ORDER BY (service, metric_time)",
		"ALTER TABLE nova_analytics.events ADD COLUMN extra String",
	} {
		_, err := cl.exec(ctx, q)
		require.NoError(t, err, q)
	}
	wantDrift := []string{
		"nova_analytics.events: column extra: catalog (none), ClickHouse String",
		"nova_analytics.service_metrics: engine: catalog MergeTree(), ClickHouse ReplacingMergeTree()",
		"nova_analytics.service_metrics: partition key: catalog toYYYYMM(metric_date), ClickHouse metric_date",
		"nova_analytics.service_metrics: order key: catalog (service, name, metric_time), ClickHouse service, metric_time",
	}
	var check logLines
	err = ClickHouseInit{Options: Options{Check: true}}.Run(ctx, c, tg, check.log)
	var de *DriftError
	require.ErrorAs(t, err, &de)
	require.Equal(t, wantDrift, de.Diffs)
	require.Empty(t, check)

	// a missing table is created, then the drift fails the step
	_, err = cl.exec(ctx, "DROP TABLE nova_analytics.content_metrics")
	require.NoError(t, err)
	err = ClickHouseInit{Options: Options{Check: true}}.Run(ctx, c, tg, check.log)
	require.ErrorAs(t, err, &de)
	require.Equal(t, append([]string{"would have run CREATE TABLE IF NOT EXISTS `nova_analytics`.`content_metrics` ..."}, wantDrift...), de.Diffs)
	out, err = cl.exec(ctx, "EXISTS TABLE nova_analytics.content_metrics")
	require.NoError(t, err)
	require.Equal(t, "0", strings.TrimSpace(out), "--check changed nothing")

	var third logLines
	err = ClickHouseInit{}.Run(ctx, c, tg, third.log)
	require.ErrorAs(t, err, &de)
	require.Equal(t, wantDrift, de.Diffs)
	require.ErrorContains(t, err, "ClickHouse cannot change a MergeTree table's engine or partition key in place")
	require.Equal(t, logLines{"CREATE TABLE IF NOT EXISTS `nova_analytics`.`content_metrics` ..."}, third)

	var fourth logLines
	require.NoError(t, ClickHouseInit{Options: Options{AllowDrift: true}}.Run(ctx, c, tg, fourth.log))
	require.Len(t, fourth, len(wantDrift))
	require.Equal(t, "warning: drift (allowed by --allow-drift): "+wantDrift[0], fourth[0])
}
