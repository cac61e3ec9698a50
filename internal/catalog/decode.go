package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// Node records where a decoded object and each of its keys stood in the
// file. Catalog structs embed it so that validation can point at the exact
// field it complains about.
type Node struct {
	At   Pos            `yaml:"-" json:"-"`
	Keys map[string]Pos `yaml:"-" json:"-"`
}

// PosOf returns the position of key in this object, or of the object itself
// when the key was not written.
func (n Node) PosOf(key string) Pos {
	if p, ok := n.Keys[key]; ok {
		return p
	}
	return n.At
}

// Name is a string with the position it was written at: references to
// services, stores and topics, so that an unknown one can be pointed at.
type Name struct {
	Value string
	At    Pos
}

func (n Name) String() string { return n.Value }

// MarshalYAML writes a Name as its plain value.
func (n Name) MarshalYAML() (any, error) { return n.Value, nil }

// MarshalJSON writes a Name as its plain value.
func (n Name) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(n.Value)), nil }

// Duration is a time.Duration written as "30s", "168h" or "7d".
type Duration struct{ time.Duration }

// ParseDuration accepts Go durations plus a "d" (day) suffix.
func ParseDuration(s string) (time.Duration, error) {
	if strings.HasSuffix(s, "d") {
		n, err := strconv.ParseFloat(strings.TrimSuffix(s, "d"), 64)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(n * 24 * float64(time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use e.g. 500ms, 30s, 2h, 7d)", s)
	}
	return d, nil
}

// MarshalYAML writes a Duration in Go's notation.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

var (
	nodeType     = reflect.TypeOf(Node{})
	nameType     = reflect.TypeOf(Name{})
	durationType = reflect.TypeOf(Duration{})
)

// decoder turns a YAML node tree into Go values strictly: unknown fields,
// wrong types and duplicate keys are all recorded as problems, and decoding
// goes on so that one run reports everything.
type decoder struct {
	ctx  context.Context
	file string
	p    *problems
	// budget is how many more nodes may be visited through aliases: YAML
	// aliases share one node many times, so a 13 KB file can stand for
	// billions of nodes (the "billion laughs"). Counting visits, not
	// nodes, refuses that at the alias that crosses the line.
	budget int
	// alias is the outermost alias being expanded (nil outside any).
	alias   *yaml.Node
	visits  int
	stopped bool
}

// aliasBudget is how many nodes a document may visit through aliases: the
// document's own size in nodes plus a fixed allowance, so ordinary reuse
// (an anchor of resources shared by 15 services) is never refused while an
// exponential expansion is refused after a few hundred thousand nodes.
func aliasBudget(root *yaml.Node) int { return 100_000 + 4*countNodes(root, 0) }

func countNodes(n *yaml.Node, depth int) int {
	if n == nil || depth > 10_000 {
		return 0
	}
	c := 1
	for _, k := range n.Content {
		c += countNodes(k, depth+1)
	}
	return c
}

func newDecoder(ctx context.Context, file string, p *problems, root *yaml.Node) *decoder {
	return &decoder{ctx: ctx, file: file, p: p, budget: aliasBudget(root)}
}

// visit accounts for one node; false means decoding has stopped (the alias
// budget is spent or the context is done).
func (d *decoder) visit(n *yaml.Node) bool {
	if d.stopped {
		return false
	}
	d.visits++
	if d.visits%4096 == 0 && d.ctx != nil && d.ctx.Err() != nil {
		d.stopped = true
		return false
	}
	if d.alias != nil {
		d.budget--
		if d.budget < 0 {
			d.stopped = true
			d.p.add(d.pos(d.alias), "", "write the repeated part out, or nest fewer aliases",
				"alias *%s expands to too many nodes (more than the file's size allows): refusing an alias bomb", d.alias.Value)
			return false
		}
	}
	return true
}

func (d *decoder) pos(n *yaml.Node) Pos { return Pos{File: d.file, Line: n.Line, Col: n.Column} }

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean"
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		}
		return fmt.Sprintf("the string %q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if !d.visit(n) {
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			d.p.add(d.pos(n), path, "", "unresolved alias")
			return
		}
		if d.alias == nil {
			d.alias = n
			defer func() { d.alias = nil }()
		}
		n = n.Alias
	}
	isStruct := v.Kind() == reflect.Struct || (v.Kind() == reflect.Pointer && v.Type().Elem().Kind() == reflect.Struct && v.Type().Elem() != nameType && v.Type().Elem() != durationType)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" && !isStruct {
		return // an explicit null leaves the zero value
	}
	switch v.Type() {
	case nameType:
		if n.Kind != yaml.ScalarNode || n.Tag == "!!null" || n.Tag == "!!bool" {
			d.p.add(d.pos(n), path, "", "expected a name, got %s", kindName(n))
			return
		}
		v.Set(reflect.ValueOf(Name{Value: n.Value, At: d.pos(n)}))
		return
	case durationType:
		if n.Kind != yaml.ScalarNode {
			d.p.add(d.pos(n), path, "", "expected a duration like 30s, got %s", kindName(n))
			return
		}
		dur, err := ParseDuration(n.Value)
		if err != nil {
			d.p.add(d.pos(n), path, "", "%v", err)
			return
		}
		v.Set(reflect.ValueOf(Duration{dur}))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.p.add(d.pos(n), path, "", "expected a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), 0, len(n.Content))
		for i, c := range n.Content {
			if isNull(c) {
				// reported here, once, at the item itself; dropped so that
				// validation and renderers never meet a nil item
				d.p.add(d.pos(c), fmt.Sprintf("%s[%d]", path, i), "remove the empty item (a lone '-')", "empty list item")
				continue
			}
			e := reflect.New(v.Type().Elem()).Elem()
			d.decode(c, e, fmt.Sprintf("%s[%d]", path, i))
			s = reflect.Append(s, e)
			if d.stopped {
				break
			}
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.Tag == "!!bool" {
			d.p.add(d.pos(n), path, quoteHint(n), "expected a string, got %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Int, reflect.Int32, reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			d.p.add(d.pos(n), path, "", "expected an integer, got %s", kindName(n))
			return
		}
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil || v.OverflowInt(i) {
			d.p.add(d.pos(n), path, "", "integer %s out of range", n.Value)
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!float" && n.Tag != "!!int") {
			d.p.add(d.pos(n), path, "", "expected a number, got %s", kindName(n))
			return
		}
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			d.p.add(d.pos(n), path, "", "invalid number %q", n.Value)
			return
		}
		v.SetFloat(f)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.p.add(d.pos(n), path, "", "expected true or false, got %s", kindName(n))
			return
		}
		v.SetBool(n.Value == "true" || n.Value == "True" || n.Value == "TRUE")
	default:
		panic(fmt.Sprintf("catalog: decoder has no case for %s", v.Type()))
	}
}

// isNull reports an explicit null (or an alias of one).
func isNull(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func quoteHint(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		return fmt.Sprintf("quote it (\"%s\") if you mean the string", n.Value)
	}
	return ""
}

type fieldInfo struct {
	index []int
	name  string
}

type structInfo struct {
	fields  map[string]fieldInfo
	names   []string
	nodeIdx int
}

var structCache sync.Map // reflect.Type -> *structInfo

func structFields(t reflect.Type) (map[string]fieldInfo, []string, int) {
	if si, ok := structCache.Load(t); ok {
		s := si.(*structInfo)
		return s.fields, s.names, s.nodeIdx
	}
	fields, names, idx := computeStructFields(t)
	structCache.Store(t, &structInfo{fields, names, idx})
	return fields, names, idx
}

func computeStructFields(t reflect.Type) (map[string]fieldInfo, []string, int) {
	fields := map[string]fieldInfo{}
	var names []string
	nodeIdx := -1
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Type == nodeType && f.Anonymous {
			nodeIdx = i
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = strings.ToLower(f.Name[:1]) + f.Name[1:]
		}
		fields[name] = fieldInfo{index: f.Index, name: name}
		names = append(names, name)
	}
	sort.Strings(names)
	return fields, names, nodeIdx
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	fields, names, nodeIdx := structFields(v.Type())
	if nodeIdx >= 0 {
		v.Field(nodeIdx).Set(reflect.ValueOf(Node{At: d.pos(n), Keys: map[string]Pos{}}))
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.p.add(d.pos(n), path, "", "expected a mapping, got %s", kindName(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			d.p.add(d.pos(k), path, "write the fields out", "merge keys (<<) are not supported")
			continue
		}
		key := k.Value
		if seen[key] {
			d.p.add(d.pos(k), join(path, key), "", "duplicate key %q", key)
			continue
		}
		seen[key] = true
		f, ok := fields[key]
		if !ok {
			d.p.add(d.pos(k), join(path, key), suggest(key, names), "unknown field %q", key)
			continue
		}
		if nodeIdx >= 0 {
			v.Field(nodeIdx).Interface().(Node).Keys[key] = d.pos(k)
		}
		d.decode(val, v.FieldByIndex(f.index), join(path, key))
		if d.stopped {
			return
		}
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.p.add(d.pos(n), path, "", "expected a mapping, got %s", kindName(n))
		return
	}
	if v.Type().Key().Kind() != reflect.String {
		panic("catalog: map keys must be strings")
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.p.add(d.pos(k), path, "", "expected a name as key, got %s", kindName(k))
			continue
		}
		key := reflect.ValueOf(k.Value).Convert(v.Type().Key())
		if v.MapIndex(key).IsValid() {
			d.p.add(d.pos(k), join(path, k.Value), "", "duplicate key %q", k.Value)
			continue
		}
		e := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, e, join(path, k.Value))
		setAt(e, d.pos(k)) // a named object is where its name is written
		v.SetMapIndex(key, e)
		if d.stopped {
			return
		}
	}
}

// parse reads YAML bytes into a node tree; a syntax error becomes a Problem
// with the line YAML reported.
func parse(file string, data []byte) (*yaml.Node, *Problem) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	err := dec.Decode(&root)
	if errors.Is(err, io.EOF) {
		return nil, &Problem{Pos: Pos{File: file}, Msg: "file is empty"}
	}
	if err == nil {
		// a second document would be ignored silently: refuse it
		var next yaml.Node
		switch err2 := dec.Decode(&next); {
		case err2 == nil:
			at := Pos{File: file, Line: next.Line, Col: next.Column}
			if len(next.Content) > 0 {
				at.Line, at.Col = next.Content[0].Line, next.Content[0].Column
			}
			return nil, &Problem{Pos: at, Msg: "a second YAML document: a catalog or environment file holds one", Hint: "remove the '---' line, or move the document into a file of its own"}
		case !errors.Is(err2, io.EOF):
			err = err2
		}
	}
	if err != nil {
		msg := err.Error()
		line := 0
		// yaml.v3 reports "yaml: line N: ..." for syntax errors
		if rest, ok := strings.CutPrefix(msg, "yaml: line "); ok {
			if num, tail, ok := strings.Cut(rest, ":"); ok {
				if l, err := strconv.Atoi(num); err == nil {
					line, msg = l, strings.TrimSpace(tail)
				}
			}
		}
		msg = strings.TrimPrefix(msg, "yaml: ")
		return nil, &Problem{Pos: Pos{File: file, Line: line}, Msg: "invalid YAML: " + msg}
	}
	if len(root.Content) == 0 {
		return nil, &Problem{Pos: Pos{File: file}, Msg: "file is empty"}
	}
	return &root, nil
}

// setAt points an object decoded under a map key at the key.
func setAt(v reflect.Value, at Pos) {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return
	}
	for i := 0; i < v.NumField(); i++ {
		if f := v.Type().Field(i); f.Anonymous && f.Type == nodeType {
			n := v.Field(i).Addr().Interface().(*Node)
			n.At = at
			return
		}
	}
}
