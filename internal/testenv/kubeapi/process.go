package kubeapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// readyTimeout bounds how long etcd plus kube-apiserver may take to become
// ready; ≈4 s is normal, a loaded 2-core CI machine can take several times that.
const readyTimeout = 90 * time.Second

// process is one child binary with its output captured in a file.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when the process has exited
	err  error         // exit status, valid after done
}

func startProcess(name, logPath, bin string, args ...string) (*process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// kill stops the process at once: its data is throwaway, so a graceful
// shutdown would only cost time.
func (p *process) kill() {
	if p == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// tail returns the last lines of the process output, for error messages.
func (p *process) tail(n int) string {
	data, err := os.ReadFile(p.log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// cluster is a running etcd + kube-apiserver pair.
type cluster struct {
	dir       string
	etcd      *process
	apiserver *process
	host      string // https://127.0.0.1:port
	token     string
	caPEM     []byte
}

func (c *cluster) stop() {
	c.apiserver.kill()
	c.etcd.kill()
	_ = os.RemoveAll(c.dir)
}

// startCluster starts etcd and kube-apiserver on free loopback ports. Free
// ports are found by listening and closing, so another process can take one
// in between; such a start is retried with new ports.
func startCluster(a assets) (*cluster, error) {
	var err error
	for range 3 {
		var c *cluster
		c, err = startClusterOnce(a)
		if err == nil {
			return c, nil
		}
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, err
}

func startClusterOnce(a assets) (c *cluster, err error) {
	dir, err := os.MkdirTemp("", "novadev-kubeapi-")
	if err != nil {
		return nil, err
	}
	c = &cluster{dir: dir}
	defer func() {
		if err != nil {
			c.stop()
		}
	}()

	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	clientURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	c.etcd, err = startProcess("etcd", filepath.Join(dir, "etcd.log"), a.etcd,
		"--name=default",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+clientURL,
		"--advertise-client-urls="+clientURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL,
		"--unsafe-no-fsync", // throwaway data: fsync only costs time
		"--log-level=warn",
	)
	if err != nil {
		return nil, err
	}

	certDir := filepath.Join(dir, "certs")
	if err := os.Mkdir(certDir, 0o700); err != nil {
		return nil, err
	}
	keys, err := writePKI(certDir)
	if err != nil {
		return nil, err
	}
	c.caPEM = keys.caPEM
	c.token, err = randomToken()
	if err != nil {
		return nil, err
	}
	tokenFile := filepath.Join(certDir, "tokens.csv")
	// token,user,uid,"groups": system:masters is the admin group, which
	// RBAC allows everything (and to impersonate anyone).
	if err := os.WriteFile(tokenFile, []byte(c.token+`,admin,admin,"system:masters"`+"\n"), 0o600); err != nil {
		return nil, err
	}

	c.host = "https://127.0.0.1:" + strconv.Itoa(ports[2])
	c.apiserver, err = startProcess("kube-apiserver", filepath.Join(dir, "kube-apiserver.log"), a.apiserver,
		"--etcd-servers="+clientURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(ports[2]),
		"--cert-dir="+certDir,
		"--tls-cert-file="+keys.servingCert,
		"--tls-private-key-file="+keys.servingKey,
		"--token-auth-file="+tokenFile,
		// RBAC, as on a real cluster: the admin token is system:masters, and
		// tests impersonate ServiceAccounts to prove what a Role allows.
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+keys.saPublicKey,
		"--service-account-signing-key-file="+keys.saSigningKeyFile,
		"--service-cluster-ip-range=10.96.0.0/16",
		// No kubelet registers endpoints and no controller-manager creates
		// the default ServiceAccount in each namespace, so both are off.
		"--endpoint-reconciler-type=none",
		"--disable-admission-plugins=ServiceAccount",
		"--allow-privileged=true",
	)
	if err != nil {
		return nil, err
	}

	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if err := c.waitReady(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// waitReady polls /readyz until it answers 200, failing early, with the
// process's last log lines, when etcd or kube-apiserver exits.
func (c *cluster) waitReady(ctx context.Context) error {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.caPEM)
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	defer client.CloseIdleConnections()
	var last string
	for {
		for _, p := range []*process{c.etcd, c.apiserver} {
			if p.exited() {
				return fmt.Errorf("%s exited (%v) before the apiserver was ready; last output:\n%s", p.name, p.err, p.tail(30))
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.host+"/readyz", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+c.token)
		resp, err := client.Do(req)
		if err == nil {
			var body bytes.Buffer
			_, _ = body.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, lastLines(body.String(), 10))
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kube-apiserver not ready after %s; last /readyz answer: %s; last apiserver output:\n%s",
				readyTimeout, last, c.apiserver.tail(30))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		addr, ok := ln.Addr().(*net.TCPAddr)
		if !ok {
			return nil, errors.New("listener has no TCP address")
		}
		ports = append(ports, addr.Port)
	}
	return ports, nil
}

func randomToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
