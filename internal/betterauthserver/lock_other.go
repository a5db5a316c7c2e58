//go:build !unix

package betterauthserver

// lockFile is a no-op where flock is not available: test binaries that
// start servers at the same time may then run npm ci concurrently.
func lockFile(string) (func(), error) { return func() {}, nil }
