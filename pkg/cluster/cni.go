package cluster

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// CNIDirectory is where container runtimes read CNI network configs, relative to a node root.
const CNIDirectory = "/etc/cni/net.d"

// CNIDetection is one sign of a CNI plugin: a DaemonSet, or a config file on the node.
type CNIDetection struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	// Ready is "3/3" for a DaemonSet, "" for a config file.
	Ready string `json:"ready,omitempty"`
}

// cniInfo is one row of the built-in table of CNI plugins: how to recognise it and whether it
// enforces NetworkPolicy, with the documentation that says so.
type cniInfo struct {
	name        string
	daemonSets  []string // DaemonSet names (any namespace)
	configTypes []string // "type" of the main plugin in a CNI config, or the network "name"
	enforces    string   // yes | no
	source      string
}

// cniTable is the built-in table. Sources are each project's own documentation.
var cniTable = []cniInfo{
	{"calico", []string{"calico-node"}, []string{"calico"}, "yes", "https://docs.tigera.io/calico/latest/network-policy/get-started/kubernetes-policy/kubernetes-network-policy"},
	{"cilium", []string{"cilium"}, []string{"cilium-cni"}, "yes", "https://docs.cilium.io/en/stable/security/policy/"},
	{"canal", []string{"canal"}, []string{}, "yes", "https://docs.tigera.io/calico/latest/getting-started/kubernetes/flannel/install-for-flannel (Calico policy on flannel networking)"},
	{"flannel", []string{"kube-flannel-ds", "flannel"}, []string{"flannel"}, "no", "https://github.com/flannel-io/flannel#networking-details (flannel is networking only; pair it with a policy engine such as Calico)"},
	{"weave", []string{"weave-net"}, []string{"weave-net"}, "yes", "https://github.com/weaveworks/weave/blob/master/site/kubernetes/kube-addon.md#network-policy"},
	{"antrea", []string{"antrea-agent"}, []string{"antrea"}, "yes", "https://antrea.io/docs/main/docs/antrea-network-policy/"},
	{"kube-router", []string{"kube-router"}, []string{}, "yes", "https://www.kube-router.io/docs/user-guide/ (network policy controller, on by default)"},
	{"kindnet", []string{"kindnet"}, []string{"kindnet"}, "yes", "https://kindnet.es/docs/user/network-policies (kindnet v1 and later; the kindnet of older kind releases does not)"},
}

// genericCNI are the CNI reference plugins: they give connectivity and no policy.
var genericCNI = map[string]bool{"bridge": true, "ptp": true, "macvlan": true, "ipvlan": true, "host-device": true, "vlan": true, "dummy": true}

const genericSource = "https://www.cni.dev/plugins/current/ (the reference plugins connect pods; none implements NetworkPolicy)"

// chained are meta plugins that follow the main plugin in a conflist.
var chained = map[string]bool{"portmap": true, "bandwidth": true, "tuning": true, "firewall": true, "sbr": true, "static": true}

func lookupCNI(name string) *cniInfo {
	for i := range cniTable {
		if cniTable[i].name == name {
			return &cniTable[i]
		}
	}
	return nil
}

// cniFromDaemonSet returns the CNI a DaemonSet of this name belongs to, or "".
func cniFromDaemonSet(name string) string {
	for _, c := range cniTable {
		for _, ds := range c.daemonSets {
			if name == ds {
				return c.name
			}
		}
	}
	return ""
}

// ReadCNIConfigs reads dir (a node's /etc/cni/net.d) in name order, as container runtimes do,
// and returns a detection per config file: a known CNI by its plugin type or network name, or a
// reference plugin by its type (e.g. "bridge"). display names the dir in the Source.
func ReadCNIConfigs(dir, display string) ([]CNIDetection, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if !e.IsDir() && (ext == ".conf" || ext == ".conflist" || ext == ".json") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var out []CNIDetection
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			continue
		}
		if name := cniFromConfig(data); name != "" {
			out = append(out, CNIDetection{Name: name, Source: filepath.Join(display, n)})
		}
	}
	return out, nil
}

// cniFromConfig names the CNI of one config (.conf or .conflist): "" when it is not one.
func cniFromConfig(data []byte) string {
	var conf struct {
		Name    string `json:"name"`
		Type    string `json:"type"`
		Plugins []struct {
			Type string `json:"type"`
		} `json:"plugins"`
	}
	if json.Unmarshal(data, &conf) != nil {
		return ""
	}
	types := []string{}
	if conf.Type != "" {
		types = append(types, conf.Type)
	}
	for _, p := range conf.Plugins {
		if !chained[p.Type] {
			types = append(types, p.Type)
		}
	}
	for _, c := range cniTable {
		for _, t := range c.configTypes {
			if t == conf.Name || contains(types, t) {
				return c.name
			}
		}
	}
	if len(types) > 0 {
		return types[0]
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// PolicyEnforcement says whether a CNI enforces NetworkPolicy: "yes", "no" or "unknown", and
// the source of that answer.
func PolicyEnforcement(cni string) (string, string) {
	if c := lookupCNI(cni); c != nil {
		return c.enforces, c.source
	}
	if genericCNI[strings.ToLower(cni)] {
		return "no", genericSource
	}
	return "unknown", "not in the built-in table (calico, cilium, canal, flannel, weave, antrea, kube-router, kindnet, CNI reference plugins)"
}
