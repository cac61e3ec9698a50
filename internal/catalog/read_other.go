//go:build !unix

package catalog

import "os"

func openNoBlock(name string) (*os.File, error) { return os.Open(name) }
