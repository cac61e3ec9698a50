package placeholder

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// graphqlDo runs one POST /graphql against gw in process.
func graphqlDo(gw *Gateway, query string) (int, string) {
	rec := httptest.NewRecorder()
	body := `{"query": ` + strconv.Quote(query) + `}`
	gw.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body)))
	return rec.Code, strings.TrimSpace(rec.Body.String())
}

func TestAPIFromEnv(t *testing.T) {
	env := map[string]string{
		"NOVA_SERVICE":        "user-service",
		"NOVA_PROTO_DIR":      "/etc/nova/proto",
		"NOVA_PROTO_FILES":    "nova/user/v1/user.proto",
		"NOVA_GRPC_API":       "nova.user.v1.UserService",
		"NOVA_FIXTURES_DIR":   "/etc/nova/fixtures",
		"HTTP_PORT":           "8080",
		"NOVA_GRPC_ROUTES":    "nova.user.v1.UserService=user-service:50051, nova.feed.v1.FeedService=feed-service:50051",
		"CLICKHOUSE_USER":     "nova_analytics_svc",
		"CLICKHOUSE_PASSWORD": "pw",
		"CLICKHOUSE_DATABASE": "nova_analytics",
	}
	c, err := FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	a := c.API
	if a.ProtoDir != "/etc/nova/proto" || len(a.ProtoFiles) != 1 || a.APIs[0] != "nova.user.v1.UserService" || a.FixturesDir != "/etc/nova/fixtures" || a.HTTPPort != 8080 ||
		a.Routes["nova.feed.v1.FeedService"] != "feed-service:50051" || len(a.Routes) != 2 {
		t.Errorf("API = %+v", a)
	}
	if c.ClickHouse != (ClickHouseIdentity{User: "nova_analytics_svc", Password: "pw", Database: "nova_analytics"}) {
		t.Errorf("ClickHouse = %+v", c.ClickHouse)
	}
}

func TestAPIFromEnvReportsEveryProblem(t *testing.T) {
	env := map[string]string{
		"NOVA_GRPC_API":       "nova.user.v1.UserService",
		"HTTP_PORT":           "http",
		"NOVA_GRPC_ROUTES":    "nova.user.v1.UserService,a=b",
		"CLICKHOUSE_PASSWORD": "pw",
	}
	_, err := FromEnv(func(k string) string { return env[k] })
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`HTTP_PORT="http": not a port`,
		`NOVA_GRPC_ROUTES item 1 "nova.user.v1.UserService": want service=host:port`,
		`NOVA_GRPC_ROUTES item 2 "a=b": address "b": want host:port`,
		"CLICKHOUSE_PASSWORD is set but CLICKHOUSE_USER is empty",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestAPINotesWithoutProtoDir(t *testing.T) {
	env := map[string]string{"NOVA_GRPC_API": "nova.user.v1.UserService", "HTTP_PORT": "8080"}
	c, err := FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(c.API.Notes(), "|")
	want := "NOVA_GRPC_API=nova.user.v1.UserService but NOVA_PROTO_DIR is unset: serving health and reflection only (mount the catalog's proto root and set NOVA_PROTO_DIR)|" +
		"HTTP_PORT=8080 but NOVA_PROTO_DIR is unset: the GraphQL schema has no service fields"
	if got != want {
		t.Errorf("notes = %q, want %q", got, want)
	}
	env["NOVA_PROTO_DIR"] = "/etc/nova/proto"
	c, _ = FromEnv(func(k string) string { return env[k] })
	if n := c.API.Notes(); n != nil {
		t.Errorf("notes with NOVA_PROTO_DIR = %q", n)
	}
	// a gateway without protos still answers { __typename }
	gw, err := NewGateway(nil, NewRouter(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if code, out := graphqlDo(gw, "{ __typename _placeholder }"); code != 200 || out != `{"data":{"__typename":"Query","_placeholder":"no services"}}` {
		t.Errorf("empty gateway: %d %s", code, out)
	}
}

// FuzzParseRoutes: never panics; every accepted route is service=host:port
// and parsing the accepted routes again gives the same routes.
func FuzzParseRoutes(f *testing.F) {
	for _, s := range []string{"", "a.B=h:1", "a.B=h:1,a.B=h:2", "x", "=h:1", "a b=h:1", "a=[::1]:5,b=h:", ",,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		routes, err := ParseRoutes(s)
		if err != nil && !strings.Contains(err.Error(), "NOVA_GRPC_ROUTES item ") {
			t.Fatalf("error without position: %v", err)
		}
		var items []string
		for svc, target := range routes {
			if svc == "" || strings.ContainsAny(svc, " /=,") || strings.Contains(target, ",") {
				t.Fatalf("accepted %q=%q", svc, target)
			}
			items = append(items, svc+"="+target)
		}
		again, err := ParseRoutes(strings.Join(items, ","))
		if err != nil || len(again) != len(routes) {
			t.Fatalf("re-parse of %v: %v, %v", items, again, err)
		}
		for k, v := range routes {
			if again[k] != v {
				t.Fatalf("re-parse changed %s: %s -> %s", k, v, again[k])
			}
		}
	})
}
