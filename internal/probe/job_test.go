package probe

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type fakeJobs struct {
	items    []batchv1.Job
	selector string
}

func (f *fakeJobs) List(_ context.Context, o metav1.ListOptions) (*batchv1.JobList, error) {
	f.selector = o.LabelSelector
	return &batchv1.JobList{Items: f.items}, nil
}

func job(name string, conds ...batchv1.JobConditionType) batchv1.Job {
	j := batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, c := range conds {
		j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: c, Status: corev1.ConditionTrue, Message: "BackoffLimitExceeded"})
	}
	return j
}

func TestJobCheck(t *testing.T) {
	f := &fakeJobs{}
	c := jobCheck{name: "migrations", jobs: func() (jobLister, error) { return f, nil }}
	done, err := c.Check(context.Background())
	assert.False(t, done)
	require.ErrorContains(t, err, "no Job labelled novadev.io/bootstrap=migrations")
	assert.Equal(t, "novadev.io/bootstrap=migrations", f.selector, "found by label, so overlay name suffixes do not matter")

	f.items = []batchv1.Job{job("migrations-pr")}
	done, err = c.Check(context.Background())
	assert.False(t, done)
	require.ErrorContains(t, err, "migrations-pr has not completed yet")

	f.items = []batchv1.Job{job("migrations-pr", batchv1.JobFailed)}
	done, err = c.Check(context.Background())
	assert.False(t, done)
	require.ErrorContains(t, err, "Job migrations-pr failed: BackoffLimitExceeded (see kubectl logs job/migrations-pr)")

	f.items = []batchv1.Job{job("migrations-pr", batchv1.JobComplete)}
	done, err = c.Check(context.Background())
	assert.True(t, done)
	assert.NoError(t, err)
}

func TestParseTarget(t *testing.T) {
	c, err := ParseTarget("job://postgres-init")
	require.NoError(t, err)
	assert.Equal(t, "postgres-init", c.(jobCheck).name)
	c, err = ParseTarget("grpc://user-service:50051")
	require.NoError(t, err)
	assert.Equal(t, "user-service:50051", c.String()[len(c.String())-len("user-service:50051"):])
	_, err = ParseTarget("tcp://postgres")
	require.ErrorContains(t, err, "needs a port")
}
