package bootstrap

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// PostgreSQL's defaults for SCRAM-SHA-256 (scram_iterations, salt length).
const (
	scramIterations = 4096
	scramSaltLen    = 16
)

// checkScramPassword refuses passwords this package cannot hash exactly as
// PostgreSQL does. PostgreSQL applies SASLprep (RFC 4013) to a password
// before hashing it, which leaves printable ASCII unchanged; anything else
// would need the full stringprep tables, so it is refused rather than
// hashed into a verifier no client could log in with.
func checkScramPassword(pw string) error {
	for i := 0; i < len(pw); i++ {
		if pw[i] < 0x20 || pw[i] > 0x7e {
			return errors.New("holds a character outside printable ASCII (PostgreSQL would SASLprep it; use an ASCII password)")
		}
	}
	return nil
}

// scramKeys derives RFC 5802's StoredKey and ServerKey with SHA-256
// (RFC 7677): SaltedPassword = PBKDF2(password, salt, iter),
// StoredKey = H(HMAC(SaltedPassword, "Client Key")),
// ServerKey = HMAC(SaltedPassword, "Server Key").
func scramKeys(password string, salt []byte, iter int) (stored, server []byte, err error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iter, sha256.Size)
	if err != nil {
		return nil, nil, err
	}
	sk := sha256.Sum256(hmacSHA256(salted, "Client Key"))
	return sk[:], hmacSHA256(salted, "Server Key"), nil
}

// scramVerifier returns the verifier PostgreSQL stores in
// pg_authid.rolpassword for password:
// "SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>", base64 each.
// Handed to CREATE/ALTER ROLE … PASSWORD, the server stores it as it is, so
// the password itself never travels to the server or into its log.
func scramVerifier(password string, salt []byte, iter int) (string, error) {
	stored, server, err := scramKeys(password, salt, iter)
	if err != nil {
		return "", err
	}
	enc := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iter, enc(salt), enc(stored), enc(server)), nil
}

// newScramVerifier is scramVerifier with a fresh random salt and
// PostgreSQL's default iteration count.
func newScramVerifier(password string) string {
	salt := make([]byte, scramSaltLen)
	rand.Read(salt) // never fails (crypto/rand)
	v, err := scramVerifier(password, salt, scramIterations)
	if err != nil {
		panic(err) // only for iter <= 0 or a bad key length, both constants here
	}
	return v
}

// scramMatches reports whether password matches a PostgreSQL SCRAM-SHA-256
// verifier, by recomputing the keys with the verifier's own salt and
// iteration count: an unchanged password is then not rewritten (and its
// verifier not re-salted) on every run.
func scramMatches(verifier, password string) bool {
	rest, ok := strings.CutPrefix(verifier, "SCRAM-SHA-256$")
	if !ok {
		return false
	}
	params, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return false
	}
	iterS, saltS, ok1 := strings.Cut(params, ":")
	storedS, serverS, ok2 := strings.Cut(keys, ":")
	if !ok1 || !ok2 {
		return false
	}
	iter, err1 := strconv.Atoi(iterS)
	salt, err2 := base64.StdEncoding.DecodeString(saltS)
	stored, err3 := base64.StdEncoding.DecodeString(storedS)
	server, err4 := base64.StdEncoding.DecodeString(serverS)
	if err := errors.Join(err1, err2, err3, err4); err != nil || iter <= 0 {
		return false
	}
	wantStored, wantServer, err := scramKeys(password, salt, iter)
	if err != nil {
		return false
	}
	return hmac.Equal(wantStored, stored) && hmac.Equal(wantServer, server)
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
