package docker_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/backend/docker"
	"github.com/novadev/novadev/internal/backend/docker/dockertest"
	"github.com/novadev/novadev/internal/state"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestIntegrationDockerLifecycle(t *testing.T) {
	d := dockertest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	info, err := d.Info(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, info.ServerVersion)
	require.Regexp(t, `^1\.\d+$`, info.APIVersion)
	t.Logf("engine %s, API %s", info.ServerVersion, info.APIVersion)

	const tag = "novadev-test/hello:dev"
	require.NoError(t, d.BuildScratchImage(ctx, "testdata/hello", tag))
	imageID, err := d.ImageID(ctx, tag)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(imageID, "sha256:"), imageID)
	_, err = d.ImageID(ctx, "novadev-test/absent:never")
	require.ErrorIs(t, err, docker.ErrNotFound)

	project := "novadev-it-" + strconv.Itoa(os.Getpid())
	id := state.Identity{Project: project, Env: "test"}
	t.Cleanup(func() { // leave nothing behind even when the test fails
		c := context.Background()
		if o, err := d.Observe(c, project); err == nil {
			for _, k := range o.Containers {
				_ = d.Remove(c, k.ID)
			}
			for _, n := range o.Networks {
				_ = d.RemoveNetwork(c, n.Name)
			}
			for _, v := range o.Volumes {
				_ = d.RemoveVolume(c, v.Name)
			}
		}
	})

	net1 := project + "_default"
	vol := project + "_data"
	require.NoError(t, d.CreateNetwork(ctx, docker.NetworkSpec{Name: net1, Labels: id.NetworkLabels("default")}))
	require.NoError(t, d.CreateNetwork(ctx, docker.NetworkSpec{Name: net1, Labels: id.NetworkLabels("default")}), "creating an existing network is a no-op")
	require.NoError(t, d.CreateVolume(ctx, docker.VolumeSpec{Name: vol, Labels: id.VolumeLabels("data")}))

	port := freePort(t)
	w := docker.Workload{
		Name: state.ContainerName(project, "hello"), Service: "hello", Node: "hello", Image: tag,
		Env:     []string{"NAME=world"},
		Ports:   []docker.PortMapping{{HostIP: "127.0.0.1", Host: port, Container: 8080}},
		Mounts:  []docker.Mount{{Type: "volume", Source: vol, Target: "/data"}},
		Network: net1, Aliases: []string{"hello"},
		Labels: id.Labels("hello", "hello"),
	}
	w.Labels[state.LabelConfigHash] = docker.Hash(w, imageID)
	cid, err := d.Create(ctx, w)
	require.NoError(t, err)
	require.NoError(t, d.Start(ctx, cid))

	o, err := d.Observe(ctx, project)
	require.NoError(t, err)
	require.Len(t, o.Containers, 1)
	c := o.Containers[0]
	require.Equal(t, w.Name, c.Name)
	require.Equal(t, "hello", c.Service)
	require.Equal(t, state.Running, c.State)
	require.Equal(t, w.Labels[state.LabelConfigHash], c.ConfigHash)
	require.Equal(t, []state.Port{{HostIP: "127.0.0.1", Host: port, Container: 8080, Protocol: "tcp"}}, c.Ports)
	require.False(t, c.Started.IsZero())
	require.Equal(t, []string{net1}, []string{o.Networks[0].Name})
	require.Equal(t, "default", o.Networks[0].Key)
	require.Equal(t, vol, o.Volumes[0].Name)

	// the published port answers from the host
	var line string
	require.Eventually(t, func() bool {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err != nil {
			return false
		}
		defer conn.Close()
		line, _ = bufio.NewReader(conn).ReadString('\n')
		return line != ""
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, "hello world\n", line)

	uses, err := d.PortUses(ctx)
	require.NoError(t, err)
	require.Contains(t, uses, docker.PortUse{Port: port, Container: w.Name, Project: project})

	mem, err := d.Memory(ctx, cid)
	require.NoError(t, err)
	require.Greater(t, mem, uint64(0))

	rc, err := d.Logs(ctx, cid, docker.LogOptions{Tail: 10})
	require.NoError(t, err)
	logs, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.Contains(t, string(logs), "hello starting as world\n")
	require.Contains(t, string(logs), "hello on stderr\n")

	start := time.Now()
	require.NoError(t, d.Stop(ctx, cid, 10*time.Second))
	require.Less(t, time.Since(start), 5*time.Second, "SIGTERM stops the workload without waiting for the kill")
	o, err = d.Observe(ctx, project)
	require.NoError(t, err)
	require.Equal(t, state.Exited, o.Containers[0].State)

	require.NoError(t, d.Remove(ctx, cid))
	require.ErrorIs(t, d.Remove(ctx, cid), docker.ErrNotFound)
	require.NoError(t, d.RemoveNetwork(ctx, net1))
	require.NoError(t, d.RemoveVolume(ctx, vol))
	o, err = d.Observe(ctx, project)
	require.NoError(t, err)
	require.True(t, o.Empty(), "%+v", o)
}

func TestIntegrationDockerUnreachable(t *testing.T) {
	dockertest.New(t) // only meaningful where an engine exists to compare with
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	_, err := newDriver(t)
	require.Error(t, err)
	require.Contains(t, err.Error(), "no Docker engine reachable")
	require.Contains(t, err.Error(), "DOCKER_HOST")
}
