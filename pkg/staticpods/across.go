package staticpods

import (
	"path/filepath"
	"sort"
	"strings"
)

// NodeManifests is one node's manifests dir, for CompareAcrossNodes.
type NodeManifests struct {
	Node string
	// IPs are the node's addresses; in flag values they are replaced by <node-ip> so that the
	// per-node values kubeadm writes (--advertise-address, etcd's URLs) compare equal.
	IPs   []string
	Files []ManifestFile
}

// FlagDrift is one flag (or the image) whose value is not the same on every node. Values maps
// node to value; a node without the flag maps to "<unset>".
type FlagDrift struct {
	Container string            `json:"container"`
	Flag      string            `json:"flag"`
	Values    map[string]string `json:"values"`
}

// ComponentDrift is one static pod compared across nodes.
type ComponentDrift struct {
	Component string `json:"component"`
	// MissingOn lists the nodes that have no manifest of this component.
	MissingOn []string `json:"missingOn,omitempty"`
	// Invalid maps node to the parse error of its manifest.
	Invalid map[string]string `json:"invalid,omitempty"`
	Drift   []FlagDrift       `json:"drift,omitempty"`
}

// AcrossNodesResult is the comparison of the same components' manifests between nodes.
type AcrossNodesResult struct {
	Nodes      []string         `json:"nodes"`
	Components []ComponentDrift `json:"components"`
	Drifts     int              `json:"drifts"`
	// Expected lists the per-member flags that differed, as kubeadm writes them by design, and
	// are therefore not drift (see perMemberFlags).
	Expected []string `json:"expected,omitempty"`
}

// perMemberFlags are flags kubeadm writes differently on each control-plane node by design:
// etcd's initial cluster is the member list at the time that member joined (cp1 lists only
// itself), and etcd reads both only when a member starts with an empty data dir.
var perMemberFlags = map[string]bool{
	"etcd\x00--initial-cluster":       true,
	"etcd\x00--initial-cluster-state": true,
}

// Clean says whether every component is on every node with the same flags and images.
func (r *AcrossNodesResult) Clean() bool {
	for _, c := range r.Components {
		if len(c.MissingOn) > 0 || len(c.Invalid) > 0 || len(c.Drift) > 0 {
			return false
		}
	}
	return true
}

const unset = "<unset>"

// CompareAcrossNodes compares each component's manifest (by file name) between nodes, flag by
// flag and image by image, per container. The node's own name and IPs in values are replaced by
// <node-name> and <node-ip> first: kubeadm writes them per node, and they are not drift.
func CompareAcrossNodes(nodes []NodeManifests) *AcrossNodesResult {
	res := &AcrossNodesResult{Nodes: []string{}, Components: []ComponentDrift{}}
	type perNode map[string]*ManifestFile // node -> file
	byComponent := map[string]perNode{}
	for _, n := range nodes {
		res.Nodes = append(res.Nodes, n.Node)
		for i := range n.Files {
			f := &n.Files[i]
			comp := strings.TrimSuffix(filepath.Base(f.Path), filepath.Ext(f.Path))
			if byComponent[comp] == nil {
				byComponent[comp] = perNode{}
			}
			byComponent[comp][n.Node] = f
		}
	}
	names := make([]string, 0, len(byComponent))
	for c := range byComponent {
		names = append(names, c)
	}
	sort.Strings(names)
	for _, comp := range names {
		cd := ComponentDrift{Component: comp}
		// values[container/flag][node] = value
		values := map[string]map[string]string{}
		var keys []string
		set := func(key, node, value string) {
			if values[key] == nil {
				values[key] = map[string]string{}
				keys = append(keys, key)
			}
			values[key][node] = value
		}
		var present []NodeManifests
		for _, n := range nodes {
			f := byComponent[comp][n.Node]
			switch {
			case f == nil:
				cd.MissingOn = append(cd.MissingOn, n.Node)
				continue
			case f.Error != "" || f.Pod == nil:
				if cd.Invalid == nil {
					cd.Invalid = map[string]string{}
				}
				cd.Invalid[n.Node] = f.Error
				continue
			}
			present = append(present, n)
			norm := normalizer(n)
			for _, c := range f.Pod.Spec.Containers {
				set(c.Name+"\x00image", n.Node, c.Image)
				cl := ParseCommandLine(append(append([]string{}, c.Command...), c.Args...))
				for name, v := range cl.flagMap() {
					set(c.Name+"\x00"+name, n.Node, norm.Replace(v))
				}
			}
		}
		sort.Strings(keys)
		for _, key := range keys {
			byNode := values[key]
			same, first := true, ""
			for i, n := range present {
				v, ok := byNode[n.Node]
				if !ok {
					v = unset
				}
				if i == 0 {
					first = v
				} else if v != first {
					same = false
				}
			}
			if same {
				continue
			}
			container, flag, _ := strings.Cut(key, "\x00")
			if perMemberFlags[key] {
				res.Expected = append(res.Expected, comp+" "+container+" "+flag)
				continue
			}
			fd := FlagDrift{Container: container, Flag: flag, Values: map[string]string{}}
			for _, n := range present {
				v, ok := byNode[n.Node]
				if !ok {
					v = unset
				}
				fd.Values[n.Node] = v
			}
			cd.Drift = append(cd.Drift, fd)
			res.Drifts++
		}
		res.Components = append(res.Components, cd)
	}
	return res
}

// normalizer replaces a node's own name and addresses in a flag value.
func normalizer(n NodeManifests) *strings.Replacer {
	var pairs []string
	ips := append([]string(nil), n.IPs...)
	// Longer first, so that 10.0.0.10 is not rewritten as <node-ip>0 by 10.0.0.1.
	sort.Slice(ips, func(i, j int) bool { return len(ips[i]) > len(ips[j]) })
	for _, ip := range ips {
		if ip != "" {
			pairs = append(pairs, ip, "<node-ip>")
		}
	}
	if n.Node != "" {
		pairs = append(pairs, n.Node, "<node-name>")
	}
	return strings.NewReplacer(pairs...)
}
