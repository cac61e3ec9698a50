package placeholder

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bufbuild/protocompile"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/reflection"
	reflectv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Protos is a set of proto files compiled at start, with what the placeholder
// needs to serve or call the services they define.
type Protos struct {
	// Files resolves every compiled file and its imports (for reflection).
	Files *protoregistry.Files
}

// LoadProtos compiles the proto files under dir. files are paths relative to
// dir (as the catalog's `protos` lists them); none means every *.proto file
// under dir. Imports resolve against dir first, then against the well-known
// types bundled with protocompile.
func LoadProtos(ctx context.Context, dir string, files []string) (*Protos, error) {
	if dir == "" {
		return nil, errors.New("NOVA_PROTO_DIR is empty")
	}
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("NOVA_PROTO_DIR: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("NOVA_PROTO_DIR=%s: not a directory", dir)
	}
	if len(files) == 0 {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(p, ".proto") {
				rel, err := filepath.Rel(dir, p)
				if err != nil {
					return err
				}
				files = append(files, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("NOVA_PROTO_DIR: %w", err)
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("NOVA_PROTO_DIR=%s: no .proto files", dir)
		}
	}
	slices.Sort(files)
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: []string{dir}}),
	}
	compiled, err := c.Compile(ctx, files...)
	if err != nil {
		return nil, fmt.Errorf("compiling the proto files of NOVA_PROTO_DIR=%s: %w", dir, err)
	}
	reg := new(protoregistry.Files)
	var add func(fd protoreflect.FileDescriptor) error
	add = func(fd protoreflect.FileDescriptor) error {
		if _, err := reg.FindFileByPath(fd.Path()); err == nil {
			return nil
		}
		imps := fd.Imports()
		for i := range imps.Len() {
			if err := add(imps.Get(i).FileDescriptor); err != nil {
				return err
			}
		}
		return reg.RegisterFile(fd)
	}
	for _, fd := range compiled {
		if err := add(fd); err != nil {
			return nil, fmt.Errorf("registering %s: %w", fd.Path(), err)
		}
	}
	return &Protos{Files: reg}, nil
}

// Service returns the descriptor of the fully qualified gRPC service name.
func (p *Protos) Service(name string) (protoreflect.ServiceDescriptor, error) {
	d, err := p.Files.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		return nil, fmt.Errorf("NOVA_GRPC_API: service %s is not defined in the proto files (have: %s)", name, strings.Join(p.ServiceNames(), ", "))
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, fmt.Errorf("NOVA_GRPC_API: %s is a %T, not a service", name, d)
	}
	return sd, nil
}

// ServiceNames lists every service the files define, sorted.
func (p *Protos) ServiceNames() []string {
	var out []string
	p.Files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		svcs := fd.Services()
		for i := range svcs.Len() {
			out = append(out, string(svcs.Get(i).FullName()))
		}
		return true
	})
	slices.Sort(out)
	return out
}

// API is the dynamic implementation of the services a placeholder stands in
// for: unary methods answer a fixture or an empty (all default values)
// response, streaming methods answer UNIMPLEMENTED.
type API struct {
	Services []protoreflect.ServiceDescriptor
	// fixtures by full method name (/pkg.Service/Method), already decoded.
	fixtures map[string]proto.Message
	// FixtureFiles names the fixture file behind each method that has one.
	FixtureFiles map[string]string
}

// NewAPI resolves the services to serve and loads their fixtures.
//
// Fixture layout: fixturesDir/<service>/<Method>.json holds the response of
// Method (protojson of its response message); fixturesDir/<service>/<full
// service name>/<Method>.json wins when a placeholder serves several APIs
// whose method names collide. <service> is NOVA_SERVICE (user-service). A
// missing directory means no fixtures; a fixture that does not parse as the
// method's response fails the start, naming the file.
func NewAPI(p *Protos, service string, apis []string, fixturesDir string) (*API, error) {
	a := &API{fixtures: map[string]proto.Message{}, FixtureFiles: map[string]string{}}
	var errs []error
	for _, name := range apis {
		sd, err := p.Service(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		a.Services = append(a.Services, sd)
		if fixturesDir == "" {
			continue
		}
		methods := sd.Methods()
		for i := range methods.Len() {
			m := methods.Get(i)
			for _, f := range []string{
				filepath.Join(fixturesDir, service, string(sd.FullName()), string(m.Name())+".json"),
				filepath.Join(fixturesDir, service, string(m.Name())+".json"),
			} {
				data, err := os.ReadFile(f)
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("fixture %s: %w", f, err))
					break
				}
				msg := dynamicpb.NewMessage(m.Output())
				if err := (protojson.UnmarshalOptions{Resolver: dynamicTypes(p.Files)}).Unmarshal(data, msg); err != nil {
					errs = append(errs, fmt.Errorf("fixture %s: not a %s in protojson: %w", f, m.Output().FullName(), err))
					break
				}
				if m.IsStreamingClient() || m.IsStreamingServer() {
					errs = append(errs, fmt.Errorf("fixture %s: %s is a streaming method; fixtures serve unary methods only", f, m.FullName()))
					break
				}
				key := fullMethod(m)
				a.fixtures[key] = msg
				a.FixtureFiles[key] = f
				break
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return a, nil
}

// dynamicTypes resolves message types (for Any in fixtures) from files.
func dynamicTypes(files *protoregistry.Files) *dynamicpb.Types { return dynamicpb.NewTypes(files) }

// fullMethod is the gRPC method path: /nova.user.v1.UserService/Get.
func fullMethod(m protoreflect.MethodDescriptor) string {
	return "/" + string(m.Parent().FullName()) + "/" + string(m.Name())
}

// Register adds every service of the API to gs.
func (a *API) Register(gs *grpc.Server) {
	for _, sd := range a.Services {
		desc := grpc.ServiceDesc{ServiceName: string(sd.FullName()), HandlerType: (*any)(nil), Metadata: sd.ParentFile().Path()}
		methods := sd.Methods()
		for i := range methods.Len() {
			m := methods.Get(i)
			if m.IsStreamingClient() || m.IsStreamingServer() {
				desc.Streams = append(desc.Streams, grpc.StreamDesc{
					StreamName:    string(m.Name()),
					ServerStreams: m.IsStreamingServer(),
					ClientStreams: m.IsStreamingClient(),
					Handler: func(any, grpc.ServerStream) error {
						return status.Errorf(codes.Unimplemented, "%s is a streaming method: the novadev placeholder answers unary methods only; run the real service image for streams", fullMethod(m))
					},
				})
				continue
			}
			desc.Methods = append(desc.Methods, grpc.MethodDesc{MethodName: string(m.Name()), Handler: a.unary(m)})
		}
		gs.RegisterService(&desc, struct{}{})
	}
}

// unary answers the method's fixture, or a response with default values.
func (a *API) unary(m protoreflect.MethodDescriptor) func(any, context.Context, func(any) error, grpc.UnaryServerInterceptor) (any, error) {
	full := fullMethod(m)
	return func(_ any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
		req := dynamicpb.NewMessage(m.Input())
		if err := dec(req); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "%s: request is not a %s: %v", full, m.Input().FullName(), err)
		}
		answer := func(context.Context, any) (any, error) {
			if f, ok := a.fixtures[full]; ok {
				return proto.Clone(f), nil
			}
			return dynamicpb.NewMessage(m.Output()), nil
		}
		if icpt == nil {
			return answer(ctx, req)
		}
		return icpt(ctx, req, &grpc.UnaryServerInfo{Server: a, FullMethod: full}, answer)
	}
}

// RegisterReflection serves gRPC server reflection (v1 and v1alpha, which
// grpcurl and older clients still ask first) for the services on gs,
// resolving descriptors from files first and from the linked-in ones
// (grpc.health.v1, reflection itself) next.
func RegisterReflection(gs *grpc.Server, files *protoregistry.Files) {
	opts := reflection.ServerOptions{Services: gs}
	if files != nil {
		opts.DescriptorResolver = chainResolver{files, protoregistry.GlobalFiles}
	}
	reflectv1.RegisterServerReflectionServer(gs, reflection.NewServerV1(opts))
	reflectv1alpha.RegisterServerReflectionServer(gs, reflection.NewServer(opts))
}

// chainResolver looks a descriptor up in each registry in turn.
type chainResolver []*protoregistry.Files

// FindFileByPath implements protodesc.Resolver.
func (c chainResolver) FindFileByPath(p string) (protoreflect.FileDescriptor, error) {
	for _, r := range c {
		if fd, err := r.FindFileByPath(p); err == nil {
			return fd, nil
		}
	}
	return nil, protoregistry.NotFound
}

// FindDescriptorByName implements protodesc.Resolver.
func (c chainResolver) FindDescriptorByName(n protoreflect.FullName) (protoreflect.Descriptor, error) {
	for _, r := range c {
		if d, err := r.FindDescriptorByName(n); err == nil {
			return d, nil
		}
	}
	return nil, protoregistry.NotFound
}

var _ protodesc.Resolver = chainResolver{}
