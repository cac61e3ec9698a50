package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/novadev/novadev/internal/backend/docker/dockertest"
)

// TestIntegrationImageServesContract runs the placeholder image as the
// renderers run it (protos bind-mounted read-only, the contract's
// variables) and checks it with grpcurl, a real gRPC client that knows
// nothing but what the server's reflection sends: user-service lists and
// answers nova.user.v1.UserService (from a fixture), and a gateway
// container in the same network answers GraphQL through to it.
//
// The image is NOVADEV_PLACEHOLDER_IMAGE (default novadev/placeholder:dev,
// built by scripts/images/build.sh); grpcurl is NOVADEV_GRPCURL (set by
// .ci/run from scripts/grpcurl.sh) or grpcurl on PATH.
func TestIntegrationImageServesContract(t *testing.T) {
	dockertest.New(t)
	miss := func(msg string) {
		t.Helper()
		if os.Getenv("NOVADEV_E2E") == "1" {
			t.Fatalf("NOVADEV_E2E=1 but %s", msg)
		}
		t.Skip(msg)
	}
	image := os.Getenv("NOVADEV_PLACEHOLDER_IMAGE")
	if image == "" {
		image = "novadev/placeholder:dev"
	}
	if out, err := exec.Command("docker", "image", "inspect", "--format", "{{.Id}}", image).CombinedOutput(); err != nil {
		miss(fmt.Sprintf("image %s is missing (scripts/images/build.sh placeholder): %s", image, strings.TrimSpace(string(out))))
	}
	grpcurl := os.Getenv("NOVADEV_GRPCURL")
	if grpcurl == "" {
		p, err := exec.LookPath("grpcurl")
		if err != nil {
			miss("no grpcurl: set NOVADEV_GRPCURL or put it on PATH (scripts/grpcurl.sh builds it)")
		}
		grpcurl = p
	}
	protoDir, err := filepath.Abs("../../envs/proto")
	if err != nil {
		t.Fatal(err)
	}

	fixtures := t.TempDir()
	if err := os.MkdirAll(filepath.Join(fixtures, "user-service"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fixtures, "user-service", "Get.json"), []byte(`{"record": {"id": "u-1", "ownerId": "o-7"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(fixtures, 0o755); err != nil { // the image runs as 65534
		t.Fatal(err)
	}

	const label = "novadev.test=cmd-placeholder"
	suffix := fmt.Sprint(time.Now().UnixNano())
	docker := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("docker", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("docker %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	network := "novadev-ph-net-" + suffix
	docker("network", "create", "--label", label, network)
	t.Cleanup(func() { _ = exec.Command("docker", "network", "rm", network).Run() })
	run := func(name string, args ...string) string {
		t.Helper()
		id := docker(append([]string{"run", "-d", "--name", name + "-" + suffix, "--label", label, "--network", network, "--network-alias", name,
			"-v", protoDir + ":/etc/nova/proto:ro", "-p", "127.0.0.1::50051"}, append(args, image)...)...)
		t.Cleanup(func() {
			if t.Failed() {
				out, _ := exec.Command("docker", "logs", "--tail", "30", id).CombinedOutput()
				t.Logf("logs of %s:\n%s", name, out)
			}
			_ = exec.Command("docker", "rm", "-f", "-v", id).Run()
		})
		return id
	}
	port := func(id, p string) string {
		t.Helper()
		for _, l := range strings.Split(docker("port", id, p), "\n") {
			if strings.HasPrefix(l, "127.0.0.1:") {
				return l
			}
		}
		t.Fatalf("%s has no 127.0.0.1 binding for %s", id, p)
		return ""
	}

	user := run("user-service", "-v", fixtures+":/etc/nova/fixtures:ro",
		"-e", "NOVA_SERVICE=user-service", "-e", "NOVA_PROTO_DIR=/etc/nova/proto", "-e", "NOVA_PROTO_FILES=nova/user/v1/user.proto",
		"-e", "NOVA_GRPC_API=nova.user.v1.UserService", "-e", "NOVA_FIXTURES_DIR=/etc/nova/fixtures")
	userAddr := port(user, "50051")
	gw := run("graphql-gateway", "-p", "127.0.0.1::8080",
		"-e", "NOVA_SERVICE=graphql-gateway", "-e", "NOVA_PROTO_DIR=/etc/nova/proto", "-e", "HTTP_PORT=8080",
		"-e", "NOVA_GRPC_DEPENDENCIES=user-service:50051")
	gwHTTP := port(gw, "8080")

	grpc := func(args ...string) (string, error) {
		out, err := exec.Command(grpcurl, append([]string{"-plaintext", "-max-time", "5"}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	var list string
	deadline := time.Now().Add(30 * time.Second)
	for {
		if list, err = grpc(userAddr, "list"); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil || !strings.Contains(list, "nova.user.v1.UserService") || !strings.Contains(list, "grpc.health.v1.Health") {
		t.Fatalf("grpcurl list: %v\n%s", err, list)
	}
	if out, err := grpc(userAddr, "list", "nova.user.v1.UserService"); err != nil || out != "nova.user.v1.UserService.Get\nnova.user.v1.UserService.List" {
		t.Errorf("grpcurl list nova.user.v1.UserService: %v\n%s", err, out)
	}
	out, err := grpc("-d", `{"id": "u-1"}`, userAddr, "nova.user.v1.UserService/Get")
	var got struct{ Record struct{ ID, OwnerID string } }
	if err != nil || json.Unmarshal([]byte(out), &got) != nil || got.Record.ID != "u-1" || got.Record.OwnerID != "o-7" {
		t.Errorf("grpcurl nova.user.v1.UserService/Get: %v\n%s", err, out)
	}
	if out, err := grpc("-d", `{"pageSize": 3}`, userAddr, "nova.user.v1.UserService/List"); err != nil || out != "{}" {
		t.Errorf("grpcurl nova.user.v1.UserService/List (no fixture): %v\n%s", err, out)
	}

	post := func(query string) (int, string) {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"query": query})
		resp, err := http.Post("http://"+gwHTTP+"/graphql", "application/json", bytes.NewReader(body))
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	var code int
	var body string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if code, body = post("{ __typename }"); code == 200 {
			break
		}
	}
	if code != 200 || body != `{"data":{"__typename":"Query"}}`+"\n" {
		t.Fatalf("{ __typename }: %d %s", code, body)
	}
	if code, body = post(`{ userService_Get(id: "u-1") { record { id ownerId } } }`); code != 200 || body != `{"data":{"userService_Get":{"record":{"id":"u-1","ownerId":"o-7"}}}}`+"\n" {
		t.Errorf("userService_Get through the gateway: %d %s", code, body)
	}
	resp, err := http.Get("http://" + gwHTTP + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// the gateway depends on user-service, which is SERVING (no stores)
	if resp.StatusCode != 200 {
		t.Errorf("GET /healthz = %d", resp.StatusCode)
	}
}
