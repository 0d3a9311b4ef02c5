package store

// LockSupported says whether OpenFile keeps a second store out of a
// directory on this platform.
const LockSupported = lockSupported
