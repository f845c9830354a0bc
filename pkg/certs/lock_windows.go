//go:build windows

package certs

// LockRenewal is a no-op on Windows: kubeadm control-plane nodes run Linux, and every file is
// still replaced atomically.
func LockRenewal(Layout) (*RenewalLock, error) { return &RenewalLock{release: func() {}}, nil }
