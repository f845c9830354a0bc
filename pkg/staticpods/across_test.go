package staticpods

import (
	"testing"
)

func TestCompareAcrossNodes(t *testing.T) {
	manifest := func(ip, name, extra string) []ManifestFile {
		pod, err := ParseManifest([]byte(`apiVersion: v1
kind: Pod
metadata: {name: kube-apiserver, namespace: kube-system}
spec:
  containers:
  - name: kube-apiserver
    image: registry.k8s.io/kube-apiserver:v1.37.2
    command:
    - kube-apiserver
    - --advertise-address=` + ip + `
    - --etcd-servers=https://` + ip + `:2379
    - --hostname-override=` + name + extra + `
`))
		if err != nil {
			t.Fatal(err)
		}
		return []ManifestFile{{Path: "/etc/kubernetes/manifests/kube-apiserver.yaml", Pod: pod}}
	}
	res := CompareAcrossNodes([]NodeManifests{
		{Node: "cp-1", IPs: []string{"10.0.0.1"}, Files: manifest("10.0.0.1", "cp-1", "")},
		{Node: "cp-2", IPs: []string{"10.0.0.2"}, Files: manifest("10.0.0.2", "cp-2", "\n    - --audit-log-maxage=7")},
		{Node: "cp-3", IPs: []string{"10.0.0.13"}, Files: manifest("10.0.0.13", "cp-3", "")},
	})
	if res.Drifts != 1 || len(res.Components) != 1 {
		t.Fatalf("%+v", res)
	}
	d := res.Components[0].Drift[0]
	if d.Flag != "--audit-log-maxage" || d.Values["cp-2"] != "7" || d.Values["cp-1"] != unset || d.Values["cp-3"] != unset {
		t.Errorf("%+v", d)
	}
	missing := CompareAcrossNodes([]NodeManifests{
		{Node: "cp-1", Files: manifest("10.0.0.1", "cp-1", "")},
		{Node: "cp-2"},
	})
	if len(missing.Components[0].MissingOn) != 1 || missing.Components[0].MissingOn[0] != "cp-2" || missing.Clean() {
		t.Errorf("%+v", missing.Components)
	}
}

// kubeadm writes etcd's initial cluster per member (cp1 lists itself only): that is not drift,
// and it is listed as expected; any other etcd flag that differs still is.
func TestCompareAcrossNodesEtcdPerMemberFlags(t *testing.T) {
	etcd := func(initial, state, extra string) []ManifestFile {
		pod, err := ParseManifest([]byte(`apiVersion: v1
kind: Pod
metadata: {name: etcd, namespace: kube-system}
spec:
  containers:
  - name: etcd
    image: registry.k8s.io/etcd:3.6.5-0
    command:
    - etcd
    - --initial-cluster=` + initial + state + extra + `
`))
		if err != nil {
			t.Fatal(err)
		}
		return []ManifestFile{{Path: "/etc/kubernetes/manifests/etcd.yaml", Pod: pod}}
	}
	res := CompareAcrossNodes([]NodeManifests{
		{Node: "cp1", IPs: []string{"10.0.0.1"}, Files: etcd("cp1=https://10.0.0.1:2380", "", "")},
		{Node: "cp2", IPs: []string{"10.0.0.2"}, Files: etcd("cp1=https://10.0.0.1:2380,cp2=https://10.0.0.2:2380", "\n    - --initial-cluster-state=existing", "")},
		{Node: "cp3", IPs: []string{"10.0.0.3"}, Files: etcd("cp1=https://10.0.0.1:2380,cp2=https://10.0.0.2:2380,cp3=https://10.0.0.3:2380", "\n    - --initial-cluster-state=existing", "\n    - --snapshot-count=5000")},
	})
	if res.Drifts != 1 || len(res.Components[0].Drift) != 1 || res.Components[0].Drift[0].Flag != "--snapshot-count" {
		t.Fatalf("want only --snapshot-count as drift: %+v", res.Components)
	}
	if len(res.Expected) != 2 || res.Expected[0] != "etcd etcd --initial-cluster" || res.Expected[1] != "etcd etcd --initial-cluster-state" {
		t.Errorf("expected: %q", res.Expected)
	}
}
