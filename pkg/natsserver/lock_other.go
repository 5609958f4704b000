//go:build !unix

package natsserver

// lockStore does not lock where flock is missing.
func lockStore(string) (func(), error) { return func() {}, nil }
