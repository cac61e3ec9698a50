package kubecluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/novadev/novadev/internal/verify"
)

// InitContainers returns the init containers of a service's pods (those
// not being deleted). A pod that has not started its init containers yet
// lists each of them as not completed, with the pod's state.
func (i *Instance) InitContainers(ctx context.Context, service string) ([]verify.InitContainer, error) {
	ps, err := i.pods(ctx, service)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("no pods labelled %s in namespace %s", selector(service), i.o.Namespace)
	}
	var out []verify.InitContainer
	for _, p := range ps {
		out = append(out, podInitContainers(&p)...)
	}
	return out, nil
}

func podInitContainers(p *corev1.Pod) []verify.InitContainer {
	status := map[string]corev1.ContainerStatus{}
	for _, s := range p.Status.InitContainerStatuses {
		status[s.Name] = s
	}
	var out []verify.InitContainer
	for _, c := range p.Spec.InitContainers {
		ic := verify.InitContainer{Pod: p.Name, Name: c.Name}
		s, ok := status[c.Name]
		switch {
		case !ok:
			ic.Detail = "no status yet (pod " + string(p.Status.Phase) + ")"
		case s.State.Terminated != nil && s.State.Terminated.ExitCode == 0:
			ic.Completed = true
		default:
			ic.Detail = containerState(s)
		}
		out = append(out, ic)
	}
	return out
}

// ServiceDNSName is a service's in-cluster name:
// <service>.<namespace>.svc.<cluster domain>.
func (i *Instance) ServiceDNSName(service string) string {
	return i.objectName(service) + "." + i.o.Namespace + ".svc." + i.o.ClusterDomain
}

// getent is the lookup command run inside the cluster: glibc's resolver,
// with the pod's resolv.conf, as the guide's `nslookup` in a pod.
var getent = []string{"getent", "hosts"}

// LookupInCluster resolves name from inside the namespace: it runs
// `getent hosts NAME` in a running pod of the environment (the novadev and
// placeholder images hold one binary and no resolver tool; the stores'
// images are Debian-based), so nothing is created in the namespace and the
// lookup goes through the pods' own DNS egress. Exit status 2 means the name
// does not resolve.
func (i *Instance) LookupInCluster(ctx context.Context, name string) ([]string, error) {
	if i.exec == nil {
		return nil, errors.New("in-cluster lookup needs a cluster connection")
	}
	pods, err := i.lookupPods(ctx)
	if err != nil {
		return nil, err
	}
	var tried []string
	for _, p := range pods {
		out, stderr, err := i.exec(ctx, p.pod, p.container, append(slices.Clone(getent), name))
		var code utilexec.CodeExitError
		switch {
		case err == nil:
			i.mu.Lock()
			i.lookupPod = p.pod
			i.mu.Unlock()
			addrs := ParseGetent(out)
			if len(addrs) == 0 {
				return nil, fmt.Errorf("getent hosts %s in pod %s printed no address: %q", name, p.pod, out)
			}
			return addrs, nil
		case errors.As(err, &code) && code.Code == 2:
			return nil, fmt.Errorf("%s does not resolve in pod %s (getent hosts exit 2)", name, p.pod)
		case ctx.Err() != nil:
			return nil, err
		}
		// no getent there (exit 126/127, or exec refused): try the next pod
		tried = append(tried, fmt.Sprintf("%s: %v %s", p.pod, err, strings.TrimSpace(stderr)))
	}
	if len(tried) == 0 {
		return nil, fmt.Errorf("no running store pod in namespace %s to resolve %s from", i.o.Namespace, name)
	}
	return nil, fmt.Errorf("no pod in namespace %s could run getent to resolve %s: %s", i.o.Namespace, name, strings.Join(tried, "; "))
}

type podContainer struct{ pod, container string }

// lookupPods are the pods a lookup may run in: the one that answered
// last, then the Ready pods of the environment's stores in catalog order.
func (i *Instance) lookupPods(ctx context.Context) ([]podContainer, error) {
	i.mu.Lock()
	last := i.lookupPod
	i.mu.Unlock()
	var out []podContainer
	for _, st := range i.c.ActiveStores() {
		if st.External {
			continue
		}
		ps, err := i.pods(ctx, st.Name)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if !PodReady(&p) || len(p.Spec.Containers) == 0 {
				continue
			}
			pc := podContainer{pod: p.Name, container: p.Spec.Containers[0].Name}
			if p.Name == last {
				out = slices.Insert(out, 0, pc)
			} else {
				out = append(out, pc)
			}
			break // one pod per store is enough: they share an image
		}
	}
	return out, nil
}

// ParseGetent returns the addresses of `getent hosts` output (one
// "ADDRESS NAME [ALIAS...]" line per address), deduplicated, in order.
// Lines that do not start with an IP address are ignored.
func ParseGetent(out string) []string {
	var addrs []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || net.ParseIP(f[0]) == nil {
			continue
		}
		if !slices.Contains(addrs, f[0]) {
			addrs = append(addrs, f[0])
		}
	}
	return addrs
}

// remoteExec runs cmd in a pod's container through the API server and
// returns its output; a non-zero exit is a utilexec.CodeExitError.
func (i *Instance) remoteExec(ctx context.Context, pod, container string, cmd []string) (string, string, error) {
	req := i.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(i.o.Namespace).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: cmd, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(i.cfg, "POST", req.URL())
	if err != nil {
		return "", "", err
	}
	var stdout, stderr bytes.Buffer
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr})
	return stdout.String(), stderr.String(), err
}

// NetworkPolicies returns the names of the namespace's NetworkPolicies as
// the kind renderer names them (the overlay's name suffix removed).
func (i *Instance) NetworkPolicies(ctx context.Context) ([]string, error) {
	list, err := i.cs.NetworkingV1().NetworkPolicies(i.o.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list NetworkPolicies in %s: %w", i.o.Namespace, err)
	}
	var out []string
	for _, p := range list.Items {
		out = append(out, i.renderedName(p.Name))
	}
	slices.Sort(out)
	return out, nil
}
