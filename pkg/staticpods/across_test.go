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
