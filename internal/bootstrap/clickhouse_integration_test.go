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
}
