package placeholder

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzGatewayRequest feeds arbitrary request bodies to the gateway (schema
// of every Nova service, no upstreams): it never panics, and every answer
// is JSON: a GraphQL result (200) or a request error (400).
func FuzzGatewayRequest(f *testing.F) {
	p, err := LoadProtos(context.Background(), novaProtos, nil)
	if err != nil {
		f.Fatal(err)
	}
	gw, err := NewGateway(p, NewRouter(nil, nil))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		`{"query": "{ __typename }"}`,
		`{"query": "{ __schema { types { name } } }"}`,
		`{"query": "query($id: String) { userService_Get(id: $id) { record { id } } }", "variables": {"id": 5}}`,
		`{"query": "{ userService_List(pageSize: \"x\") { nextPageToken } }"}`,
		`{"query": "{ a { b { c } }"}`,
		`{"query": "", "operationName": "x"}`,
		`not json`,
		`{"query": "fragment f on Query { ...f } { ...f }"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body)))
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("HTTP %d for %q", rec.Code, body)
		}
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("answer to %q is not JSON: %v: %s", body, err, rec.Body)
		}
	})
}

func TestCheckQuery(t *testing.T) {
	bomb := "query { ...f0 }\n"
	for i := range 20 {
		bomb += fmt.Sprintf("fragment f%d on Query { ...f%d ...f%d }\n", i, i+1, i+1)
	}
	bomb += "fragment f20 on Query { __typename }\n"
	for _, tc := range []struct{ q, want string }{
		{"{ __typename }", ""},
		{"fragment f on Query { __typename } { ...f ...f }", ""},
		{"fragment f on Query { ...f } { ...f }", "fragment cycle: f -> f"},
		{"fragment a on Query { ...b } fragment b on Query { ...a } { __typename }", "fragment cycle: "},
		{"{ ...a } fragment a on Query { x { ... on X { ...b } } } fragment b on X { ...a }", "fragment cycle: a -> b -> a"},
		{bomb, "query expands to more than 10000 selections"},
		{strings.Repeat("{a", 65) + strings.Repeat("}", 65), "query nests 65 levels deep"},
		{`{ a(s: "{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{") }`, ""},
		{"{ a } # " + strings.Repeat("{", 100), ""},
		{strings.Repeat("x", 70<<10), "query is 71680 bytes"},
		{"{ broken", ""},
		{"query($A0:) {A}", "variable $A0 has no type"},
	} {
		err := checkQuery(tc.q)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("checkQuery(%.60q) = %v, want %q", tc.q, err, tc.want)
		}
	}
}
