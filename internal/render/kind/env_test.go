package kind

import (
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/novadev/novadev/internal/contract"
)

// TestEnvVars: a credential held whole becomes a Secret keyRef, one inside
// a value a $(VAR) reference to its holder, literal $ is escaped for the
// kubelet, and a credential with no holder before it is an error that names
// the variable (the kubelet would leave $(VAR) unexpanded).
func TestEnvVars(t *testing.T) {
	pw := contract.Password("NOVA_X_PASSWORD")
	got, err := envVars(contract.Env{
		{Name: "NOVA_X_PASSWORD", Value: contract.Ref(pw)},
		{Name: "DATABASE_URL", Value: contract.Concat("postgres://x:", pw, "@db:5432/x")},
		{Name: "PRICE", Value: contract.Text("$(HOME) costs $1")},
	})
	require.NoError(t, err)
	require.Equal(t, []corev1.EnvVar{
		{Name: "NOVA_X_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: contract.CredentialsSecret}, Key: "NOVA_X_PASSWORD"}}},
		{Name: "DATABASE_URL", Value: "postgres://x:$(NOVA_X_PASSWORD)@db:5432/x"},
		{Name: "PRICE", Value: "$$(HOME) costs $$1"},
	}, got)

	_, err = envVars(contract.Env{{Name: "DATABASE_URL", Value: contract.Concat("postgres://x:", pw, "@db")}})
	require.ErrorContains(t, err, "DATABASE_URL embeds the credential nova-db-credentials/NOVA_X_PASSWORD, but no variable before it holds it")
}
