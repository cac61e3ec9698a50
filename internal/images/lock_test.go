package images_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/novadev/novadev/internal/images"
)

const dg = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestLockRoundTrip(t *testing.T) {
	l := images.Lock{"docker.io/library/postgres:15": dg, "docker.io/apache/kafka:3.7.0": dg}
	got, err := images.Parse("images.lock", l.Format())
	require.NoError(t, err)
	assert.Equal(t, l, got)
	assert.True(t, strings.HasPrefix(string(l.Format()), "# The digest of each upstream image"))
	assert.Contains(t, string(l.Format()), "docker.io/apache/kafka:3.7.0 "+dg+"\ndocker.io/library/postgres:15 "+dg+"\n", "sorted")
}

func TestLockProblems(t *testing.T) {
	_, err := images.Parse("envs/images.lock", []byte("# c\n\npostgres:15 "+dg+"\ndocker.io/library/redis:7.0\ndocker.io/library/redis:7.0 sha256:XYZ\ndocker.io/library/a:1 "+dg+"\ndocker.io/library/a:1 "+dg+"\n"))
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		`envs/images.lock:3: image "postgres:15": write it in full, "docker.io/library/postgres:15"`,
		`envs/images.lock:4: want "<image> sha256:<digest>", got 1 fields`,
		`envs/images.lock:5: digest "sha256:XYZ"`,
		`envs/images.lock:7: docker.io/library/a:1 is listed twice`,
		"novadev pull --update-lock",
	} {
		assert.Contains(t, msg, want)
	}
}

func TestCanonicalAndPin(t *testing.T) {
	c, err := images.Canonical("clickhouse/clickhouse-server:23.8")
	require.NoError(t, err)
	assert.Equal(t, "docker.io/clickhouse/clickhouse-server:23.8", c)
	_, err = images.Canonical("postgres")
	assert.ErrorContains(t, err, "no tag")
	p, err := images.Pin("127.0.0.1:5205/library/postgres:15", dg)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:5205/library/postgres:15@"+dg, p)
	p, err = images.Pin("postgres:15", dg)
	require.NoError(t, err)
	assert.Equal(t, "postgres:15@"+dg, p)
}

// FuzzParseLock: any input parses or fails with a message; what parses
// writes back to the same lock.
func FuzzParseLock(f *testing.F) {
	f.Add("docker.io/library/postgres:15 " + dg + "\n")
	f.Add("# x\n\n a b c\n")
	f.Add("postgres:15 " + dg)
	f.Fuzz(func(t *testing.T, s string) {
		l, err := images.Parse("f", []byte(s))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		back, err := images.Parse("f", l.Format())
		if err != nil {
			t.Fatalf("formatted lock does not parse: %v", err)
		}
		if len(back) != len(l) {
			t.Fatalf("round trip: %v != %v", back, l)
		}
		for k, v := range l {
			if back[k] != v {
				t.Fatalf("round trip: %s", k)
			}
		}
	})
}
