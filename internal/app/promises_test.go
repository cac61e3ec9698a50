package app_test

import (
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/novadev/novadev/internal/app"
	"github.com/novadev/novadev/internal/cli"
)

// An invocation is one `novadev …` the project prints somewhere: in a
// rendered file, a doc, a script or a Go string (an error, a help text).
type invocation struct {
	where string   // file:line
	args  []string // after "novadev", placeholders replaced by placeholder
	prose bool     // found in prose: stop at the first free word
}

// placeholder stands in for <svc>, FILE, svc... in an invocation: any value.
const placeholder = "\x00placeholder"

// pending are verbs the docs may name while another branch builds them:
// verb -> why. A pending verb that exists is checked like any other, and
// the test says to remove the entry. Empty: every verb named exists.
var pending = map[string]string{}

// TestEveryPrintedInvocationExists is issue 12 item 6: every `novadev …`
// the project prints names a verb that exists, flags that verb has, and
// (for verbs with a fixed set of arguments) an argument it accepts; each is
// run with --help appended, which parses every flag.
func TestEveryPrintedInvocationExists(t *testing.T) {
	root := "../.."
	invs := scanInvocations(t, root)
	require.Greater(t, len(invs), 100, "the scan finds the project's invocations")
	tree := cli.NewRoot(cli.Streams{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &bytes.Buffer{}, Getenv: func(string) string { return "" }}, nil)
	usedPending := map[string]bool{}
	checked := map[string]bool{}
	for _, inv := range invs {
		args := trimInvocation(tree, inv)
		if len(args) == 0 {
			continue
		}
		if _, ok := pending[args[0]]; ok && !knownVerbs[args[0]] {
			usedPending[args[0]] = true
			continue
		}
		key := strings.Join(args, " ")
		if checked[key] {
			continue
		}
		checked[key] = true
		if msg := checkInvocation(tree, args); msg != "" {
			t.Errorf("%s: novadev %s: %s", inv.where, show(args), msg)
			continue
		}
		var out, errb bytes.Buffer
		s := cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(string) string { return "" }}
		run := make([]string, 0, len(args)+1)
		for i, a := range args {
			if a == placeholder {
				a = placeholderValue(tree, args, i)
			}
			run = append(run, a)
		}
		code := app.Run(context.Background(), s, append(run, "--help"))
		if code != 0 || !strings.Contains(out.String(), "Usage:") {
			t.Errorf("%s: novadev %s --help: exit %d: %s", inv.where, show(args), code, strings.TrimSpace(errb.String()))
		}
	}
	t.Logf("%d invocations found, %d distinct checked", len(invs), len(checked))
	for verb, why := range pending {
		if knownVerbs[verb] {
			t.Logf("pending verb %q (%s) exists now: its invocations are checked; remove it from pending", verb, why)
		} else if !usedPending[verb] {
			t.Logf("pending verb %q (%s) is no longer named anywhere: remove it from pending", verb, why)
		}
	}
}

// TestInvocationCheckCatchesBrokenOnes proves the check can fail: an unknown
// verb, an unknown flag and an argument outside a verb's set are caught.
func TestInvocationCheckCatchesBrokenOnes(t *testing.T) {
	tree := cli.NewRoot(cli.Streams{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, nil)
	for _, text := range []string{"run `novadev secrets` first", "`novadev bootstrap proto-validate --recrod`", "`novadev render everything`"} {
		invs := invocationsIn("x.md", 1, text, false)
		require.Len(t, invs, 1, text)
		args := trimInvocation(tree, invs[0])
		assert.NotEmpty(t, checkInvocation(tree, args), text)
	}
	for _, text := range []string{"`novadev graph --format dot | dot -Tsvg`", "`novadev logs <svc> -f`", "`novadev up --only svc...`"} {
		invs := invocationsIn("x.md", 1, text, false)
		require.Len(t, invs, 1, text)
		assert.Empty(t, checkInvocation(tree, trimInvocation(tree, invs[0])), text)
	}
	// prose mentions that are not commands are not invocations
	assert.Empty(t, invocationsIn("x.go", 1, "novadev does not run it", true))
	assert.Len(t, invocationsIn("x.go", 1, "run novadev secrets first", true), 1)
}

func show(args []string) string {
	return strings.ReplaceAll(strings.Join(args, " "), placeholder, "<…>")
}

// scanInvocations collects the invocations of the rendered files, docs,
// README, scripts and the Go strings of the module (tests excluded).
func scanInvocations(t *testing.T, root string) []invocation {
	var invs []invocation
	add := func(path string, prose bool) {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		rel, _ := filepath.Rel(root, path)
		switch {
		case strings.HasSuffix(path, ".md"):
			invs = append(invs, markdownInvocations(rel, string(b))...)
		case strings.HasSuffix(path, ".go"):
			invs = append(invs, goInvocations(t, rel, b)...)
		default:
			if strings.HasSuffix(path, ".yaml") {
				invs = append(invs, argvInvocations(rel, b)...)
			}
			for i, line := range strings.Split(string(b), "\n") {
				invs = append(invs, invocationsIn(rel, i+1, line, prose)...)
			}
		}
	}
	walk := func(dir string, keep func(string) bool) {
		require.NoError(t, filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if n := d.Name(); n == "testdata" || n == ".git" || n == "vendor" {
					return filepath.SkipDir
				}
				return nil
			}
			if keep(p) {
				add(p, true)
			}
			return nil
		}))
	}
	walk("compose", func(p string) bool { return strings.HasSuffix(p, ".yaml") })
	walk("kind", func(p string) bool { return strings.HasSuffix(p, ".yaml") })
	add(filepath.Join(root, "Tiltfile"), true)
	add(filepath.Join(root, "README.md"), false)
	mds, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	for _, p := range mds {
		add(p, false)
	}
	walk("scripts", func(p string) bool {
		return !strings.HasSuffix(p, ".go") && !strings.Contains(filepath.Base(p), ".") || strings.HasSuffix(p, ".sh") || strings.HasSuffix(p, ".md")
	})
	for _, dir := range []string{"cmd", "internal"} {
		walk(dir, func(p string) bool { return strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") })
	}
	return invs
}

// markdownInvocations are the invocations in code: fenced blocks and
// inline code spans (prose mentions of novadev are not commands).
func markdownInvocations(where, text string) []invocation {
	var invs []invocation
	fenced := false
	span := regexp.MustCompile("`([^`]+)`")
	for i, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			invs = append(invs, invocationsIn(where, i+1, line, false)...)
			continue
		}
		for _, m := range span.FindAllStringSubmatch(line, -1) {
			invs = append(invs, invocationsIn(where, i+1, m[1], false)...)
		}
	}
	return invs
}

// goInvocations are the invocations in the string literals of a Go file.
func goInvocations(t *testing.T, where string, src []byte) []invocation {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, where, src, 0)
	require.NoError(t, err)
	var invs []invocation
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		s, err := strconv.Unquote(lit.Value)
		if err != nil {
			return true
		}
		line := fset.Position(lit.Pos()).Line
		for i, l := range strings.Split(s, "\n") {
			invs = append(invs, invocationsIn(where, line+i, l, true)...)
		}
		return true
	})
	return invs
}

// argvInvocations are the argument vectors of the containers that run the
// novadev image (compose one-shots, kind Jobs and init containers): the
// command (or args) list of any mapping whose image is novadev/novadev.
func argvInvocations(where string, src []byte) []invocation {
	var invs []invocation
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var n yaml.Node
		if dec.Decode(&n) != nil {
			return invs
		}
		var visit func(*yaml.Node)
		visit = func(n *yaml.Node) {
			if n.Kind == yaml.MappingNode {
				var image string
				var argv *yaml.Node
				for i := 0; i+1 < len(n.Content); i += 2 {
					k, v := n.Content[i].Value, n.Content[i+1]
					switch {
					case k == "image":
						image = v.Value
					case (k == "command" || k == "args") && v.Kind == yaml.SequenceNode:
						if argv == nil || k == "args" {
							argv = v
						}
					}
				}
				if strings.HasPrefix(image, "novadev/novadev") && argv != nil {
					var args []string
					for _, a := range argv.Content {
						if k, v, ok := strings.Cut(a.Value, "="); ok && strings.HasPrefix(k, "--") {
							args = append(args, k, v)
							continue
						}
						args = append(args, a.Value)
					}
					if len(args) > 0 && args[0] == "novadev" {
						args = args[1:]
					}
					invs = append(invs, invocation{where: where + ":" + strconv.Itoa(argv.Line), args: args})
				}
			}
			for _, c := range n.Content {
				visit(c)
			}
		}
		visit(&n)
	}
}

var mention = regexp.MustCompile(`(^|[\s(\x60"'=$]|<\()novadev\s+([^\s]+.*)$`)

// invocationsIn finds `novadev …` in one line. In prose (comments, Go
// strings, scripts) only a mention of a known-looking verb preceded by
// "run"/"runs"/a quote or one whose verb exists counts; see trimInvocation.
func invocationsIn(where string, line int, text string, prose bool) []invocation {
	var invs []invocation
	for {
		loc := mention.FindStringSubmatchIndex(text)
		if loc == nil {
			return invs
		}
		rest := text[loc[4]:]
		before := strings.TrimSpace(text[:loc[2]])
		text = rest
		args := tokenize(rest)
		if len(args) == 0 || !regexp.MustCompile(`^[a-z][a-z-]*$|^-`).MatchString(args[0]) {
			continue
		}
		if prose {
			lastWord := before[strings.LastIndexAny(before, " \t(`\"'")+1:]
			instructed := lastWord == "run" || lastWord == "Run" || lastWord == "runs"
			if !instructed && !knownVerbs[args[0]] && pending[args[0]] == "" {
				continue // "novadev does not run it": prose, not a command
			}
		}
		invs = append(invs, invocation{where: where + ":" + strconv.Itoa(line), args: args, prose: prose})
	}
}

// knownVerbs are the verbs of the command tree, for telling prose from
// invocations; filled from the tree once.
var knownVerbs = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range cli.NewRoot(cli.Streams{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, nil).Commands() {
		m[c.Name()] = true
		for _, a := range c.Aliases {
			m[a] = true
		}
	}
	m["help"] = true
	return m
}()

// tokenize splits an invocation at shell separators and replaces
// placeholders (<svc>, FILE, svc..., a|b alternatives: the first).
func tokenize(s string) []string {
	var out []string
	for _, f := range strings.Fields(s) {
		if f == "|" || f == "&&" || f == "||" || f == ";" || f == "#" || f == ">" || strings.HasPrefix(f, "#") || f == "\\" {
			break
		}
		end := false
		if strings.ContainsAny(f, "`)\"';") {
			f = strings.TrimRight(f, "`)\"';,.")
			if i := strings.IndexAny(f, "`)\"';"); i >= 0 {
				f = f[:i]
			}
			end = true
		}
		if strings.HasSuffix(f, ",") || strings.HasSuffix(f, ".") && !strings.Contains(f, "/") {
			f, end = strings.TrimRight(f, ",."), true
		}
		f = strings.Trim(f, "[]")
		if strings.Contains(f, "|") && !strings.Contains(f, "://") {
			f = f[:strings.Index(f, "|")]
		}
		if k, _, ok := strings.Cut(f, "="); ok && strings.HasPrefix(f, "--") {
			f = k // --flag=VALUE: the flag is what is checked
			if f != "" {
				out = append(out, f, placeholder)
			}
		} else if f != "" {
			if isPlaceholder(f) {
				f = placeholder
			}
			out = append(out, f)
		}
		if end {
			break
		}
	}
	return out
}

func isPlaceholder(f string) bool {
	return strings.ContainsAny(f, "<>$…{}") || strings.HasSuffix(f, "...") ||
		(strings.ToUpper(f) == f && strings.ToLower(f) != f) || f == "svc" || f == "node" || f == "step"
}

// trimInvocation keeps the verb chain, the flags with their values and the
// arguments: in prose only up to the first free word after the verb (and
// its one fixed argument, when it has a set of them). Flags may precede the
// verb (novadev --env ci verify).
func trimInvocation(root *cobra.Command, inv invocation) []string {
	args := inv.args
	cmd := root
	var out []string
	positional := 0
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break // the rest is the verb's command (exec): not novadev's to parse
		}
		if strings.HasPrefix(a, "-") && a != "-" {
			out = append(out, a)
			name := strings.TrimLeft(a, "-")
			if takes, found := flagValue(cmd, name, strings.HasPrefix(a, "--")); found && takes {
				if i+1 < len(args) {
					i++
					out = append(out, args[i])
				} else {
					out = append(out, placeholder) // "use --only": any value
				}
			}
			continue
		}
		if positional == 0 {
			if sub := findSub(cmd, a); sub != nil {
				cmd = sub
				out = append(out, a)
				continue
			}
			if cmd == root {
				return append(out, a) // an unknown verb: reported by checkInvocation
			}
		}
		positional++
		if inv.prose && (positional > 1 || !validArg(cmd, a)) {
			break // prose goes on: "novadev render from envs/"
		}
		out = append(out, a)
	}
	return out
}

func findSub(cmd *cobra.Command, name string) *cobra.Command {
	for _, c := range cmd.Commands() {
		if c.Name() == name || c.HasAlias(name) {
			return c
		}
	}
	return nil
}

// checkInvocation says what is wrong with an invocation: an unknown verb,
// an unknown flag, or an argument outside the verb's set; "" when none.
func checkInvocation(root *cobra.Command, args []string) string {
	cmd := root
	positional := 0
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") && a != "-" {
			long := strings.HasPrefix(a, "--")
			takes, found := flagValue(cmd, strings.TrimLeft(a, "-"), long)
			if !found {
				return "unknown flag " + a
			}
			if takes {
				i++ // the flag's value
			}
			continue
		}
		if positional == 0 {
			if sub := findSub(cmd, a); sub != nil {
				cmd = sub
				continue
			}
			if cmd == root && a != "help" {
				return "unknown verb " + strconv.Quote(a)
			}
		}
		positional++
		if positional == 1 && len(cmd.ValidArgs) > 0 && a != placeholder && !validArg(cmd, a) {
			return "argument " + strconv.Quote(a) + " is not one of " + strings.Join(cmd.ValidArgs, ", ")
		}
	}
	return ""
}

// validArg says a is one of cmd's fixed arguments.
func validArg(cmd *cobra.Command, a string) bool {
	for _, v := range cmd.ValidArgs {
		if strings.SplitN(v, "\t", 2)[0] == a {
			return true
		}
	}
	return false
}

// flagValue finds a flag of cmd (its own or inherited; --help and -h
// always exist) and says whether it takes a value.
func flagValue(cmd *cobra.Command, name string, long bool) (takes, found bool) {
	if name == "help" || name == "h" {
		return false, true
	}
	for _, fs := range []interface {
		Lookup(string) *pflag.Flag
		ShorthandLookup(string) *pflag.Flag
	}{cmd.Flags(), cmd.InheritedFlags()} {
		var f *pflag.Flag
		if long {
			f = fs.Lookup(name)
		} else if name != "" {
			f = fs.ShorthandLookup(name[:1])
			if f != nil && len(name) > 1 {
				return false, true // -fvalue or -abc: the value is attached
			}
		}
		if f != nil {
			return f.NoOptDefVal == "", true
		}
	}
	return false, false
}

// placeholderValue is a value that parses where args[i] is a placeholder:
// one of the type of the flag before it (a duration, a number), else "x".
func placeholderValue(root *cobra.Command, args []string, i int) string {
	if i == 0 || !strings.HasPrefix(args[i-1], "-") {
		return "x"
	}
	cmd, _, err := root.Find(args[:i-1])
	if err != nil {
		cmd = root
	}
	name := strings.TrimLeft(args[i-1], "-")
	f := cmd.Flags().Lookup(name)
	if f == nil {
		f = cmd.InheritedFlags().Lookup(name)
	}
	if f == nil && len(name) == 1 {
		f = cmd.Flags().ShorthandLookup(name)
	}
	if f == nil {
		return "x"
	}
	switch f.Value.Type() {
	case "duration":
		return "1s"
	case "int", "int64", "uint", "float64", "count":
		return "1"
	}
	return "x"
}
