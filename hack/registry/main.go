// Command registry is the CNCF distribution registry as novadev uses it:
// the kind target's local registry (scripts/images/build.sh registry) and
// the loopback image mirror of internal/app's TestIntegrationMirror
// (scripts/registry.sh), both configured with the filesystem storage driver.
//
// Upstream's cmd/registry also links the Azure, GCS and S3 storage drivers
// and the CloudFront middleware, whose cloud SDKs made most of its cold
// build. The registry picks a driver by its name in the configuration from
// those registered by import, so this main imports the two local ones
// (inmemory serves quick experiments) and the same serve/garbage-collect
// commands upstream's main runs. A configuration naming another driver
// fails at start: "StorageDriver not registered: s3".
package main

import (
	"os"

	"github.com/distribution/distribution/v3/registry"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

func main() {
	// The commands print their own errors; the exit code says one happened.
	if err := registry.RootCmd.Execute(); err != nil {
		os.Exit(1)
	}
}
