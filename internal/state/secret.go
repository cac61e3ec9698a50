package state

import (
	"crypto/sha256"
	"encoding/hex"
)

// Password returns the secret stored in variable for this environment:
// getenv(variable) when set, otherwise a value derived from the project
// name and the variable. Deriving keeps a local stack's passwords stable
// across runs (its volumes outlive containers) without a secrets file; set
// the variables to choose real secrets.
func Password(getenv func(string) string, project, variable string) string {
	if getenv != nil {
		if v := getenv(variable); v != "" {
			return v
		}
	}
	sum := sha256.Sum256([]byte("novadev/" + project + "/" + variable))
	return hex.EncodeToString(sum[:12])
}
