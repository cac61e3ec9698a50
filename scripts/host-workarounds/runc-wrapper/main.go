// Command runc-wrapper is registered as dockerd's default runtime on hosts
// whose dockerd runs without some capabilities in its bounding set (these VMs
// lack CAP_SYS_RESOURCE). Docker 20.10 gives a --privileged container every
// capability the kernel knows, runc then fails with "unable to apply caps:
// operation not permitted", and kind's node containers cannot start.
//
// Before `runc create`/`runc run` (the bundle's config.json) and `runc exec`
// (the --process file), it removes from every capability set of the OCI
// process the capabilities that this process's own bounding set lacks, which
// no container could have received anyway; then it execs the real runc with
// the same arguments. Everything else passes through untouched, so on a host
// with a full bounding set it changes nothing.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// realRunc is the runc this wrapper execs; host-workarounds.sh sets it at
// build time (-X main.realRunc=...).
var realRunc = "/usr/sbin/runc"

func main() {
	if err := adjust(os.Args[1:]); err != nil {
		// Failing here would only replace runc's own error by ours; say
		// why and let runc run with the spec as it was.
		fmt.Fprintf(os.Stderr, "runc-wrapper: %v (passing the spec through unchanged)\n", err)
	}
	argv := append([]string{realRunc}, os.Args[1:]...)
	err := syscall.Exec(realRunc, argv, os.Environ())
	fmt.Fprintf(os.Stderr, "runc-wrapper: exec %s: %v\n", realRunc, err)
	os.Exit(127)
}

// adjust finds the spec file the runc command line names, if any, and drops
// the capabilities the bounding set lacks from it.
func adjust(args []string) error {
	file, isProcess := specFile(args)
	if file == "" {
		return nil
	}
	missing, err := missingCaps()
	if err != nil || len(missing) == 0 {
		return err
	}
	return rewrite(file, isProcess, missing)
}

// specFile returns the JSON file runc reads for this command: the bundle's
// config.json for create/run (--bundle/-b, default the working directory),
// the --process/-p file for exec (none: exec takes its process from
// arguments, with the container's capabilities).
func specFile(args []string) (file string, isProcess bool) {
	cmd, rest := subcommand(args)
	switch cmd {
	case "create", "run":
		bundle := flagValue(rest, "bundle", "b")
		if bundle == "" {
			bundle = "."
		}
		return filepath.Join(bundle, "config.json"), false
	case "exec":
		return flagValue(rest, "process", "p"), true
	}
	return "", false
}

// globalWithValue are runc's global flags that take a separate value.
var globalWithValue = map[string]bool{"--root": true, "--log": true, "--log-format": true, "--criu": true, "--rootless": true}

// subcommand skips runc's global flags and returns the command and what
// follows it.
func subcommand(args []string) (string, []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			return a, args[i+1:]
		}
		if globalWithValue[a] {
			i++
		}
	}
	return "", nil
}

// flagValue reads --long V, --long=V, -s V of a subcommand's flags.
func flagValue(args []string, long, short string) string {
	for i, a := range args {
		switch {
		case a == "--"+long || a == "-"+short:
			if i+1 < len(args) {
				return args[i+1]
			}
		case strings.HasPrefix(a, "--"+long+"="):
			return strings.TrimPrefix(a, "--"+long+"=")
		}
	}
	return ""
}

// capNames are the kernel's capabilities by number (linux/capability.h).
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
	"CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// missingCaps names the known capabilities absent from this process's
// bounding set (CapBnd in /proc/self/status).
func missingCaps() (map[string]bool, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		hex, ok := strings.CutPrefix(sc.Text(), "CapBnd:")
		if !ok {
			continue
		}
		bnd, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("/proc/self/status: CapBnd %q: %v", hex, err)
		}
		return missingFrom(bnd), nil
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("/proc/self/status has no CapBnd line")
}

// missingFrom lists the capabilities whose bit is clear in the mask.
func missingFrom(bnd uint64) map[string]bool {
	missing := map[string]bool{}
	for i, name := range capNames {
		if bnd&(1<<uint(i)) == 0 {
			missing[name] = true
		}
	}
	return missing
}

// rewrite drops the missing capabilities from the file's capability sets
// (process.capabilities in a config.json, capabilities in a process file),
// and leaves the file untouched when there is nothing to drop.
func rewrite(file string, isProcess bool, missing map[string]bool) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	out, changed, err := dropCaps(data, isProcess, missing)
	if err != nil || !changed {
		return err
	}
	fi, err := os.Stat(file)
	if err != nil {
		return err
	}
	tmp := file + ".runc-wrapper"
	if err := os.WriteFile(tmp, out, fi.Mode().Perm()); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// dropCaps is rewrite's pure part. Numbers are kept as written (UseNumber):
// a spec holds 64-bit limits that float64 would round.
func dropCaps(data []byte, isProcess bool, missing map[string]bool) ([]byte, bool, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, false, err
	}
	proc := doc
	if !isProcess {
		p, ok := doc["process"].(map[string]any)
		if !ok {
			return nil, false, nil
		}
		proc = p
	}
	caps, ok := proc["capabilities"].(map[string]any)
	if !ok {
		return nil, false, nil
	}
	changed := false
	for set, v := range caps {
		list, ok := v.([]any)
		if !ok {
			continue
		}
		kept := make([]any, 0, len(list))
		for _, c := range list {
			if s, ok := c.(string); ok && missing[s] {
				changed = true
				continue
			}
			kept = append(kept, c)
		}
		caps[set] = kept
	}
	if !changed {
		return nil, false, nil
	}
	out, err := json.Marshal(doc)
	return out, true, err
}
