package upgrade

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"

	"github.com/clusterops/kubectl-clusterops/pkg/upgrade/helmtest"
)

const cronV1beta1 = `---
# Source: web/templates/cron.yaml
apiVersion: batch/v1beta1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: "0 3 * * *"
`

// helmFixture returns the clients holding the Secrets, and their metadata.
func helmFixture(t *testing.T, secrets ...*corev1.Secret) Sources {
	t.Helper()
	scheme := metadatafake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	var objs, metas []runtime.Object
	for _, s := range secrets {
		objs = append(objs, s)
		metas = append(metas, &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}, ObjectMeta: s.ObjectMeta})
	}
	return Sources{Client: fake.NewClientset(objs...), Metadata: metadatafake.NewSimpleMetadataClient(scheme, metas...), PageSize: 2, Helm: true}
}

func helmSecret(t *testing.T, r helmtest.Release) *corev1.Secret {
	t.Helper()
	s, err := helmtest.Secret(r)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The latest deployed revision of each release is read; superseded revisions, Secrets of
// another type and revisions whose later revision fixed the API are not reported.
func TestScanHelm(t *testing.T) {
	plain := helmSecret(t, helmtest.Release{Name: "legacy", Namespace: "ops", Revision: 1, Status: "deployed",
		Manifest: "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata:\n  name: front\n  namespace: ops\n"})
	// A release stored before Helm compressed them: base64 of the JSON (util.go decodeRelease
	// skips gunzip without the gzip magic).
	plain.Data["release"] = []byte(base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf(
		`{"name":"legacy","namespace":"ops","version":1,"info":{"status":"deployed"},"manifest":%q}`,
		"apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata:\n  name: front\n  namespace: ops\n"))))
	notHelm := helmSecret(t, helmtest.Release{Name: "mimic", Namespace: "shop", Revision: 1, Status: "deployed", Manifest: cronV1beta1})
	notHelm.Type = corev1.SecretTypeOpaque
	src := helmFixture(t,
		helmSecret(t, helmtest.Release{Name: "web", Namespace: "shop", Revision: 1, Status: "superseded", Manifest: cronV1beta1}),
		helmSecret(t, helmtest.Release{Name: "web", Namespace: "shop", Revision: 2, Status: "deployed", Manifest: strings.Replace(cronV1beta1, "batch/v1beta1", "batch/v1", 1)}),
		helmSecret(t, helmtest.Release{Name: "jobs", Namespace: "shop", Revision: 2, Status: "deployed", Manifest: "kind: ConfigMap\napiVersion: v1\nmetadata: {name: a}\n"}),
		helmSecret(t, helmtest.Release{Name: "jobs", Namespace: "shop", Revision: 3, Status: "deployed", Manifest: cronV1beta1 + "---\napiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata:\n  name: restricted\n",
			HookManifests: []string{"apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n---\napiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata:\n  name: hook-pdb\n"}}),
		helmSecret(t, helmtest.Release{Name: "jobs", Namespace: "shop", Revision: 4, Status: "failed", Manifest: cronV1beta1}),
		plain, notHelm,
	)
	objs, err := scanHelm(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, fmt.Sprintf("%s %s %s %s", helmSource(o), o.APIVersion, o.Resource, o.Name))
	}
	want := []string{
		"helm release legacy (ops, revision 1) extensions/v1beta1 ingresses ops/front",
		"helm release jobs (shop, revision 3) policy/v1beta1 poddisruptionbudgets hook-pdb",
		"helm release jobs (shop, revision 3) batch/v1beta1 cronjobs nightly",
		"helm release jobs (shop, revision 3) policy/v1beta1 podsecuritypolicies restricted",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("helm objects =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}

	// In a plan, the finding names its release and revision.
	f := cluster([]string{"v1.37.2"})
	f.HelmObjects = objs
	p, err := MakePlan(f, Options{Target: "v1.37.2", Releases: table(t, "v1.37.2")})
	if err != nil {
		t.Fatal(err)
	}
	var cron *APIFinding
	for i, a := range p.RemovedAPIs {
		if a.Resource == "cronjobs" {
			cron = &p.RemovedAPIs[i]
		}
	}
	if cron == nil || cron.Source != "helm release jobs (shop, revision 3)" || cron.Hop != "removed" || cron.Object != "nightly" ||
		cron.HelmRelease == nil || *cron.HelmRelease != (HelmReleaseRef{Name: "jobs", Namespace: "shop", Revision: 3}) {
		t.Errorf("cronjob finding = %+v", cron)
	}
}

// A release Secret that does not decode is a missing fact, not a crash; the others are read.
func TestScanHelmBadSecret(t *testing.T) {
	bad := helmSecret(t, helmtest.Release{Name: "bad", Namespace: "x", Revision: 1, Status: "deployed", Manifest: cronV1beta1})
	bad.Data["release"] = []byte("not base64!")
	src := helmFixture(t, bad, helmSecret(t, helmtest.Release{Name: "ok", Namespace: "x", Revision: 1, Status: "deployed", Manifest: cronV1beta1}))
	f, err := Gather(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.HelmObjects) != 1 || f.HelmObjects[0].Release != "ok" {
		t.Errorf("helm objects = %+v", f.HelmObjects)
	}
	found := false
	for _, m := range f.Missing {
		if strings.HasPrefix(m.Fact, "helm release Secrets") && strings.Contains(m.Reason, "x/sh.helm.release.v1.bad.v1") {
			found = true
		}
	}
	if !found {
		t.Errorf("missing = %+v", f.Missing)
	}
	src.Helm = false
	if f, err = Gather(context.Background(), src); err != nil || len(f.HelmObjects) != 0 {
		t.Errorf("Helm off: %+v %v", f.HelmObjects, err)
	}
}
