//go:build unix

package catalog

import (
	"os"
	"syscall"
)

// openNoBlock opens for reading without blocking: a fifo swapped in after
// the Stat check must not hang the loader (the second check refuses it).
func openNoBlock(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
