// Package catalogtest builds catalogs for tests and benchmarks.
package catalogtest

import (
	"fmt"
	"strings"
)

// Synthetic returns a valid catalog with n services in layers of about ten,
// each service depending on up to three services of earlier layers, with a
// database each, plus postgres, a redis cluster and kafka: the shape of a
// large platform, for scale tests and benchmarks.
func Synthetic(n int) []byte {
	var b strings.Builder
	b.WriteString(`apiVersion: novadev/v1alpha1
kind: Catalog
metadata: {name: synthetic}
images: {registry: registry.invalid/synthetic, tag: "1"}
hostPortBase: 10000
defaults:
  ports:
    - {name: grpc, port: 50051}
    - {name: metrics, port: 9090}
stores:
  postgres: {kind: postgres, image: postgres:15, host: 10001, extensions: [pgcrypto]}
  redis: {kind: redis-cluster, image: redis:7.0, host: 10011}
  kafka:
    kind: kafka
    image: novadev/kafka:kfake
    host: 10092
    topics:
      - {name: events, partitions: 3}
bootstraps:
  - {name: postgres-init, store: postgres}
  - {name: migrations, store: postgres, needs: [postgres-init]}
  - {name: redis-cluster-init, store: redis}
  - {name: kafka-topics, store: kafka}
services:
`)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  svc-%04d:\n    image: svc-%04d\n    ports:\n      - {name: grpc, host: %d}\n", i, i, 11000+i)
		fmt.Fprintf(&b, "    database: {}\n")
		layer := i / 10
		if layer > 0 {
			var deps []string
			for k := 1; k <= 3; k++ {
				d := (layer-1)*10 + (i*7+k*3)%10
				dep := fmt.Sprintf("svc-%04d", d)
				if !contains(deps, dep) {
					deps = append(deps, dep)
				}
			}
			fmt.Fprintf(&b, "    dependsOn: [%s]\n", strings.Join(deps, ", "))
		}
		switch i % 5 {
		case 1:
			b.WriteString("    uses: {redis: true}\n")
		case 2:
			b.WriteString("    uses: {kafka: {topics: [events]}}\n")
		}
	}
	return []byte(b.String())
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
