// Package users onboards a person: key, CSR signed through the certificates API or by a local CA,
// kubeconfig credentials and context, an RBAC binding, and a check of the access it gives.
package users

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/clusterops/kubectl-clusterops/internal/namehash"
	"github.com/clusterops/kubectl-clusterops/pkg/rbac"
)

// Labels and annotations on the objects this package creates.
const (
	LabelManagedBy     = "app.kubernetes.io/managed-by"
	ManagedBy          = "kubectl-clusterops"
	LabelUser          = "clusterops.io/user"      // a label-safe form of the user name
	AnnotationUserName = "clusterops.io/user-name" // the exact user name
)

// ValidateIdentity checks a user name and its groups. Names and groups in the system: namespace
// (system:masters, system:nodes, ...) are refused unless allowPrivileged: a cert with them can
// bypass RBAC or act as a node, and it cannot be revoked.
func ValidateIdentity(name string, groups []string, allowPrivileged bool) error {
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("missing user name: give NAME, e.g. 'kubectl clusterops user create jane'")
	}
	if name != strings.TrimSpace(name) || strings.ContainsAny(name, "\n\r\t") {
		return fmt.Errorf("user name %q has leading/trailing spaces or control characters: give the name alone", name)
	}
	for _, g := range groups {
		if strings.TrimSpace(g) == "" {
			return fmt.Errorf("empty --group: give a group name, e.g. --group developers")
		}
	}
	if allowPrivileged {
		return nil
	}
	if rbac.IsSystemName(name) {
		return fmt.Errorf("user name %q is in the reserved system: namespace: choose another name, or give --allow-privileged-group if you really mean it", name)
	}
	for _, g := range groups {
		if rbac.IsSystemName(g) {
			return fmt.Errorf("group %q is a privileged system group (system:masters bypasses RBAC and a cert cannot be revoked): bind a role instead, or give --allow-privileged-group if you really mean it", g)
		}
	}
	return nil
}

var notDNS = regexp.MustCompile(`[^a-z0-9.-]+`)

// labelSafe turns any user name into a DNS-1123-ish token (lowercase, [a-z0-9.-]), at most max bytes.
func labelSafe(name string, max int) string {
	s := notDNS.ReplaceAllString(strings.ToLower(name), "-")
	s = strings.Trim(s, "-.")
	if len(s) > max {
		s = strings.Trim(s[:max], "-.")
	}
	if s == "" {
		s = "user"
	}
	return s
}

// shortHash is 8 hex digits of sha256 over the parts.
func shortHash(parts ...string) string { return namehash.Short(parts...) }

// CSRName is a valid DNS subdomain for the CertificateSigningRequest of name, whatever name is:
// "clusterops-<safe name>-<hash>". The hash covers the exact name and the time, so two names that
// map to the same safe form, or the same user onboarded twice, never clash.
func CSRName(name string, now time.Time) string {
	return "clusterops-" + labelSafe(name, 200) + "-" + shortHash(name, now.UTC().Format(time.RFC3339Nano))
}

// UserLabel is the value of LabelUser for name: label-safe, with a hash when it had to change.
func UserLabel(name string) string {
	safe := labelSafe(name, 54)
	if safe == name {
		return safe
	}
	return safe + "-" + shortHash(name)
}
