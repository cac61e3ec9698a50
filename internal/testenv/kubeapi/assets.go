package kubeapi

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// AssetsEnv names the environment variable holding the directory with the
// etcd and kube-apiserver binaries, as printed by scripts/kube-tools.sh.
const AssetsEnv = "NOVADEV_KUBE_ASSETS"

// errNoAssets marks "the binaries are simply not there", which skips a test
// on a developer machine; anything else (a wrong NOVADEV_KUBE_ASSETS) fails.
var errNoAssets = errors.New("etcd and kube-apiserver binaries not found; build them with: export " + AssetsEnv + "=$(scripts/kube-tools.sh)")

// assets is where the two binaries live.
type assets struct {
	etcd, apiserver string
}

// findAssets looks in $NOVADEV_KUBE_ASSETS, else in the newest complete
// directory under the cache that scripts/kube-tools.sh fills.
func findAssets() (assets, error) {
	if dir := os.Getenv(AssetsEnv); dir != "" {
		a, ok := assetsIn(dir)
		if !ok {
			return assets{}, fmt.Errorf("%s=%s does not hold executable etcd and kube-apiserver files", AssetsEnv, dir)
		}
		return a, nil
	}
	root, err := cacheDir()
	if err != nil {
		return assets{}, fmt.Errorf("%w (%v)", errNoAssets, err)
	}
	dirs, _ := filepath.Glob(filepath.Join(root, "kube", "*"))
	type found struct {
		a     assets
		mtime int64
	}
	var all []found
	for _, d := range dirs {
		a, ok := assetsIn(d)
		if !ok {
			continue
		}
		fi, err := os.Stat(a.apiserver)
		if err != nil {
			continue
		}
		all = append(all, found{a, fi.ModTime().UnixNano()})
	}
	if len(all) == 0 {
		return assets{}, fmt.Errorf("%w (looked in %s)", errNoAssets, filepath.Join(root, "kube"))
	}
	// Several pins may be cached side by side; the newest build is the one
	// this checkout most likely asked for.
	sort.Slice(all, func(i, j int) bool { return all[i].mtime > all[j].mtime })
	return all[0].a, nil
}

// cacheDir mirrors the default of scripts/kube-tools.sh.
func cacheDir() (string, error) {
	if d := os.Getenv("NOVADEV_CACHE"); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".cache", "novadev"), nil
}

func assetsIn(dir string) (assets, bool) {
	a := assets{etcd: filepath.Join(dir, "etcd"), apiserver: filepath.Join(dir, "kube-apiserver")}
	return a, isExecutable(a.etcd) && isExecutable(a.apiserver)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// required reports whether a missing apiserver must fail rather than skip:
// in CI and in explicit end-to-end runs a skip would hide a broken setup.
func required() bool {
	return os.Getenv("NOVADEV_E2E") == "1" || os.Getenv("CI") == "true"
}

// skipOrFatal ends the test because the environment cannot start.
func skipOrFatal(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, errNoAssets) && !required() {
		t.Skipf("kubeapi: %v", err)
	}
	t.Fatalf("kubeapi: %v", err)
}
