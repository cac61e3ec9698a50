package bootstrap

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestScramVerifierRFC7677 checks the verifier against RFC 7677's example
// exchange (user "user", password "pencil"): a server holding only the
// verifier accepts the RFC's client proof and answers the RFC's server
// signature, as PostgreSQL does with pg_authid.rolpassword.
func TestScramVerifierRFC7677(t *testing.T) {
	salt, err := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	require.NoError(t, err)
	v, err := scramVerifier("pencil", salt, 4096)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(v, "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"), v)
	keys := strings.Split(strings.SplitN(v, "$", 3)[2], ":")
	stored, err := base64.StdEncoding.DecodeString(keys[0])
	require.NoError(t, err)
	server, err := base64.StdEncoding.DecodeString(keys[1])
	require.NoError(t, err)

	const nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	authMessage := "n=user,r=rOprNGfwEbeRWgbNEkqO," + "r=" + nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096," + "c=biws,r=" + nonce
	proof, err := base64.StdEncoding.DecodeString("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
	require.NoError(t, err)
	// the server's check: ClientKey = proof XOR HMAC(StoredKey, AuthMessage); H(ClientKey) = StoredKey
	sig := hmacSHA256(stored, authMessage)
	clientKey := make([]byte, len(proof))
	for i := range proof {
		clientKey[i] = proof[i] ^ sig[i]
	}
	h := sha256.Sum256(clientKey)
	require.True(t, hmac.Equal(h[:], stored), "the RFC's client proof is accepted")
	require.Equal(t, "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", base64.StdEncoding.EncodeToString(hmacSHA256(server, authMessage)),
		"the server signature is the RFC's")
	require.True(t, scramMatches(v, "pencil"))
}

func TestScramMatches(t *testing.T) {
	// computed independently (Python hashlib)
	const verifier = "SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$S9YxkjfxnsMi1Bpgjsqz4mKwjWqDBp3G64qVI5SIQlM=:TykcoKL/E3wDHKYyCsdDmhCr39V0PjTs8LYl0z0t3xs="
	require.True(t, scramMatches(verifier, "s3cret-pw"))
	require.False(t, scramMatches(verifier, "s3cret-pW"))
	require.False(t, scramMatches("", "s3cret-pw"))
	require.False(t, scramMatches("md5abcdef", "s3cret-pw"))
	require.False(t, scramMatches("SCRAM-SHA-256$x:MDEy$a:b", "s3cret-pw"))
	v, err := scramVerifier("s3cret-pw", []byte("0123456789abcdef"), 4096)
	require.NoError(t, err)
	require.Equal(t, verifier, v, "same salt and iterations: the same verifier as Python's")

	a, b := newScramVerifier("pw"), newScramVerifier("pw")
	require.NotEqual(t, a, b, "a fresh salt each time")
	require.True(t, scramMatches(a, "pw"))
	require.True(t, scramMatches(b, "pw"))
}

func TestCheckScramPassword(t *testing.T) {
	require.NoError(t, checkScramPassword("Az09-_.~!@#$%^&*() '\"`"))
	require.ErrorContains(t, checkScramPassword("pässword"), "outside printable ASCII")
	require.Error(t, checkScramPassword("tab\there"))
}

// FuzzScramMatches: never panics on any stored value; a verifier made for
// a password matches that password only.
func FuzzScramMatches(f *testing.F) {
	f.Add("SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$S9YxkjfxnsMi1Bpgjsqz4mKwjWqDBp3G64qVI5SIQlM=:TykcoKL/E3wDHKYyCsdDmhCr39V0PjTs8LYl0z0t3xs=", "s3cret-pw")
	f.Add("SCRAM-SHA-256$0:$:", "")
	f.Add("md5", "x")
	f.Fuzz(func(t *testing.T, stored, pw string) {
		scramMatches(stored, pw)
		if len(pw) > 64 {
			return
		}
		v, err := scramVerifier(pw, []byte("salt"), 2)
		if err != nil {
			t.Fatal(err)
		}
		if !scramMatches(v, pw) || scramMatches(v, pw+"x") {
			t.Fatalf("%q: verifier %q does not round-trip", pw, v)
		}
	})
}
