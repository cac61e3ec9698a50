package kubeapi

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeExecutables(t *testing.T, dir string, names ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFindAssets(t *testing.T) {
	t.Run("explicit dir missing a binary fails hard", func(t *testing.T) {
		dir := t.TempDir()
		writeExecutables(t, dir, "etcd")
		t.Setenv(AssetsEnv, dir)
		_, err := findAssets()
		if err == nil || errors.Is(err, errNoAssets) || !strings.Contains(err.Error(), dir) {
			t.Fatalf("err = %v, want a configuration error naming %s", err, dir)
		}
	})
	t.Run("empty cache means not built", func(t *testing.T) {
		t.Setenv(AssetsEnv, "")
		t.Setenv("NOVADEV_CACHE", t.TempDir())
		_, err := findAssets()
		if !errors.Is(err, errNoAssets) {
			t.Fatalf("err = %v, want errNoAssets", err)
		}
	})
	t.Run("cache dir with both binaries is found", func(t *testing.T) {
		cache := t.TempDir()
		t.Setenv(AssetsEnv, "")
		t.Setenv("NOVADEV_CACHE", cache)
		writeExecutables(t, filepath.Join(cache, "kube", "partial"), "kube-apiserver")
		complete := filepath.Join(cache, "kube", "complete")
		writeExecutables(t, complete, "etcd", "kube-apiserver")
		a, err := findAssets()
		if err != nil {
			t.Fatal(err)
		}
		if a.apiserver != filepath.Join(complete, "kube-apiserver") || a.etcd != filepath.Join(complete, "etcd") {
			t.Fatalf("found %+v, want the binaries in %s", a, complete)
		}
	})
}
