package placeholder

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	reflectpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// novaProtos is the catalog's proto root.
const novaProtos = "../../envs/proto"

func loadNova(t *testing.T) *Protos {
	t.Helper()
	p, err := LoadProtos(context.Background(), novaProtos, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// running is a placeholder Server on loopback ports.
type running struct {
	grpcAddr, metricsAddr, httpAddr string
	conn                            *grpc.ClientConn
	log                             *lockedBuffer
}

// start runs s (listeners and Log filled in here) until the test ends.
func start(t *testing.T, s *Server) *running {
	t.Helper()
	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	r := &running{log: &lockedBuffer{}}
	s.GRPC, s.Metrics, s.Log = listen(), listen(), r.log
	r.grpcAddr, r.metricsAddr = s.GRPC.Addr().String(), s.Metrics.Addr().String()
	if s.Gateway != nil {
		s.HTTP = listen()
		r.httpAddr = s.HTTP.Addr().String()
	}
	if s.Tune == nil {
		s.Tune = func(m *Monitor) { m.FastInterval, m.Interval = 20*time.Millisecond, 20*time.Millisecond }
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	conn, err := grpc.NewClient(r.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	r.conn = conn
	return r
}

// reflect asks the placeholder's server reflection one question.
func (r *running) reflect(t *testing.T, req *reflectpb.ServerReflectionRequest) *reflectpb.ServerReflectionResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream, err := reflectpb.NewServerReflectionClient(r.conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.CloseSend()
	if err := stream.Send(req); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestAPIServesEveryNovaService serves all fifteen Nova APIs from the
// catalog's proto files, lists them through reflection as grpcurl does, and
// calls every unary method with a dynamic client built from the descriptors
// that reflection returned (not from the server's own copy).
func TestAPIServesEveryNovaService(t *testing.T) {
	p := loadNova(t)
	apis := p.ServiceNames()
	if len(apis) != 15 || !slices.Contains(apis, "nova.user.v1.UserService") {
		t.Fatalf("services in %s = %v, want the 15 Nova APIs", novaProtos, apis)
	}
	api, err := NewAPI(p, "all", apis, "")
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, &Server{Service: "all", API: api, Protos: p})

	resp := r.reflect(t, &reflectpb.ServerReflectionRequest{MessageRequest: &reflectpb.ServerReflectionRequest_ListServices{}})
	var listed []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		listed = append(listed, s.GetName())
	}
	for _, want := range append([]string{"grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"}, apis...) {
		if !slices.Contains(listed, want) {
			t.Errorf("reflection lists %v, lacks %s", listed, want)
		}
	}

	calls := 0
	for _, api := range apis {
		resp := r.reflect(t, &reflectpb.ServerReflectionRequest{MessageRequest: &reflectpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: api}})
		fdr := resp.GetFileDescriptorResponse()
		if fdr == nil {
			t.Fatalf("%s: reflection answered %v", api, resp)
		}
		var fdp descriptorpb.FileDescriptorProto
		if err := proto.Unmarshal(fdr.GetFileDescriptorProto()[0], &fdp); err != nil {
			t.Fatal(err)
		}
		fd, err := protodesc.NewFile(&fdp, nil)
		if err != nil {
			t.Fatalf("%s: descriptor from reflection: %v", api, err)
		}
		sd := fd.Services().ByName(protoreflect.FullName(api).Name())
		if sd == nil || sd.Methods().Len() != 2 {
			t.Fatalf("%s: reflection descriptor has service %v", api, sd)
		}
		for i := range sd.Methods().Len() {
			m := sd.Methods().Get(i)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			out := dynamicpb.NewMessage(m.Output())
			err := r.conn.Invoke(ctx, fullMethod(m), dynamicpb.NewMessage(m.Input()), out)
			cancel()
			if err != nil {
				t.Errorf("%s: %v", fullMethod(m), err)
				continue
			}
			calls++
		}
	}
	if calls != 30 {
		t.Errorf("%d unary calls answered, want 30 (15 services x Get, List)", calls)
	}
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

const userGetFixture = `{"record": {"id": "u-1", "ownerId": "o-7", "payloadJson": "{\"name\":\"Ada\"}", "createdUnix": "1700000000"}}`

func TestAPIServesFixture(t *testing.T) {
	p := loadNova(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "user-service", "Get.json"), userGetFixture)
	api, err := NewAPI(p, "user-service", []string{"nova.user.v1.UserService"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := api.FixtureFiles["/nova.user.v1.UserService/Get"]; got != filepath.Join(dir, "user-service", "Get.json") {
		t.Errorf("fixture files = %v", api.FixtureFiles)
	}
	r := start(t, &Server{Service: "user-service", API: api, Protos: p})
	sd, _ := p.Service("nova.user.v1.UserService")
	call := func(method string) protoreflect.Message {
		m := sd.Methods().ByName(protoreflect.Name(method))
		out := dynamicpb.NewMessage(m.Output())
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.conn.Invoke(ctx, fullMethod(m), dynamicpb.NewMessage(m.Input()), out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	got := messageValue(call("Get"))
	rec, _ := got["record"].(map[string]any)
	if rec["id"] != "u-1" || rec["ownerId"] != "o-7" || rec["createdUnix"] != "1700000000" {
		t.Errorf("Get answered %v, want the fixture", got)
	}
	// List has no fixture: default values
	if got := messageValue(call("List")); len(got["records"].([]any)) != 0 || got["nextPageToken"] != "" {
		t.Errorf("List answered %v, want defaults", got)
	}
}

func TestAPIRejectsBadFixtureAndUnknownAPI(t *testing.T) {
	p := loadNova(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "user-service", "List.json")
	writeFile(t, bad, `{"records": [{"idd": "x"}]}`)
	_, err := NewAPI(p, "user-service", []string{"nova.user.v1.UserService", "nova.user.v1.UsersService"}, dir)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"fixture " + bad + ": not a nova.user.v1.ListResponse", `"idd"`, "service nova.user.v1.UsersService is not defined", "have: nova.analytics.v1.AnalyticsService"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestLoadProtosErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.proto"), "syntax = \"proto3\";\npackage a;\nmessage A { strin x = 1; }\n")
	_, err := LoadProtos(context.Background(), dir, nil)
	if err == nil || !strings.Contains(err.Error(), "a.proto:3:") {
		t.Errorf("syntax error: %v, want file:line", err)
	}
	if _, err := LoadProtos(context.Background(), filepath.Join(dir, "none"), nil); err == nil || !strings.Contains(err.Error(), "NOVA_PROTO_DIR") {
		t.Errorf("missing dir: %v", err)
	}
	if _, err := LoadProtos(context.Background(), t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), "no .proto files") {
		t.Errorf("empty dir: %v", err)
	}
}

func TestStreamingMethodsAreUnimplemented(t *testing.T) {
	p, err := LoadProtos(context.Background(), "testdata/proto", nil)
	if err != nil {
		t.Fatal(err)
	}
	api, err := NewAPI(p, "echo", []string{"test.v1.EchoService"}, "")
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, &Server{Service: "echo", API: api, Protos: p})
	sd, _ := p.Service("test.v1.EchoService")
	for _, name := range []string{"Watch", "Upload"} {
		m := sd.Methods().ByName(protoreflect.Name(name))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		stream, err := r.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: m.IsStreamingServer(), ClientStreams: m.IsStreamingClient()}, fullMethod(m))
		if err == nil {
			_ = stream.SendMsg(dynamicpb.NewMessage(m.Input()))
			_ = stream.CloseSend()
			err = stream.RecvMsg(dynamicpb.NewMessage(m.Output()))
		}
		cancel()
		if status.Code(err) != codes.Unimplemented || !strings.Contains(err.Error(), "/test.v1.EchoService/"+name+" is a streaming method") {
			t.Errorf("%s: %v, want UNIMPLEMENTED naming the method", name, err)
		}
	}
	// the unary methods of the same service answer
	m := sd.Methods().ByName("Empty")
	if err := r.conn.Invoke(context.Background(), fullMethod(m), dynamicpb.NewMessage(m.Input()), dynamicpb.NewMessage(m.Output())); err != nil {
		t.Errorf("Empty: %v", err)
	}
}

// graphqlPost sends one GraphQL request and decodes the answer.
func graphqlPost(t *testing.T, addr, query string, vars map[string]any) (int, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	resp, err := http.Post("http://"+addr+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("POST /graphql answered %d %s: %v", resp.StatusCode, raw, err)
	}
	return resp.StatusCode, out
}

// TestGatewayQueriesThroughToPlaceholder runs a user-service placeholder
// with a fixture and a gateway placeholder over all Nova protos whose only
// way to user-service is discovery through its reflection.
func TestGatewayQueriesThroughToPlaceholder(t *testing.T) {
	p := loadNova(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "user-service", "Get.json"), userGetFixture)
	api, err := NewAPI(p, "user-service", []string{"nova.user.v1.UserService"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	user := start(t, &Server{Service: "user-service", API: api, Protos: p})

	router := NewRouter([]string{user.grpcAddr}, nil)
	t.Cleanup(router.Close)
	gw, err := NewGateway(p, router)
	if err != nil {
		t.Fatal(err)
	}
	if len(gw.Fields) != 30 || gw.Fields["userService_Get"] != "/nova.user.v1.UserService/Get" {
		t.Fatalf("gateway fields = %v", gw.Fields)
	}
	g := start(t, &Server{Service: "graphql-gateway", Gateway: gw, Protos: p})

	code, out := graphqlPost(t, g.httpAddr, "{ __typename }", nil)
	if code != 200 || out["data"].(map[string]any)["__typename"] != "Query" {
		t.Fatalf("{ __typename }: %d %v", code, out)
	}

	// introspection: the Query type lists one field per unary method
	_, out = graphqlPost(t, g.httpAddr, `{ __schema { queryType { fields { name args { name type { name } } } } } }`, nil)
	fields := out["data"].(map[string]any)["__schema"].(map[string]any)["queryType"].(map[string]any)["fields"].([]any)
	var names []string
	var listArgs []string
	for _, f := range fields {
		fm := f.(map[string]any)
		names = append(names, fm["name"].(string))
		if fm["name"] == "userService_List" {
			for _, a := range fm["args"].([]any) {
				am := a.(map[string]any)
				listArgs = append(listArgs, am["name"].(string)+":"+am["type"].(map[string]any)["name"].(string))
			}
		}
	}
	slices.Sort(listArgs)
	if len(names) != 30 || !slices.Contains(names, "feedService_List") || strings.Join(listArgs, ",") != "ownerId:String,pageSize:Int,pageToken:String" {
		t.Errorf("introspection: fields %v, userService_List args %v", names, listArgs)
	}

	// a query through to user-service over gRPC, served from its fixture
	code, out = graphqlPost(t, g.httpAddr, `query($id: String) { userService_Get(id: $id) { record { id ownerId createdUnix } } }`, map[string]any{"id": "u-1"})
	rec, _ := out["data"].(map[string]any)["userService_Get"].(map[string]any)["record"].(map[string]any)
	if code != 200 || rec["id"] != "u-1" || rec["ownerId"] != "o-7" || rec["createdUnix"] != "1700000000" {
		t.Fatalf("userService_Get: %d %v", code, out)
	}
	_, out = graphqlPost(t, g.httpAddr, `{ userService_List(pageSize: 5) { records { id } nextPageToken } }`, nil)
	if l := out["data"].(map[string]any)["userService_List"].(map[string]any); l["nextPageToken"] != "" || len(l["records"].([]any)) != 0 {
		t.Errorf("userService_List: %v", out)
	}

	// feed-service is not behind this gateway: the error says who was asked
	_, out = graphqlPost(t, g.httpAddr, `{ feedService_Get(id: "x") { record { id } } }`, nil)
	errs, _ := out["errors"].([]any)
	if len(errs) != 1 || !strings.Contains(errs[0].(map[string]any)["message"].(string), "no gRPC dependency serves nova.feed.v1.FeedService (asked the server reflection of "+user.grpcAddr) {
		t.Errorf("feedService_Get without a route: %v", out)
	}

	resp, err := http.Get("http://" + g.httpAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz = %d, want 200 (no dependencies)", resp.StatusCode)
	}
}

func TestGatewayTypesEveryShape(t *testing.T) {
	p, err := LoadProtos(context.Background(), "testdata/proto", nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "echo", "Say.json"), `{"text": "hi", "big": "9007199254740993", "mood": "MOOD_HAPPY",
		"nodes": [{"name": "a", "children": [{"name": "b"}]}], "counts": {"y": 2, "x": 1}, "at": "2026-12-01T07:00:00Z"}`)
	api, err := NewAPI(p, "echo", []string{"test.v1.EchoService"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	echo := start(t, &Server{Service: "echo", API: api, Protos: p})
	gw, err := NewGateway(p, NewRouter(nil, map[string]string{"test.v1.EchoService": echo.grpcAddr}))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := gw.Fields["echoService_Watch"]; ok || len(gw.Fields) != 2 {
		t.Errorf("fields = %v, want the two unary methods", gw.Fields)
	}
	g := start(t, &Server{Service: "gw", Gateway: gw, Protos: p})
	_, out := graphqlPost(t, g.httpAddr, `{ echoService_Say(text: "x", big: "-5", small: 7, loud: true, mood: "MOOD_HAPPY", raw: "AAE=") {
		text big mood nodes { name children { name } } counts { key value } at { seconds } } echoService_Empty { _empty } }`, nil)
	got, _ := json.Marshal(out)
	want := `{"data":{"echoService_Empty":{"_empty":true},"echoService_Say":{"at":{"seconds":"1796108400"},"big":"9007199254740993","counts":[{"key":"x","value":1},{"key":"y","value":2}],"mood":"MOOD_HAPPY","nodes":[{"children":[{"name":"b"}],"name":"a"}],"text":"hi"}}}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	_, out = graphqlPost(t, g.httpAddr, `{ echoService_Say(big: "x") { text } }`, nil)
	if errs, _ := out["errors"].([]any); len(errs) != 1 || !strings.Contains(errs[0].(map[string]any)["message"].(string), "argument big") {
		t.Errorf("bad int64 argument: %v", out)
	}
}

// TestGatewayReachesEveryNovaService stands up one placeholder per Nova API
// (as the stack does) and a gateway that knows them only as gRPC
// dependencies: every one of the 30 query fields answers through its
// service, none with an error.
func TestGatewayReachesEveryNovaService(t *testing.T) {
	p := loadNova(t)
	var targets []string
	for _, api := range p.ServiceNames() {
		a, err := NewAPI(p, api, []string{api}, "")
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, start(t, &Server{Service: api, API: a, Protos: p}).grpcAddr)
	}
	router := NewRouter(targets, nil)
	t.Cleanup(router.Close)
	gw, err := NewGateway(p, router)
	if err != nil {
		t.Fatal(err)
	}
	g := start(t, &Server{Service: "graphql-gateway", Gateway: gw, Protos: p})
	fields := slices.Sorted(maps.Keys(gw.Fields))
	if len(fields) != 30 {
		t.Fatalf("fields = %v", fields)
	}
	for _, f := range fields {
		sel := "record { id }"
		if strings.HasSuffix(f, "_List") {
			sel = "records { id } nextPageToken"
		}
		code, out := graphqlPost(t, g.httpAddr, "{ "+f+" { "+sel+" } }", nil)
		if _, failed := out["errors"]; code != 200 || failed || out["data"].(map[string]any)[f] == nil {
			t.Errorf("%s: %d %v", f, code, out)
		}
	}
	// every service was found through reflection on its own server
	for i, api := range p.ServiceNames() {
		if router.routes[api] != targets[i] {
			t.Errorf("%s routed to %q, want %s", api, router.routes[api], targets[i])
		}
	}
}
