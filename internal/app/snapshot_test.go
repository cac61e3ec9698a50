package app_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// Usage errors of the snapshot verbs and of up --from-snapshot are exit 2
// with what to do, before anything changes; a backend that cannot copy
// stores (this fake, like a future kind backend) says where snapshots work.
func TestSnapshotUsageErrors(t *testing.T) {
	f := newFakeApp(t)
	ctx := context.Background()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"snapshot", "save", "Not_A_Label"}, `snapshot name "Not_A_Label" is not a DNS-1123 label`},
		{[]string{"snapshot", "rm", "x-"}, "is not a DNS-1123 label"},
		{[]string{"snapshot", "save"}, "accepts 1 arg(s)"},
		{[]string{"snapshot"}, "snapshot needs a subcommand: save NAME, list or rm NAME"},
		{[]string{"up", "--from-snapshot", "Bad"}, `snapshot name "Bad" is not a DNS-1123 label`},
		{[]string{"snapshot", "list"}, "snapshots are not available on --target docker"},
		{[]string{"up", "--from-snapshot", "base"}, "they work on --target docker"},
	} {
		r := f.run(ctx, tc.args...)
		require.Equal(t, 2, r.code, "%v: %s%s", tc.args, r.out, r.err)
		require.Contains(t, r.err, tc.want, tc.args)
	}
	require.Empty(t, f.be.Calls(), "nothing was applied, recorded or removed")
}
