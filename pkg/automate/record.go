package automate

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// Snapshot is one snapshot an etcd-backup run made or found.
type Snapshot struct {
	Location string    `json:"location"` // a node path or an s3:// URL
	Time     time.Time `json:"time"`
	Size     int64     `json:"size"`
	SHA256   string    `json:"sha256"`
	Revision int64     `json:"revision"`
	Member   string    `json:"member,omitempty"`
}

// Cert is a certificate a cert-renewal run looked at.
type Cert struct {
	Name     string    `json:"name"`
	NotAfter time.Time `json:"notAfter"`
}

// Run is what one automation run did; the job writes it to the status ConfigMap, and
// `automate status` reads it.
type Run struct {
	Automation string    `json:"automation"`
	Name       string    `json:"name"`
	Node       string    `json:"node,omitempty"`
	Pod        string    `json:"pod,omitempty"`
	Started    time.Time `json:"started"`
	Finished   time.Time `json:"finished"`
	Succeeded  bool      `json:"succeeded"`
	// Message is one line: what was done, or why it failed.
	Message string `json:"message"`

	// etcd-backup
	Snapshot *Snapshot `json:"snapshot,omitempty"`
	Verified bool      `json:"verified,omitempty"`
	Pruned   []string  `json:"pruned,omitempty"`

	// cert-renewal
	NothingDue bool     `json:"nothingDue,omitempty"`
	Renewed    []string `json:"renewed,omitempty"`
	Restarted  []string `json:"restarted,omitempty"`
	Soonest    *Cert    `json:"soonest,omitempty"` // the soonest expiry after the run (kubeadm certificates)
	// Kubelet certificates are the kubelet's to rotate: reported, never renewed.
	Kubelet []Cert `json:"kubelet,omitempty"`
}

// Status keys of the ConfigMap.
const (
	keyLastRun     = StatusKey
	keyLastSuccess = "last-success.json"
)

func nodeKey(node string) string { return "node." + node + ".json" }

// Record writes run into the status ConfigMap (the last run; the last success; for cert-renewal
// the node's last run too) and posts an Event on the CronJob. The Event is best effort.
func Record(ctx context.Context, client kubernetes.Interface, ns string, cronJob string, run Run, now time.Time) error {
	data, err := json.Marshal(run)
	if err != nil {
		return err
	}
	cms := client.CoreV1().ConfigMaps(ns)
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, err := cms.Get(ctx, StatusName(run.Name), metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data[keyLastRun] = string(data)
		if run.Succeeded {
			cm.Data[keyLastSuccess] = string(data)
		}
		if run.Node != "" && run.Automation == KindCertRenewal {
			cm.Data[nodeKey(run.Node)] = string(data)
		}
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("recording the run in configmap %s/%s: %w", ns, StatusName(run.Name), err)
	}
	ref := corev1.ObjectReference{APIVersion: "batch/v1", Kind: "CronJob", Namespace: ns, Name: cronJob}
	if cj, err := client.BatchV1().CronJobs(ns).Get(ctx, cronJob, metav1.GetOptions{}); err == nil {
		ref.UID = cj.UID
	}
	typ, reason := corev1.EventTypeNormal, "Succeeded"
	if !run.Succeeded {
		typ, reason = corev1.EventTypeWarning, "Failed"
	}
	if run.NothingDue {
		reason = "NothingDue"
	}
	t := metav1.NewTime(now)
	_, _ = client.CoreV1().Events(ns).Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", cronJob, now.UnixNano()), Namespace: ns, Labels: labels(run.Automation, run.Name)},
		InvolvedObject: ref, Reason: reason, Message: run.Message, Type: typ,
		Source:         corev1.EventSource{Component: ManagedBy, Host: run.Node},
		FirstTimestamp: t, LastTimestamp: t, Count: 1,
		ReportingController: "clusterops.io/automate", ReportingInstance: run.Pod,
	}, metav1.CreateOptions{})
	return nil
}

// ReadRuns reads the records of one automation instance: the last run, the last success, and
// the per-node runs (cert-renewal).
func ReadRuns(cm *corev1.ConfigMap) (last, success *Run, nodes map[string]*Run, err error) {
	parse := func(key string) (*Run, error) {
		s, ok := cm.Data[key]
		if !ok {
			return nil, nil
		}
		var r Run
		if err := json.Unmarshal([]byte(s), &r); err != nil {
			return nil, fmt.Errorf("configmap %s/%s key %s: %w", cm.Namespace, cm.Name, key, err)
		}
		return &r, nil
	}
	if last, err = parse(keyLastRun); err != nil {
		return
	}
	if success, err = parse(keyLastSuccess); err != nil {
		return
	}
	nodes = map[string]*Run{}
	for k := range cm.Data {
		if len(k) > len("node..json") && k[:5] == "node." && k[len(k)-5:] == ".json" {
			r, perr := parse(k)
			if perr != nil {
				return nil, nil, nil, perr
			}
			nodes[k[5:len(k)-5]] = r
		}
	}
	return
}
