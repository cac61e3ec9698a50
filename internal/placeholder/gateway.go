package placeholder

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/graphql-go/graphql"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	reflectv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Gateway is the GraphQL gateway placeholder: one Query field per unary
// method of every service in the proto files, each resolved by calling that
// service over gRPC. Its schema is built once, at start, from descriptors.
type Gateway struct {
	Schema graphql.Schema
	// Fields maps each Query field to the gRPC method it calls.
	Fields map[string]string
	router *Router
	// Ready, when set, decides GET /healthz (the placeholder's own health).
	Ready func() (bool, any)
}

// NewGateway builds the schema for every service of p (none when p is nil:
// the schema then has only a _placeholder field); calls go through r.
func NewGateway(p *Protos, r *Router) (*Gateway, error) {
	g := &Gateway{Fields: map[string]string{}, router: r}
	b := &schemaBuilder{objects: map[protoreflect.FullName]*graphql.Object{}}
	var sds []protoreflect.ServiceDescriptor
	short := map[protoreflect.Name]int{}
	var names []string
	if p != nil {
		names = p.ServiceNames()
	}
	for _, name := range names {
		sd, err := p.Service(name)
		if err != nil {
			return nil, err
		}
		sds = append(sds, sd)
		short[sd.Name()]++
	}
	fields := graphql.Fields{}
	for _, sd := range sds {
		// userService_Get; the full name (nova_user_v2_UserService_Get) when
		// two packages define a service of the same name
		prefix := lowerFirst(string(sd.Name()))
		if short[sd.Name()] > 1 {
			prefix = gqlName(sd.FullName())
		}
		methods := sd.Methods()
		for i := range methods.Len() {
			m := methods.Get(i)
			if m.IsStreamingClient() || m.IsStreamingServer() {
				continue // GraphQL queries are request/response
			}
			name := prefix + "_" + string(m.Name())
			fields[name] = &graphql.Field{
				Type:        b.object(m.Output()),
				Args:        b.args(m.Input()),
				Description: fmt.Sprintf("calls %s over gRPC", fullMethod(m)),
				Resolve:     g.resolver(m),
			}
			g.Fields[name] = fullMethod(m)
		}
	}
	if len(fields) == 0 {
		// a Query type needs a field; say why there is nothing to query
		fields["_placeholder"] = &graphql.Field{Type: graphql.String, Description: "no unary gRPC methods in the proto files",
			Resolve: func(graphql.ResolveParams) (any, error) { return "no services", nil }}
	}
	schema, err := graphql.NewSchema(graphql.SchemaConfig{Query: graphql.NewObject(graphql.ObjectConfig{Name: "Query", Fields: fields})})
	if err != nil {
		return nil, fmt.Errorf("building the GraphQL schema from the proto files: %w", err)
	}
	g.Schema = schema
	return g, nil
}

// resolver calls m with the field's arguments as its request.
func (g *Gateway) resolver(m protoreflect.MethodDescriptor) graphql.FieldResolveFn {
	full := fullMethod(m)
	return func(p graphql.ResolveParams) (any, error) {
		req := dynamicpb.NewMessage(m.Input())
		for k, v := range p.Args {
			fd := m.Input().Fields().ByJSONName(k)
			if fd == nil {
				return nil, fmt.Errorf("argument %s: no such field in %s", k, m.Input().FullName())
			}
			val, err := protoScalar(fd, v)
			if err != nil {
				return nil, fmt.Errorf("argument %s: %w", k, err)
			}
			req.Set(fd, val)
		}
		conn, err := g.router.Conn(p.Context, string(m.Parent().FullName()))
		if err != nil {
			return nil, err
		}
		resp := dynamicpb.NewMessage(m.Output())
		if err := conn.Invoke(p.Context, full, req, resp); err != nil {
			return nil, fmt.Errorf("%s: %w", full, err)
		}
		return messageValue(resp), nil
	}
}

// ServeHTTP answers POST /graphql (and GET /graphql?query=) and GET /healthz.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/healthz":
		ok, detail := true, any(map[string]string{"status": "ok"})
		if g.Ready != nil {
			ok, detail = g.Ready()
		}
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(detail)
	case "/graphql":
		var req struct {
			Query         string         `json:"query"`
			OperationName string         `json:"operationName"`
			Variables     map[string]any `json:"variables"`
		}
		switch r.Method {
		case http.MethodPost:
			body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err == nil {
				err = json.Unmarshal(body, &req)
			}
			if err != nil {
				http.Error(w, `{"errors":[{"message":"POST /graphql wants a JSON body {\"query\": ...}"}]}`, http.StatusBadRequest)
				return
			}
		case http.MethodGet:
			req.Query = r.URL.Query().Get("query")
			req.OperationName = r.URL.Query().Get("operationName")
			if v := r.URL.Query().Get("variables"); v != "" {
				if err := json.Unmarshal([]byte(v), &req.Variables); err != nil {
					http.Error(w, `{"errors":[{"message":"variables: not a JSON object"}]}`, http.StatusBadRequest)
					return
				}
			}
		default:
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if err := checkQuery(req.Query); err != nil {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"message": err.Error()}}})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		res, err := g.do(ctx, req.Query, req.OperationName, req.Variables)
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"message": err.Error()}}})
			return
		}
		_ = json.NewEncoder(w).Encode(res)
	default:
		http.NotFound(w, r)
	}
}

// do runs one request; a panic inside graphql-go (it has had several on
// malformed documents) becomes an error instead of a dropped connection.
func (g *Gateway) do(ctx context.Context, query, op string, vars map[string]any) (res *graphql.Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("the GraphQL library failed on this request (%v); please report the query", r)
		}
	}()
	return graphql.Do(graphql.Params{Schema: g.Schema, RequestString: query, OperationName: op, VariableValues: vars, Context: ctx}), nil
}

// schemaBuilder turns message descriptors into GraphQL object types, once
// per message (recursive messages use thunks).
type schemaBuilder struct {
	objects map[protoreflect.FullName]*graphql.Object
}

func (b *schemaBuilder) object(md protoreflect.MessageDescriptor) *graphql.Object {
	if o, ok := b.objects[md.FullName()]; ok {
		return o
	}
	o := graphql.NewObject(graphql.ObjectConfig{
		Name:        gqlName(md.FullName()),
		Description: string(md.FullName()),
		Fields: graphql.FieldsThunk(func() graphql.Fields {
			fields := graphql.Fields{}
			fds := md.Fields()
			for i := range fds.Len() {
				fd := fds.Get(i)
				fields[fd.JSONName()] = &graphql.Field{Type: b.output(fd), Description: string(fd.Name())}
			}
			if len(fields) == 0 {
				// GraphQL has no empty object types
				fields["_empty"] = &graphql.Field{Type: graphql.Boolean, Description: "the message has no fields"}
			}
			return fields
		}),
	})
	b.objects[md.FullName()] = o
	return o
}

func (b *schemaBuilder) output(fd protoreflect.FieldDescriptor) graphql.Output {
	var t graphql.Output
	switch {
	case fd.IsMap():
		t = b.object(fd.Message()) // the {key, value} entry
	case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
		t = b.object(fd.Message())
	default:
		t = scalarType(fd)
	}
	if fd.IsList() || fd.IsMap() {
		return graphql.NewList(t)
	}
	return t
}

// args are the request message's scalar (and enum) fields, by JSON name.
func (b *schemaBuilder) args(md protoreflect.MessageDescriptor) graphql.FieldConfigArgument {
	args := graphql.FieldConfigArgument{}
	fds := md.Fields()
	for i := range fds.Len() {
		fd := fds.Get(i)
		if fd.IsList() || fd.IsMap() || fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
			continue
		}
		args[fd.JSONName()] = &graphql.ArgumentConfig{Type: scalarType(fd), Description: string(fd.Name())}
	}
	return args
}

// scalarType maps a proto scalar to GraphQL as protojson does: 64-bit
// integers (and uint32, which overflows GraphQL's 32-bit Int) as strings or
// floats, bytes as base64, enums by value name.
func scalarType(fd protoreflect.FieldDescriptor) *graphql.Scalar {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return graphql.Boolean
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return graphql.Int
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.FloatKind, protoreflect.DoubleKind:
		return graphql.Float
	default: // string, bytes, enum, 64-bit integers
		return graphql.String
	}
}

// protoScalar converts a GraphQL argument value to the field's proto value.
func protoScalar(fd protoreflect.FieldDescriptor, v any) (protoreflect.Value, error) {
	bad := func() (protoreflect.Value, error) {
		return protoreflect.Value{}, fmt.Errorf("%v (%T) is not a %s", v, v, fd.Kind())
	}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		if b, ok := v.(bool); ok {
			return protoreflect.ValueOfBool(b), nil
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		if n, ok := v.(int); ok {
			return protoreflect.ValueOfInt32(int32(n)), nil
		}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		if f, ok := v.(float64); ok && f >= 0 && f <= 1<<32-1 && f == float64(uint32(f)) {
			return protoreflect.ValueOfUint32(uint32(f)), nil
		}
	case protoreflect.FloatKind:
		if f, ok := v.(float64); ok {
			return protoreflect.ValueOfFloat32(float32(f)), nil
		}
	case protoreflect.DoubleKind:
		if f, ok := v.(float64); ok {
			return protoreflect.ValueOfFloat64(f), nil
		}
	case protoreflect.StringKind:
		if s, ok := v.(string); ok {
			return protoreflect.ValueOfString(s), nil
		}
	case protoreflect.BytesKind:
		if s, ok := v.(string); ok {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return protoreflect.Value{}, fmt.Errorf("bytes want base64: %w", err)
			}
			return protoreflect.ValueOfBytes(b), nil
		}
	case protoreflect.EnumKind:
		if s, ok := v.(string); ok {
			ev := fd.Enum().Values().ByName(protoreflect.Name(s))
			if ev == nil {
				return protoreflect.Value{}, fmt.Errorf("%q is not a value of %s", s, fd.Enum().FullName())
			}
			return protoreflect.ValueOfEnum(ev.Number()), nil
		}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		if s, ok := v.(string); ok {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return protoreflect.Value{}, fmt.Errorf("%q: want a decimal 64-bit integer", s)
			}
			return protoreflect.ValueOfInt64(n), nil
		}
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if s, ok := v.(string); ok {
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return protoreflect.Value{}, fmt.Errorf("%q: want a decimal unsigned 64-bit integer", s)
			}
			return protoreflect.ValueOfUint64(n), nil
		}
	}
	return bad()
}

// messageValue turns a message into the map GraphQL's default resolvers
// read, keyed by JSON name; unset fields have their default values, as in
// protojson with EmitUnpopulated.
func messageValue(m protoreflect.Message) map[string]any {
	out := map[string]any{}
	fds := m.Descriptor().Fields()
	for i := range fds.Len() {
		fd := fds.Get(i)
		v := m.Get(fd)
		switch {
		case fd.IsMap():
			var entries []any
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				entries = append(entries, map[string]any{
					fd.MapKey().JSONName():   scalarValue(fd.MapKey(), k.Value()),
					fd.MapValue().JSONName(): fieldValue(fd.MapValue(), mv),
				})
				return true
			})
			slices.SortFunc(entries, func(a, b any) int {
				return strings.Compare(fmt.Sprint(a.(map[string]any)[fd.MapKey().JSONName()]), fmt.Sprint(b.(map[string]any)[fd.MapKey().JSONName()]))
			})
			out[fd.JSONName()] = entries
		case fd.IsList():
			l := v.List()
			items := make([]any, l.Len())
			for j := range l.Len() {
				items[j] = fieldValue(fd, l.Get(j))
			}
			out[fd.JSONName()] = items
		case (fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind) && !m.Has(fd):
			out[fd.JSONName()] = nil
		default:
			out[fd.JSONName()] = fieldValue(fd, v)
		}
	}
	if len(out) == 0 {
		out["_empty"] = true
	}
	return out
}

func fieldValue(fd protoreflect.FieldDescriptor, v protoreflect.Value) any {
	if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
		return messageValue(v.Message())
	}
	return scalarValue(fd, v)
}

func scalarValue(fd protoreflect.FieldDescriptor, v protoreflect.Value) any {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return v.Bool()
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return int(v.Int())
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return float64(v.Uint())
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return v.Float()
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return strconv.FormatInt(v.Int(), 10)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return strconv.FormatUint(v.Uint(), 10)
	case protoreflect.BytesKind:
		return base64.StdEncoding.EncodeToString(v.Bytes())
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
		return strconv.Itoa(int(v.Enum()))
	default:
		return v.String()
	}
}

// gqlName makes a GraphQL type name of a proto full name: nova.user.v1.Record
// -> nova_user_v1_Record (unique, as the proto name is).
func gqlName(n protoreflect.FullName) string { return strings.ReplaceAll(string(n), ".", "_") }

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// Router finds the gRPC connection serving a service: a fixed route when one
// is configured (NOVA_GRPC_ROUTES), else by asking each dependency's server
// reflection which services it serves, cached after the first answer.
type Router struct {
	targets []string
	mu      sync.Mutex
	conns   map[string]*grpc.ClientConn // by target
	routes  map[string]string           // service -> target
	fixed   map[string]bool
}

// NewRouter routes to the given targets (host:port); routes pins services
// to targets without discovery.
func NewRouter(targets []string, routes map[string]string) *Router {
	r := &Router{targets: targets, conns: map[string]*grpc.ClientConn{}, routes: map[string]string{}, fixed: map[string]bool{}}
	for s, t := range routes {
		r.routes[s] = t
		r.fixed[s] = true
	}
	return r
}

func (r *Router) conn(target string) (*grpc.ClientConn, error) {
	if c, ok := r.conns[target]; ok {
		return c, nil
	}
	c, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	r.conns[target] = c
	return c, nil
}

// Conn returns the connection to the server of service, discovering routes
// when it is not known yet.
func (r *Router) Conn(ctx context.Context, service string) (*grpc.ClientConn, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.routes[service]; ok {
		return r.conn(t)
	}
	var errs []error
	for _, t := range r.targets {
		c, err := r.conn(t)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t, err))
			continue
		}
		names, err := listServices(ctx, c)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t, err))
			continue
		}
		for _, n := range names {
			if !r.fixed[n] {
				r.routes[n] = t
			}
		}
		if r.routes[service] == t {
			return c, nil
		}
	}
	msg := fmt.Sprintf("no gRPC dependency serves %s (asked the server reflection of %s", service, strings.Join(r.targets, ", "))
	if len(r.targets) == 0 {
		msg = fmt.Sprintf("no gRPC dependency serves %s (NOVA_GRPC_DEPENDENCIES is empty", service)
	}
	if err := errors.Join(errs...); err != nil {
		msg += "; " + strings.Join(strings.Fields(err.Error()), " ")
	}
	return nil, status.Error(codes.Unavailable, msg+")")
}

// Close closes every connection.
func (r *Router) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		c.Close()
	}
}

// listServices asks a server's reflection (v1) which services it serves.
func listServices(ctx context.Context, c *grpc.ClientConn) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	stream, err := reflectv1.NewServerReflectionClient(c).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, err
	}
	defer stream.CloseSend()
	if err := stream.Send(&reflectv1.ServerReflectionRequest{MessageRequest: &reflectv1.ServerReflectionRequest_ListServices{}}); err != nil {
		return nil, err
	}
	resp, err := stream.Recv()
	if err != nil {
		return nil, fmt.Errorf("server reflection: %w", err)
	}
	if e := resp.GetErrorResponse(); e != nil {
		return nil, fmt.Errorf("server reflection: %s", e.GetErrorMessage())
	}
	var out []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		out = append(out, s.GetName())
	}
	return out, nil
}
