package contract

// User is the numeric user and group an image's process runs as.
type User struct {
	UID, GID int64
}

// nonRootImages are the images of the offline set (scripts/images) whose
// store process runs as a non-root user: a volume mounted at its data
// directory must be writable by that user. The ids are what Debian's
// packages create inside novadev/debian-base (USER redis, USER clickhouse
// in the Dockerfiles); an integration test reads them back from the built
// images with `id`. The upstream images start as root and drop privileges
// after fixing their data directory themselves, so they need nothing.
var nonRootImages = map[string]User{
	"novadev/redis:7":          {UID: 100, GID: 102},
	"novadev/clickhouse:18.16": {UID: 102, GID: 104},
}

// ImageUser returns the non-root user an image runs its store as, or false
// when it runs as root (or fixes its own data directory).
func ImageUser(image string) (User, bool) {
	u, ok := nonRootImages[image]
	return u, ok
}

// NonRootImages lists the images ImageUser knows, for tests that check the
// table against the built images.
func NonRootImages() map[string]User {
	out := make(map[string]User, len(nonRootImages))
	for k, v := range nonRootImages {
		out[k] = v
	}
	return out
}
