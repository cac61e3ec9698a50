package compose

import (
	"encoding/json"
	"reflect"
	"testing"
)

// toAny turns a node back into what encoding/json would decode.
func toAny(t *testing.T, n node) any {
	switch n.kind {
	case kindObject:
		m := map[string]any{}
		for i, k := range n.keys {
			m[k] = toAny(t, n.vals[i])
		}
		return m
	case kindArray:
		out := []any{}
		for _, v := range n.vals {
			out = append(out, toAny(t, v))
		}
		return out
	case kindString:
		return n.s
	}
	var v any
	if err := json.Unmarshal([]byte(n.s), &v); err != nil {
		t.Fatalf("literal %q: %v", n.s, err)
	}
	return v
}

// FuzzJSONReader: the reader behind Marshal must never panic, and on the
// compact JSON encoding/json writes it must agree with encoding/json.
func FuzzJSONReader(f *testing.F) {
	for _, s := range []string{`{"a":[1,"x\"y",null,true,{"b":{}}],"c":""}`, `[]`, `"\u00e9\n"`, `{"a":`, `[1,]`, `{"a" 1}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := &jsonReader{b: s}
		_, _ = r.value() // arbitrary input: only must not panic
		var v any
		if json.Unmarshal([]byte(s), &v) != nil {
			return
		}
		compact, err := json.Marshal(v) // the form Marshal feeds the reader
		if err != nil {
			return
		}
		r = &jsonReader{b: string(compact)}
		n, err := r.value()
		if err != nil {
			t.Fatalf("valid compact JSON %s: %v", compact, err)
		}
		if got := toAny(t, n); !reflect.DeepEqual(got, v) {
			t.Fatalf("reader disagrees with encoding/json on %s:\n got %#v\nwant %#v", compact, got, v)
		}
	})
}
