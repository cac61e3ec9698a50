package catalog

import (
	"io/fs"
	"os"
	"path/filepath"
)

// Files is the catalog's file system: the directory holding the catalog
// file, where its environments, protos and migrations live. Renderers read
// their inputs through it and nothing else; paths are slash-separated and
// relative, and fs.FS refuses any that climb out ("..").
func (c *Catalog) Files() fs.FS {
	return os.DirFS(filepath.Dir(c.File))
}
