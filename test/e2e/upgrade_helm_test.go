//go:build e2e

package e2e

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterops/kubectl-clusterops/pkg/upgrade"
	"github.com/clusterops/kubectl-clusterops/pkg/upgrade/helmtest"
	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

const helmCronJob = `---
# Source: nightly/templates/cronjob.yaml
apiVersion: batch/v1beta1
kind: CronJob
metadata:
  name: report
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: report
            image: registry.k8s.io/pause:3.10
`

// Helm 3 release Secrets as Helm writes them (helmtest follows helm's newSecretsObject and
// encodeRelease), stored by the real apiserver and read back page by page: the latest deployed
// revision of "nightly" still renders a batch/v1beta1 CronJob (removed in 1.25) and is reported
// with its name and revision; "web" had one too, but its revision 2, deployed, fixed it: not
// reported. A Secret of another type with Helm's labels is not read as a release.
// --helm-releases=false reads none.
func TestUpgradePlanHelmReleases(t *testing.T) {
	cp := harness.StartT(t, harness.Options{Name: "helm"})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	kc := cp.AdminKubeconfig
	for _, ns := range []string{"shop", "batch"} {
		if _, err := cp.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	fixed := strings.Replace(helmCronJob, "batch/v1beta1", "batch/v1", 1)
	mimic, err := helmtest.Secret(helmtest.Release{Name: "mimic", Namespace: "shop", Revision: 1, Status: "deployed", Manifest: helmCronJob})
	if err != nil {
		t.Fatal(err)
	}
	mimic.Type = corev1.SecretTypeOpaque
	secrets := []*corev1.Secret{mimic}
	for _, r := range []helmtest.Release{
		{Name: "web", Namespace: "shop", Revision: 1, Status: "superseded", Manifest: helmCronJob},
		{Name: "web", Namespace: "shop", Revision: 2, Status: "deployed", Manifest: fixed},
		{Name: "nightly", Namespace: "batch", Revision: 1, Status: "superseded", Manifest: fixed},
		{Name: "nightly", Namespace: "batch", Revision: 2, Status: "deployed", Manifest: helmCronJob},
		{Name: "nightly", Namespace: "batch", Revision: 3, Status: "failed", Manifest: fixed},
	} {
		s, err := helmtest.Secret(r)
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, s)
	}
	for _, s := range secrets {
		if _, err := cp.Client.CoreV1().Secrets(s.Namespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	helmFindings := func(p upgradePlanJSON) []string {
		var out []string
		for _, a := range p.RemovedAPIs {
			if strings.HasPrefix(a.Source, upgrade.SourceHelmPrefix) {
				rel := ""
				if a.HelmRelease != nil {
					rel = a.HelmRelease.Namespace + "/" + a.HelmRelease.Name + "@" + strconv.Itoa(a.HelmRelease.Revision)
				}
				out = append(out, strings.Join([]string{a.Source, a.APIVersion, a.Resource, a.Object, a.RemovedIn, a.Hop, a.Replacement, rel}, " | "))
			}
		}
		return out
	}
	// One Secret a page: the listing pages through every Helm Secret.
	r := run(t, "kubectl", "clusterops", "upgrade", "plan", "-o", "json", "--chunk-size", "1", "--kubeconfig", kc)
	p := planJSON(t, r)
	want := []string{"helm release nightly (batch, revision 2) | batch/v1beta1 | cronjobs | report | 1.25 | removed | batch/v1 | batch/nightly@2"}
	if got := helmFindings(p); !slices.Equal(got, want) {
		t.Errorf("helm findings =\n  %s\nwant\n  %s\n(missing facts %+v)", strings.Join(got, "\n  "), strings.Join(want, "\n  "), p.MissingFacts)
	}
	for _, m := range p.MissingFacts {
		if strings.Contains(m.Fact, "helm") {
			t.Errorf("missing fact %+v", m)
		}
	}
	if r.code != 1 {
		t.Errorf("exit %d, want 1 (warnings: a removed API in use)", r.code)
	}

	r = run(t, "kubectl", "clusterops", "upgrade", "plan", "-o", "json", "--helm-releases=false", "--kubeconfig", kc)
	if got := helmFindings(planJSON(t, r)); len(got) != 0 {
		t.Errorf("--helm-releases=false: helm findings %v", got)
	}
}
