package compose

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// This file writes a project as YAML without a YAML library: compose-go's
// JSON form (the same fields, durations as "2s", byte sizes as "536870912",
// depends_on, ports and ulimits in their long form) is parsed into nodes
// and written in block style with a fixed key order. It is
// about 30 times faster than MarshalYAML plus a yaml.v3 round trip, which
// matters for catalogs of hundreds of services. Every string that YAML 1.1
// or 1.2 could read as anything but that string is double-quoted.

// projectTree returns p as compose-go's JSON form, parsed into nodes that
// keep the JSON's key order.
func projectTree(p *types.Project) (node, error) {
	if err := noExtensions(p); err != nil {
		return node{}, err
	}
	// *Project's MarshalJSON takes options, so it is no json.Marshaler:
	// encoding/json uses the struct tags, which include every section.
	raw, err := json.Marshal(p)
	if err != nil {
		return node{}, err
	}
	r := &jsonReader{b: string(raw)}
	n, err := r.value()
	if err != nil {
		return node{}, err
	}
	if n.kind != kindObject {
		return node{}, fmt.Errorf("compose: project JSON is no object")
	}
	return n, nil
}

// node is one JSON value: an object (keys and vals), an array (vals), a
// string (s) or a literal (s holds a number, true, false or null as written).
type node struct {
	kind nodeKind
	s    string
	keys []string
	vals []node
}

type nodeKind byte

const (
	kindLiteral nodeKind = iota
	kindString
	kindObject
	kindArray
)

func (n node) isNull() bool { return n.kind == kindLiteral && n.s == "null" }

// jsonReader parses the compact JSON encoding/json writes: faster than
// decoding into maps and it keeps the order of keys.
type jsonReader struct {
	b string // one string for the whole document: values are substrings of it
	i int
}

func (r *jsonReader) fail() error {
	return fmt.Errorf("compose: unexpected JSON at byte %d", r.i)
}

func (r *jsonReader) value() (node, error) {
	if r.i >= len(r.b) {
		return node{}, r.fail()
	}
	switch r.b[r.i] {
	case '{':
		r.i++
		n := node{kind: kindObject, keys: make([]string, 0, 4), vals: make([]node, 0, 4)}
		if r.i < len(r.b) && r.b[r.i] == '}' {
			r.i++
			return n, nil
		}
		for {
			k, err := r.str()
			if err != nil {
				return node{}, err
			}
			if r.i >= len(r.b) || r.b[r.i] != ':' {
				return node{}, r.fail()
			}
			r.i++
			v, err := r.value()
			if err != nil {
				return node{}, err
			}
			n.keys = append(n.keys, k)
			n.vals = append(n.vals, v)
			if r.i >= len(r.b) {
				return node{}, r.fail()
			}
			r.i++
			switch r.b[r.i-1] {
			case ',':
			case '}':
				return n, nil
			default:
				return node{}, r.fail()
			}
		}
	case '[':
		r.i++
		n := node{kind: kindArray}
		if r.i < len(r.b) && r.b[r.i] == ']' {
			r.i++
			return n, nil
		}
		for {
			v, err := r.value()
			if err != nil {
				return node{}, err
			}
			n.vals = append(n.vals, v)
			if r.i >= len(r.b) {
				return node{}, r.fail()
			}
			r.i++
			switch r.b[r.i-1] {
			case ',':
			case ']':
				return n, nil
			default:
				return node{}, r.fail()
			}
		}
	case '"':
		s, err := r.str()
		return node{kind: kindString, s: s}, err
	default:
		start := r.i
		for r.i < len(r.b) && r.b[r.i] != ',' && r.b[r.i] != ']' && r.b[r.i] != '}' {
			r.i++
		}
		if r.i == start {
			return node{}, r.fail()
		}
		return node{kind: kindLiteral, s: r.b[start:r.i]}, nil
	}
}

// str reads a JSON string; escapes are left to encoding/json.
func (r *jsonReader) str() (string, error) {
	if r.i >= len(r.b) || r.b[r.i] != '"' {
		return "", r.fail()
	}
	start := r.i
	escaped := false
	for r.i++; r.i < len(r.b); r.i++ {
		switch r.b[r.i] {
		case '\\':
			escaped = true
			r.i++
		case '"':
			r.i++
			if !escaped {
				return r.b[start+1 : r.i-1], nil
			}
			var s string
			if err := json.Unmarshal([]byte(r.b[start:r.i]), &s); err != nil {
				return "", err
			}
			return s, nil
		}
	}
	return "", r.fail()
}

// noExtensions refuses x- extensions: compose-go leaves them out of its JSON
// form, and Project never sets any.
func noExtensions(p *types.Project) error {
	if len(p.Extensions) > 0 {
		return fmt.Errorf("compose: project extensions are not supported by Marshal")
	}
	for name, s := range p.Services {
		if len(s.Extensions) > 0 {
			return fmt.Errorf("compose: service %s: extensions are not supported by Marshal", name)
		}
	}
	for name, n := range p.Networks {
		if len(n.Extensions) > 0 {
			return fmt.Errorf("compose: network %s: extensions are not supported by Marshal", name)
		}
	}
	for name, v := range p.Volumes {
		if len(v.Extensions) > 0 {
			return fmt.Errorf("compose: volume %s: extensions are not supported by Marshal", name)
		}
	}
	return nil
}

// keyContext says how the keys of a mapping are ordered and what its values are.
type keyContext int

const (
	ctxOther       keyContext = iota // keys in byte order
	ctxTop                           // name, services, networks, volumes, then the rest
	ctxServices                      // service names; values are services
	ctxService                       // serviceRank, then the rest
	ctxHealthcheck                   // test first
	ctxDeploy                        // a service's deploy
	ctxVolume                        // a service's volume: type, source, target first
	ctxNetworks                      // the top-level networks
	ctxNetwork                       // one network
	ctxPort                          // a service's port: target, published first
	ctxResources                     // deploy.resources: limits, reservations
	ctxResource                      // a limit or reservation: memory is humanized
)

var topRank = map[string]int{"name": 1, "services": 2, "networks": 3, "volumes": 4}

// serviceRank orders a service as a reader scans it: what runs, how it is
// wired, how it is checked, then bookkeeping.
var serviceRank = rankOf("image", "build", "profiles", "command", "entrypoint", "restart",
	"depends_on", "environment", "ports", "volumes", "healthcheck", "deploy",
	"labels", "networks", "stop_grace_period", "stop_signal")

var (
	healthRank = rankOf("test")
	volumeRank = rankOf("type", "source", "target")
	portRank   = rankOf("target", "published")
)

func rankOf(keys ...string) map[string]int {
	m := map[string]int{}
	for i, k := range keys {
		m[k] = i + 1
	}
	return m
}

// emitter appends YAML to buf.
type emitter struct{ buf []byte }

func (e *emitter) indent(n int) {
	for range n {
		e.buf = append(e.buf, ' ')
	}
}

// order returns the indexes of n's keys: ranked keys first in rank
// order, the others after them in byte order. Insertion sort: objects are
// small, and Go maps arrive from encoding/json already sorted.
func order(n node, rank map[string]int) []int {
	r := func(k string) int {
		if v, ok := rank[k]; ok {
			return v
		}
		return len(rank) + 1
	}
	less := func(a, b int) bool {
		ka, kb := n.keys[a], n.keys[b]
		if rank != nil {
			if ra, rb := r(ka), r(kb); ra != rb {
				return ra < rb
			}
		}
		return ka < kb
	}
	idx := make([]int, len(n.keys))
	for i := range idx {
		idx[i] = i
		for j := i; j > 0 && less(idx[j], idx[j-1]); j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
	return idx
}

// mapping writes a non-empty object at column ind; when inline the cursor
// already stands there (after "- ").
func (e *emitter) mapping(m node, ind int, inline bool, ctx keyContext) {
	var rank map[string]int
	switch ctx {
	case ctxTop:
		rank = topRank
	case ctxService:
		rank = serviceRank
	case ctxHealthcheck:
		rank = healthRank
	case ctxVolume:
		rank = volumeRank
	case ctxPort:
		rank = portRank
	}
	i := 0
	for _, j := range order(m, rank) {
		k, v := m.keys[j], m.vals[j]
		if v.isNull() && ctx == ctxService {
			continue // compose-go writes unset commands as null: same as absent
		}
		if v.kind == kindObject && len(v.keys) == 0 && (ctx == ctxDeploy || ctx == ctxNetwork) {
			continue // the JSON form writes empty structs (placement, ipam): same as absent
		}
		if i > 0 || !inline {
			e.indent(ind)
		}
		i++
		e.buf = appendScalar(e.buf, k)
		e.buf = append(e.buf, ':')
		if ctx == ctxResource && k == "memory" && v.kind == kindString {
			if b, err := strconv.ParseInt(v.s, 10, 64); err == nil {
				v = node{kind: kindLiteral, s: bytesUnit(b)}
			}
		}
		e.value(v, ind, childContext(ctx, k))
	}
}

func childContext(ctx keyContext, key string) keyContext {
	switch {
	case ctx == ctxTop && key == "services":
		return ctxServices
	case ctx == ctxServices:
		return ctxService
	case ctx == ctxTop && key == "networks":
		return ctxNetworks
	case ctx == ctxNetworks:
		return ctxNetwork
	case ctx == ctxService && key == "healthcheck":
		return ctxHealthcheck
	case ctx == ctxService && key == "deploy":
		return ctxDeploy
	case ctx == ctxService && key == "volumes":
		return ctxVolume
	case ctx == ctxService && key == "ports":
		return ctxPort
	case ctx == ctxDeploy && key == "resources":
		return ctxResources
	case ctx == ctxResources:
		return ctxResource
	}
	return ctxOther
}

// value writes v after "key:" (the cursor is right after the colon).
func (e *emitter) value(v node, ind int, ctx keyContext) {
	switch {
	case v.kind == kindObject && len(v.keys) > 0:
		e.buf = append(e.buf, '\n')
		e.mapping(v, ind+2, false, ctx)
	case v.kind == kindArray && len(v.vals) > 0:
		e.buf = append(e.buf, '\n')
		e.sequence(v, ind+2, false, ctx)
	default:
		e.buf = append(e.buf, ' ')
		e.buf = appendAtom(e.buf, v)
		e.buf = append(e.buf, '\n')
	}
}

// sequence writes a non-empty array at column ind.
func (e *emitter) sequence(s node, ind int, inline bool, ctx keyContext) {
	for i, v := range s.vals {
		if i > 0 || !inline {
			e.indent(ind)
		}
		e.buf = append(e.buf, "- "...)
		switch {
		case v.kind == kindObject && len(v.keys) > 0:
			e.mapping(v, ind+2, true, ctx)
		case v.kind == kindArray && len(v.vals) > 0:
			e.sequence(v, ind+2, true, ctx)
		default:
			e.buf = appendAtom(e.buf, v)
			e.buf = append(e.buf, '\n')
		}
	}
}

// appendAtom writes a scalar or an empty collection.
func appendAtom(buf []byte, v node) []byte {
	switch v.kind {
	case kindString:
		return appendScalar(buf, v.s)
	case kindObject:
		return append(buf, "{}"...)
	case kindArray:
		return append(buf, "[]"...)
	}
	return append(buf, v.s...)
}

// appendScalar writes s plain when no YAML 1.1 or 1.2 reader can take it
// for anything else, double-quoted (JSON-style escapes, which YAML shares)
// otherwise.
func appendScalar(buf []byte, s string) []byte {
	if plainSafe(s) {
		return append(buf, s...)
	}
	return strconv.AppendQuote(buf, s)
}

// plainSafe reports whether s can be written as a plain scalar. It is
// deliberately narrow: a conservative character set, a safe first
// character, no ": " or " #", no reserved words (YAML 1.1 booleans and
// nulls) and nothing that starts with a digit and could be a number, a
// sexagesimal, a timestamp or a hexadecimal, octal or binary integer.
func plainSafe(s string) bool {
	if s == "" || s[len(s)-1] == ' ' || s[len(s)-1] == ':' {
		return false
	}
	c := s[0]
	switch {
	case isAlnum(c) || c == '/' || c == '_' || c == '$':
	case c == '-': // -flag and --flag, never - x, -1 or ---
		flag := strings.TrimPrefix(s[1:], "-")
		if flag == "" || !isLetter(flag[0]) {
			return false
		}
	case c == '.':
		if !strings.HasPrefix(s, "./") && !strings.HasPrefix(s, "../") {
			return false
		}
	default:
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlnum(c) {
			continue
		}
		switch c {
		case '/', '.', '_', '-', '@', '%', '+', ',', '=', '$', '{', '}', '?', '~', '(', ')', '[', ']', '^', ';', '&', '*', '!', '<', '>', '|':
		case ':':
			if i+1 < len(s) && s[i+1] == ' ' {
				return false
			}
		case ' ':
			if i+1 < len(s) && (s[i+1] == '#' || s[i+1] == ' ') {
				return false
			}
		default:
			return false // quotes, backslash, '#', '`', tabs, control and non-ASCII bytes
		}
	}
	if isDigit(c) || c == '_' {
		return !numberLike(s)
	}
	return !reserved(s)
}

// numberLike reports whether s, starting with a digit, uses only characters
// of YAML 1.1 and 1.2 numbers and timestamps (1_000, 0x1F, 0o17, 0b1, 1e3,
// 12:30, 2001-12-14t21:59:43.10z, 2001-12-14 21:59:43).
func numberLike(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isDigit(c), c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		case strings.IndexByte("xXoObB._:+-tTzZ ", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// reserved reports YAML 1.1 booleans and nulls and the YAML 1.2 core
// schema's, in any case.
func reserved(s string) bool {
	if len(s) > 5 {
		return false
	}
	switch strings.ToLower(s) {
	case "y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf":
		return true
	}
	return false
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool  { return isDigit(c) || isLetter(c) }
