package cli

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/stretchr/testify/require"
)

// hostile are values a password or a catalog env entry may hold.
var hostile = []EnvVar{
	{"PLAIN", "postgres://u:p@127.0.0.1:30001/db?sslmode=disable"},
	{"QUOTE", `it's "quoted"`},
	{"DOLLAR", "$HOME ${PATH} $(id) `id`"},
	{"BACKSLASH", `a\b\\c\n`},
	{"NEWLINE", "line1\nline2"},
	{"HASH", "#not a comment ; & | > <"},
	{"EMPTY", ""},
}

// TestShellFormatEvalsInARealShell: eval of the shell format in sh gives
// every value back byte for byte (printenv is the oracle).
func TestShellFormatEvalsInARealShell(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on PATH: the shell format needs a POSIX shell to check against")
	}
	var b bytes.Buffer
	require.NoError(t, WriteEnv(&b, "shell", hostile))
	for _, v := range hostile {
		cmd := exec.Command(sh, "-c", `eval "$NOVADEV_OUT"; printenv `+v.Name)
		cmd.Env = []string{"NOVADEV_OUT=" + b.String(), "PATH=/usr/bin:/bin"}
		out, err := cmd.Output()
		if v.Value == "" {
			require.Equal(t, "\n", string(out), v.Name)
			continue
		}
		require.NoError(t, err, v.Name)
		require.Equal(t, v.Value+"\n", string(out), v.Name)
	}
}

// TestDotenvFormatReadsBack: compose-go's dotenv parser (what docker
// compose reads .env files with) reads every value back unchanged.
func TestDotenvFormatReadsBack(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteEnv(&b, "dotenv", hostile))
	got, err := dotenv.UnmarshalBytesWithLookup(b.Bytes(), func(string) (string, bool) { return "EXPANDED", true })
	require.NoError(t, err, b.String())
	for _, v := range hostile {
		require.Equal(t, v.Value, got[v.Name], v.Name)
	}
}

func TestJSONFormat(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteEnv(&b, "json", hostile))
	var got map[string]string
	require.NoError(t, json.Unmarshal(b.Bytes(), &got))
	require.Len(t, got, len(hostile))
	require.Equal(t, hostile[2].Value, got["DOLLAR"])
	require.Error(t, WriteEnv(&b, "yaml", hostile))
}

func FuzzShellQuote(f *testing.F) {
	f.Add("it's")
	f.Add(`'\''`)
	f.Fuzz(func(t *testing.T, s string) {
		q := ShellQuote(s)
		// inside single quotes nothing is special: the only way out is a '
		// the quoting closed itself, and what follows is \' and a reopening
		body := q[1 : len(q)-1]
		require.Equal(t, s, strings.ReplaceAll(body, `'\''`, "'"))
		require.NotContains(t, strings.ReplaceAll(body, `'\''`, ""), "'")
	})
}

func FuzzDotenvQuote(f *testing.F) {
	for _, v := range hostile {
		f.Add(v.Value)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			t.Skip("values are text")
		}
		got, err := dotenv.UnmarshalBytesWithLookup([]byte("K="+DotenvQuote(s)+"\n"), func(string) (string, bool) { return "X", true })
		require.NoError(t, err)
		require.Equal(t, s, got["K"])
	})
}
