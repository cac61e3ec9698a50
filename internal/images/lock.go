// Package images reads and writes the images lock file: the manifest
// digest of every upstream store image an environment pulls, so an up
// tomorrow runs the same bits as today (docs/images.md). The keys are the
// canonical upstream references (docker.io/library/postgres:15), whatever
// mirror serves them: a pull-through mirror serves the upstream digests.
package images

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/distribution/reference"
)

// FileName is the lock file's default name, beside the catalog.
const FileName = "images.lock"

// header opens every written lock file.
const header = "# The digest of each upstream image, as `novadev pull --update-lock` pulled it.\n" +
	"# up pulls <image>@<digest> (through the mirror when one is set). Commit this file.\n"

// MaxSize bounds a lock file (a few lines per store).
const MaxSize = 1 << 20

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// Lock maps canonical upstream references to manifest digests.
type Lock map[string]string

// Parse reads a lock file: one "<reference> <digest>" per line; blank
// lines and # comments are ignored. Every bad line is reported as
// file:line: what, at once.
func Parse(file string, data []byte) (Lock, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%s: larger than %d bytes: not a lock file", file, MaxSize)
	}
	l := Lock{}
	var errs []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), MaxSize)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			errs = append(errs, fmt.Sprintf("%s:%d: want \"<image> sha256:<digest>\", got %d fields", file, n, len(f)))
			continue
		}
		ref, err := Canonical(f[0])
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s:%d: image %q: %v", file, n, f[0], err))
			continue
		}
		if ref != f[0] {
			errs = append(errs, fmt.Sprintf("%s:%d: image %q: write it in full, %q", file, n, f[0], ref))
			continue
		}
		if !digestRE.MatchString(f[1]) {
			errs = append(errs, fmt.Sprintf("%s:%d: digest %q: want sha256: and 64 lower-case hex digits", file, n, f[1]))
			continue
		}
		if _, dup := l[ref]; dup {
			errs = append(errs, fmt.Sprintf("%s:%d: %s is listed twice", file, n, ref))
			continue
		}
		l[ref] = f[1]
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Sprintf("%s: %v", file, err))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s\n(novadev pull --update-lock rewrites the file)", strings.Join(errs, "\n"))
	}
	return l, nil
}

// Format writes the lock sorted by reference, with the header.
func (l Lock) Format() []byte {
	var b bytes.Buffer
	b.WriteString(header)
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %s\n", k, l[k])
	}
	return b.Bytes()
}

// Canonical is ref fully qualified with its tag
// (postgres:15 -> docker.io/library/postgres:15); a reference with a
// digest or without a tag is refused: the lock pins tags.
func Canonical(ref string) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", err
	}
	if _, ok := named.(reference.Digested); ok {
		return "", fmt.Errorf("already pinned by digest")
	}
	if _, ok := named.(reference.Tagged); !ok {
		return "", fmt.Errorf("no tag: the lock pins tags (e.g. postgres:15)")
	}
	return named.String(), nil
}

// Pin is ref (as it is pulled, e.g. through a mirror) pinned to digest:
// its name, tag kept for people reading it, and @digest.
func Pin(ref, digest string) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", err
	}
	if !digestRE.MatchString(digest) {
		return "", fmt.Errorf("digest %q: want sha256: and 64 hex digits", digest)
	}
	return reference.FamiliarString(named) + "@" + digest, nil
}
