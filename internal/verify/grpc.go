package verify

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
)

// checkGRPC asks addr for grpc.health.v1 (SERVING) and lists its services
// by reflection, as the guide's `grpcurl ... list` does. api, when set, must
// be among them.
func checkGRPC(ctx context.Context, addr, api string) (string, error) {
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	h, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return "", fmt.Errorf("health check on %s: %w", addr, err)
	}
	if h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return "", fmt.Errorf("health on %s is %s, want SERVING", addr, h.GetStatus())
	}
	names, err := listServices(ctx, conn)
	if err != nil {
		return "", fmt.Errorf("reflection on %s: %w", addr, err)
	}
	if len(names) == 0 {
		return "", fmt.Errorf("reflection on %s lists no services", addr)
	}
	if api != "" && !slices.Contains(names, api) {
		return "", &missingAPIError{addr: addr, api: api, listed: names}
	}
	return fmt.Sprintf("SERVING; reflection lists %s", strings.Join(names, ", ")), nil
}

// listServices uses reflection v1, falling back to v1alpha (what grpcurl
// does) for servers that only register the older one.
func listServices(ctx context.Context, conn *grpc.ClientConn) ([]string, error) {
	names, err := listV1(ctx, conn)
	if status.Code(err) != codes.Unimplemented {
		return names, err
	}
	return listV1alpha(ctx, conn)
}

func listV1(ctx context.Context, conn *grpc.ClientConn) ([]string, error) {
	st, err := reflectv1.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, err
	}
	defer st.CloseSend()
	if err := st.Send(&reflectv1.ServerReflectionRequest{MessageRequest: &reflectv1.ServerReflectionRequest_ListServices{}}); err != nil {
		return nil, err
	}
	resp, err := st.Recv()
	if err != nil {
		return nil, err
	}
	if e := resp.GetErrorResponse(); e != nil {
		return nil, fmt.Errorf("reflection error %d: %s", e.GetErrorCode(), e.GetErrorMessage())
	}
	var out []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		out = append(out, s.GetName())
	}
	slices.Sort(out)
	return out, nil
}

func listV1alpha(ctx context.Context, conn *grpc.ClientConn) ([]string, error) {
	st, err := reflectv1alpha.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, err
	}
	defer st.CloseSend()
	if err := st.Send(&reflectv1alpha.ServerReflectionRequest{MessageRequest: &reflectv1alpha.ServerReflectionRequest_ListServices{}}); err != nil {
		return nil, err
	}
	resp, err := st.Recv()
	if err != nil {
		return nil, err
	}
	if e := resp.GetErrorResponse(); e != nil {
		return nil, fmt.Errorf("reflection error %d: %s", e.GetErrorCode(), e.GetErrorMessage())
	}
	var out []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		out = append(out, s.GetName())
	}
	slices.Sort(out)
	return out, nil
}

// missingAPIError says reflection answered without the service's API.
type missingAPIError struct {
	addr, api string
	listed    []string
}

func (e *missingAPIError) Error() string {
	return fmt.Sprintf("reflection on %s lists %s, not %s", e.addr, strings.Join(e.listed, ", "), e.api)
}
