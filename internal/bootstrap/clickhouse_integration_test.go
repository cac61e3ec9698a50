package bootstrap

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/contract"
)

// clickHouseImage is the ClickHouse image the tests run:
// NOVADEV_CLICKHOUSE_IMAGE, to try an image built under another tag
// (scripts/images/build.sh with NOVADEV_CLICKHOUSE_TAG), or the offline one.
func clickHouseImage() string {
	if img := os.Getenv("NOVADEV_CLICKHOUSE_IMAGE"); img != "" {
		return img
	}
	return "novadev/clickhouse:18.16"
}

// clickHouseWithUsers starts the image with the store environment the
// contract gives it (admin, service users, the default user confined to
// loopback) and returns its published HTTP port and the passwords.
func clickHouseWithUsers(t *testing.T, c *catalog.Catalog) (int, map[string]string) {
	t.Helper()
	img := clickHouseImage()
	needEngine(t, img)
	pw := map[string]string{}
	for _, cr := range contract.ClickHouseCredentials(c) {
		pw[cr.Key] = "pw-" + strings.ToLower(cr.Key) + fmt.Sprint(time.Now().UnixNano())
	}
	env := contract.StoreEnv(c, c.Stores["clickhouse"]).Resolve(func(cr contract.Credential) string { return pw[cr.Key] })
	env[contract.EnvClickHouseDefaultLocal] = "1"
	port := freePort(t)
	args := []string{"-p", fmt.Sprintf("127.0.0.1:%d:8123", port)}
	for k, v := range env {
		args = append(args, "-e", k+"="+v)
	}
	run(t, append(args, img)...)
	return port, pw
}

func TestIntegrationClickHouseInit(t *testing.T) {
	c := novaCatalog(t, "local")
	port, pw := clickHouseWithUsers(t, c)
	tg := Targets{ClickHouseURL: "http://clickhouse:8123", Dial: RemapDialer(map[string]string{"clickhouse:8123": fmt.Sprintf("127.0.0.1:%d", port)}),
		Password: func(k string) string { return pw[k] }}
	cl, err := newClickClient(tg)
	require.NoError(t, err)
	require.Equal(t, contract.ClickHouseAdminUser, cl.user, "clickhouse-init logs in as its own identity")
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

// TestIntegrationClickHouseCredentials: on the offline image with the
// contract's store environment, an anonymous query from outside is refused,
// a wrong password is refused, and the service user may SELECT and INSERT
// its own tables but not create a table, reach another database or read
// system.users; clickhouse-init works as the admin.
func TestIntegrationClickHouseCredentials(t *testing.T) {
	c := novaCatalog(t, "local")
	port, pw := clickHouseWithUsers(t, c)
	tg := Targets{ClickHouseURL: fmt.Sprintf("http://127.0.0.1:%d", port), Password: func(k string) string { return pw[k] }}
	admin, err := newClickClient(tg)
	require.NoError(t, err)
	eventually(t, 60*time.Second, "clickhouse", func() error {
		_, err := admin.exec(ctxFor(t, 2*time.Second), "SELECT 1")
		return err
	})
	ctx := ctxFor(t, time.Minute)
	var log logLines
	require.NoError(t, ClickHouseInit{}.Run(ctx, c, tg, log.log))
	require.Contains(t, log, "CREATE DATABASE IF NOT EXISTS `nova_analytics`", "the admin may run the DDL")

	anon := admin.as("", "")
	_, err = anon.exec(ctx, "SELECT 1")
	require.ErrorContains(t, err, "is not allowed to connect", "anonymous SELECT 1 from outside the container")

	users := contract.ClickHouseUsers(c)
	require.Len(t, users, 1)
	u := users[0]
	_, err = admin.as(u.User, "wrong").exec(ctx, "SELECT 1")
	require.ErrorContains(t, err, "Wrong password")

	svc := admin.as(u.User, pw[u.Password.Key])
	_, err = svc.exec(ctx, "INSERT INTO nova_analytics.feed_analytics (user_id, impression_time, impression_date, content_id, position, score) VALUES ('u1', now(), today(), 'c1', 3, 0.5)")
	require.NoError(t, err, "the service inserts into its own table")
	out, err := svc.exec(ctx, "SELECT count() FROM nova_analytics.feed_analytics")
	require.NoError(t, err)
	require.Equal(t, "1", strings.TrimSpace(out))

	out, err = svc.exec(ctx, "SELECT count() FROM system.tables WHERE database = 'nova_analytics'")
	require.NoError(t, err, "the placeholder's check query")
	require.Equal(t, "5", strings.TrimSpace(out))

	_, err = svc.exec(ctx, "CREATE TABLE nova_analytics.mine (a UInt8) ENGINE = MergeTree() ORDER BY a")
	require.ErrorContains(t, err, "HTTP ", "no DDL at run time")
	_, err = svc.exec(ctx, "DROP TABLE nova_analytics.events")
	require.ErrorContains(t, err, "HTTP ", "no DDL at run time")
	for _, q := range []string{"CREATE DATABASE other", "CREATE TABLE other.t (a UInt8) ENGINE = MergeTree() ORDER BY a"} {
		_, err := admin.exec(ctx, q)
		require.NoError(t, err, q)
	}
	_, err = svc.exec(ctx, "SELECT count() FROM other.t")
	require.ErrorContains(t, err, "Access denied to database other", "no other database")
	_, err = svc.exec(ctx, "SELECT name FROM system.users")
	require.ErrorContains(t, err, "HTTP ", "system.users is not the service's (18.16: absent; 23.8: needs SHOW USERS)")
}
