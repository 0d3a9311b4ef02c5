//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package store

import "os"

// lockSupported says whether lockFile keeps other stores out.
const lockSupported = false

// lockFile does nothing: this platform has no flock, so keeping a second
// store out of the directory is up to the caller.
func lockFile(*os.File) error { return nil }
