package harness

import (
	"fmt"
	"time"
)

// CertExpiry is one certificate in `kubeadm certs check-expiration -o json` or in the plugin's
// `certs check -o json` (the fields the two share, and the plugin's node and status).
type CertExpiry struct {
	Node              string     `json:"node"`
	Name              string     `json:"name"`
	Path              string     `json:"path"`
	ExpirationDate    *time.Time `json:"expirationDate"` // kubeadm
	NotAfter          *time.Time `json:"notAfter"`       // the plugin
	CAName            string     `json:"caName"`
	Missing           bool       `json:"missing"`
	ExternallyManaged bool       `json:"externallyManaged"`
	Status            string     `json:"status"`
}

// CertExpiryReport is either report.
type CertExpiryReport struct {
	Certificates []CertExpiry `json:"certificates"`
	CAs          []CertExpiry `json:"certificateAuthorities"`
	Nodes        []struct {
		Name, Status string
	} `json:"nodes"`
}

// KubeadmMismatches compares kubeadm's report of node with the plugin's (whose entries for that
// node carry Node == node; "" for a report without nodes), certificate by certificate: the same
// expiry to the second, CA, missing and externally managed. It returns one line per difference.
func KubeadmMismatches(kubeadm, ours CertExpiryReport, node string) []string {
	byName := map[string]CertExpiry{}
	for _, c := range append(append([]CertExpiry{}, ours.Certificates...), ours.CAs...) {
		if c.Node == node {
			byName[c.Name] = c
		}
	}
	var out []string
	prefix := ""
	if node != "" {
		prefix = node + " "
	}
	for _, k := range append(append([]CertExpiry{}, kubeadm.Certificates...), kubeadm.CAs...) {
		o, ok := byName[k.Name]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s%s: kubeadm lists it, certs check does not", prefix, k.Name))
		case k.Missing != o.Missing:
			out = append(out, fmt.Sprintf("%s%s: missing: kubeadm %v, ours %v", prefix, k.Name, k.Missing, o.Missing))
		case !k.Missing && (k.ExpirationDate == nil || o.NotAfter == nil || !k.ExpirationDate.Equal(*o.NotAfter)):
			out = append(out, fmt.Sprintf("%s%s: expiry kubeadm %v, ours %v", prefix, k.Name, k.ExpirationDate, o.NotAfter))
		case k.CAName != o.CAName || k.ExternallyManaged != o.ExternallyManaged:
			out = append(out, fmt.Sprintf("%s%s: kubeadm %+v, ours %+v", prefix, k.Name, k, o))
		}
	}
	return out
}
