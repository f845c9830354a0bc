package certs

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// CAStatus is one CA with what depends on it.
type CAStatus struct {
	CA
	// Signs are the catalogue certificates this CA issued.
	Signs []string `json:"signs"`
	// Trusted are the components that trust it, through which flag or file.
	TrustedBy []string `json:"trustedBy"`
}

// PlanStep is one step of the CA rotation plan.
type PlanStep struct {
	Step     int      `json:"step"`
	Title    string   `json:"title"`
	Detail   string   `json:"detail,omitempty"`
	Commands []string `json:"commands,omitempty"`
}

// CAReport is the result of `certs ca`.
type CAReport struct {
	CAs []CAStatus `json:"certificateAuthorities"`
	// RotateFirst is the CA that expires first, the one the plan is written for.
	RotateFirst string     `json:"rotateFirst,omitempty"`
	Plan        []PlanStep `json:"plan"`
}

func trustedBy(name string) []string {
	switch name {
	case "ca":
		return []string{"kube-apiserver --client-ca-file", "kube-controller-manager --root-ca-file/--client-ca-file",
			"kube-scheduler --client-ca-file", "every kubeconfig (certificate-authority-data)", "kubelet --client-ca-file (config.yaml clientCAFile)",
			"kube-root-ca.crt ConfigMaps (pods' service account CA)", "cluster-info ConfigMap (kubeadm join)"}
	case "etcd-ca":
		return []string{"etcd --trusted-ca-file/--peer-trusted-ca-file", "kube-apiserver --etcd-cafile"}
	case "front-proxy-ca":
		return []string{"kube-apiserver --requestheader-client-ca-file", "extension API servers (extension-apiserver-authentication ConfigMap)"}
	}
	return nil
}

// CAStatusReport reads the CAs of the layout and writes an ordered rotation plan for the one that
// expires first. It changes nothing.
func CAStatusReport(l Layout, now time.Time, warnWithin time.Duration) (*CAReport, error) {
	r, err := CheckNode(l, now, warnWithin)
	if err != nil {
		return nil, err
	}
	out := &CAReport{}
	var first *CA
	for i := range r.CAs {
		ca := r.CAs[i]
		st := CAStatus{CA: ca, Signs: []string{}, TrustedBy: trustedBy(ca.Name)}
		for _, s := range Catalogue() {
			if s.CAName == ca.Name && s.Kubeadm {
				st.Signs = append(st.Signs, s.Name)
			}
		}
		out.CAs = append(out.CAs, st)
		if ca.NotAfter != nil && (first == nil || ca.NotAfter.Before(*first.NotAfter)) {
			first = &r.CAs[i]
		}
	}
	name := "ca"
	if first != nil {
		name = first.Name
		out.RotateFirst = name
	}
	var ext bool
	for _, ca := range r.CAs {
		if ca.Name == name {
			ext = ca.ExternallyManaged
		}
	}
	out.Plan = rotationPlan(l, name, ext)
	return out, nil
}

func rotationPlan(l Layout, name string, external bool) []PlanStep {
	certPath, keyPath := l.caPaths(name)
	crt, key := l.displayPath(certPath), l.displayPath(keyPath)
	var signs []string
	restart := map[string]bool{}
	for _, s := range Catalogue() {
		if s.CAName == name && s.Renewable {
			signs = append(signs, s.Name)
			for _, c := range s.Components {
				restart[c] = true
			}
		}
	}
	var pods []string
	for _, c := range StaticPodOrder() {
		if restart[c] || name == "ca" {
			pods = append(pods, c)
		}
	}
	steps := []PlanStep{
		{Title: "Back up the PKI, the kubeconfigs and etcd",
			Detail: "Keep the old CA: you need it to roll back and to trust old certificates during the overlap.",
			Commands: []string{"kubectl clusterops certs check   # every certificate and what signs it",
				"cp -a /etc/kubernetes /root/kubernetes-before-" + name + "-rotation",
				"kubectl clusterops etcd snapshot save   # or etcdctl snapshot save"}},
		{Title: "Make the new " + name + " key pair, outside the PKI dir",
			Detail: "Same subject as the old CA, new key, 10 years. With an external CA, get the new CA from it instead.",
			Commands: []string{"mkdir -p /root/new-" + name + " && openssl req -x509 -newkey rsa:2048 -nodes -days 3650 " +
				"-subj \"/CN=" + caCommonName(name) + "\" -keyout /root/new-" + name + "/ca.key -out /root/new-" + name + "/ca.crt"}},
		{Title: "Trust both CAs everywhere (bundle = old + new)",
			Detail: "On every control-plane node, replace " + crt + " with the bundle (old CA first, new CA second), keep the OLD " + key +
				" for now. Put the bundle in certificate-authority-data of every kubeconfig that talks to this cluster.",
			Commands: []string{"cat " + crt + " /root/new-" + name + "/ca.crt > /root/" + name + "-bundle.crt",
				"cp /root/" + name + "-bundle.crt " + crt}},
		{Title: "Restart the components that read the CA, one at a time, on every control-plane node",
			Commands: restartCommands(l, pods)},
	}
	if name == "ca" {
		steps = append(steps,
			PlanStep{Title: "Let pods learn the bundle",
				Detail: "kube-controller-manager publishes its root CA to every kube-root-ca.crt ConfigMap; restart workloads that " +
					"cache the CA. Update the cluster-info ConfigMap in kube-public (kubeadm join) with the bundle.",
				Commands: []string{"kubectl get cm -A --field-selector metadata.name=kube-root-ca.crt",
					"kubectl -n kube-public edit cm cluster-info"}},
			PlanStep{Title: "Update every kubelet",
				Detail: "Point each node's clientCAFile and kubelet.conf certificate-authority-data at the bundle, restart the kubelet, " +
					"and let it get a client certificate from the new CA (kubelet-client-current.pem)."})
	}
	steps = append(steps,
		PlanStep{Title: "Sign with the new CA",
			Detail: "Put the NEW key in " + key + " (the certificate file keeps the bundle) and renew every certificate it signs: " +
				strings.Join(signs, ", ") + ". Check that every one verifies.",
			Commands: []string{"cp /root/new-" + name + "/ca.key " + key,
				"kubectl clusterops certs renew " + strings.Join(signs, " ") + " --root / --restart-static-pods",
				"kubectl clusterops certs check"}},
		PlanStep{Title: "Drop the old CA",
			Detail: "When every client and node uses certificates from the new CA, replace the bundle with the new CA alone " +
				"in " + crt + ", the kubeconfigs and the ConfigMaps, and restart the same components again.",
			Commands: []string{"cp /root/new-" + name + "/ca.crt " + crt}},
	)
	if external {
		steps[1].Detail = name + " is externally managed (no " + key + "): get the new CA and its signed certificates from " +
			"your external CA; use 'kubectl clusterops certs renew --csr-only all' for the requests."
	}
	for i := range steps {
		steps[i].Step = i + 1
	}
	return steps
}

func caCommonName(name string) string {
	switch name {
	case "etcd-ca":
		return "etcd-ca"
	case "front-proxy-ca":
		return "front-proxy-ca"
	}
	return "kubernetes"
}

// String renders a plan step on lines, for the table output.
func (s PlanStep) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d. %s\n", s.Step, s.Title)
	if s.Detail != "" {
		fmt.Fprintf(&b, "   %s\n", s.Detail)
	}
	for _, c := range s.Commands {
		fmt.Fprintf(&b, "   $ %s\n", c)
	}
	return b.String()
}

func restartCommands(l Layout, pods []string) []string {
	var out []string
	for _, p := range pods {
		m := l.displayPath(filepath.Join(l.ManifestsDir(), p+".yaml"))
		tmp := l.displayPath(l.TmpDir())
		out = append(out, fmt.Sprintf("mv %s %s/ && sleep 20 && mv %s/%s.yaml %s", m, tmp, tmp, p, m))
	}
	return out
}
