package automate

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// States of an automation in `automate status`.
const (
	StateOK       = "ok"
	StateNeverRun = "never-run"
	StateStale    = "stale"  // the newest good snapshot is older than twice the schedule
	StateFailed   = "failed" // the last run failed
)

// Status is one installed automation.
type Status struct {
	Name       string     `json:"name"`
	Namespace  string     `json:"namespace"`
	Automation string     `json:"automation"`
	Schedule   string     `json:"schedule"`
	Suspended  bool       `json:"suspended,omitempty"`
	CronJobs   []string   `json:"cronJobs"`
	Nodes      []string   `json:"nodes,omitempty"`
	Spec       string     `json:"spec,omitempty"`
	NextRun    *time.Time `json:"nextRun,omitempty"`
	// IntervalSeconds is the time between two scheduled runs (from the schedule).
	IntervalSeconds int64 `json:"intervalSeconds"`
	LastRun         *Run  `json:"lastRun,omitempty"`
	LastSuccess     *Run  `json:"lastSuccess,omitempty"`
	// NodeRuns are cert-renewal's last run per node.
	NodeRuns map[string]*Run `json:"nodeRuns,omitempty"`
	// NewestSnapshot is the newest snapshot a successful run saved and verified; its age in seconds.
	NewestSnapshot           *Snapshot `json:"newestSnapshot,omitempty"`
	NewestSnapshotAgeSeconds *int64    `json:"newestSnapshotAgeSeconds,omitempty"`
	// SoonestExpiry is the soonest kubeadm certificate expiry the runs saw (cert-renewal).
	SoonestExpiry *Cert  `json:"soonestExpiry,omitempty"`
	State         string `json:"state"`
	Problem       string `json:"problem,omitempty"`
}

// Interval is the time between the next two runs of schedule after now.
func Interval(schedule string, now time.Time) (next time.Time, interval time.Duration, err error) {
	s, err := cron.ParseStandard(schedule)
	if err != nil {
		return time.Time{}, 0, err
	}
	next = s.Next(now)
	return next, s.Next(next).Sub(next), nil
}

// Gather finds every installed automation in ns ("" for all namespaces) and reads its records.
func Gather(ctx context.Context, client kubernetes.Interface, ns string, now time.Time) ([]Status, error) {
	cjs, err := client.BatchV1().CronJobs(ns).List(ctx, metav1.ListOptions{LabelSelector: LabelManagedBy + "=" + ManagedBy + "," + LabelAutomation})
	if err != nil {
		return nil, err
	}
	byName := map[string]*Status{}
	var order []string
	for i := range cjs.Items {
		cj := &cjs.Items[i]
		key := cj.Namespace + "/" + cj.Labels[LabelInstance]
		st, ok := byName[key]
		if !ok {
			st = &Status{Name: cj.Labels[LabelInstance], Namespace: cj.Namespace, Automation: cj.Labels[LabelAutomation],
				Schedule: cj.Spec.Schedule, Spec: cj.Annotations[AnnotationSpec]}
			byName[key] = st
			order = append(order, key)
		}
		st.CronJobs = append(st.CronJobs, cj.Name)
		st.Suspended = st.Suspended || (cj.Spec.Suspend != nil && *cj.Spec.Suspend)
		if n := cj.Labels[LabelNode]; n != "" {
			st.Nodes = append(st.Nodes, n)
		}
	}
	sort.Strings(order)
	var out []Status
	for _, key := range order {
		st := byName[key]
		if err := st.fill(ctx, client, now); err != nil {
			return nil, err
		}
		out = append(out, *st)
	}
	return out, nil
}

func (st *Status) fill(ctx context.Context, client kubernetes.Interface, now time.Time) error {
	sort.Strings(st.CronJobs)
	sort.Strings(st.Nodes)
	next, interval, err := Interval(st.Schedule, now)
	if err == nil {
		st.NextRun, st.IntervalSeconds = &next, int64(interval/time.Second)
	}
	cm, err := client.CoreV1().ConfigMaps(st.Namespace).Get(ctx, StatusName(st.Name), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		st.State, st.Problem = StateFailed, fmt.Sprintf("its status configmap %s is gone: install it again", StatusName(st.Name))
		return nil
	case err != nil:
		return err
	}
	if st.LastRun, st.LastSuccess, st.NodeRuns, err = ReadRuns(cm); err != nil {
		return err
	}
	if st.Automation != KindCertRenewal {
		st.NodeRuns = nil
	}
	if st.LastSuccess != nil && st.LastSuccess.Snapshot != nil {
		st.NewestSnapshot = st.LastSuccess.Snapshot
		age := int64(now.Sub(st.NewestSnapshot.Time) / time.Second)
		st.NewestSnapshotAgeSeconds = &age
	}
	for _, r := range st.NodeRuns {
		if r.Soonest != nil && (st.SoonestExpiry == nil || r.Soonest.NotAfter.Before(st.SoonestExpiry.NotAfter)) {
			st.SoonestExpiry = r.Soonest
		}
	}
	st.State = StateOK
	var failed []string
	for _, n := range st.Nodes {
		if r := st.NodeRuns[n]; r != nil && !r.Succeeded {
			failed = append(failed, n+": "+r.Message)
		}
	}
	switch {
	case st.LastRun == nil:
		st.State = StateNeverRun
	case st.Automation == KindEtcdBackup && !st.LastRun.Succeeded:
		st.State, st.Problem = StateFailed, st.LastRun.Message
	case len(failed) > 0:
		st.State, st.Problem = StateFailed, strings.Join(failed, "; ")
	}
	if st.Automation == KindEtcdBackup && st.State != StateFailed && st.IntervalSeconds > 0 {
		limit := 2 * time.Duration(st.IntervalSeconds) * time.Second
		if st.NewestSnapshot != nil && now.Sub(st.NewestSnapshot.Time) > limit {
			st.State, st.Problem = StateStale, fmt.Sprintf("the newest good snapshot is %s old, more than twice the schedule (%s)",
				now.Sub(st.NewestSnapshot.Time).Round(time.Second), limit/2)
		}
		// Never run although it should have: stale too, once two intervals have passed since creation.
	}
	return nil
}

// ExitCode is `automate status`'s exit code: 2 when a last run failed, 1 when the newest
// snapshot is older than twice the schedule, else 0.
func ExitCode(sts []Status) int {
	code := 0
	for _, st := range sts {
		switch st.State {
		case StateFailed:
			return 2
		case StateStale:
			code = 1
		}
	}
	return code
}

// WritePrometheus writes the statuses in the Prometheus text format, for node-exporter's
// textfile collector.
func WritePrometheus(w io.Writer, sts []Status, now time.Time) error {
	type metric struct{ name, help, typ string }
	ms := []metric{
		{"clusterops_automation_last_run_success", "1 when the automation's last run succeeded, 0 when it failed.", "gauge"},
		{"clusterops_automation_last_run_timestamp_seconds", "When the automation's last run finished.", "gauge"},
		{"clusterops_automation_next_run_timestamp_seconds", "When the schedule runs the automation next.", "gauge"},
		{"clusterops_automation_state", "The automation's state (1 for the current one).", "gauge"},
		{"clusterops_etcd_backup_newest_snapshot_timestamp_seconds", "When the newest good snapshot was taken.", "gauge"},
		{"clusterops_etcd_backup_newest_snapshot_size_bytes", "Size of the newest good snapshot.", "gauge"},
		{"clusterops_cert_renewal_soonest_expiry_timestamp_seconds", "The soonest kubeadm certificate expiry the last runs saw.", "gauge"},
	}
	vals := map[string][]string{}
	add := func(name, labels string, v float64) {
		vals[name] = append(vals[name], fmt.Sprintf("%s{%s} %g", name, labels, v))
	}
	for _, st := range sts {
		l := fmt.Sprintf(`namespace=%q,name=%q,automation=%q`, st.Namespace, st.Name, st.Automation)
		if st.LastRun != nil {
			ok := 0.0
			if st.State != StateFailed {
				ok = 1
			}
			add(ms[0].name, l, ok)
			add(ms[1].name, l, float64(st.LastRun.Finished.Unix()))
		}
		if st.NextRun != nil {
			add(ms[2].name, l, float64(st.NextRun.Unix()))
		}
		for _, s := range []string{StateOK, StateNeverRun, StateStale, StateFailed} {
			v := 0.0
			if s == st.State {
				v = 1
			}
			add(ms[3].name, l+fmt.Sprintf(`,state=%q`, s), v)
		}
		if st.NewestSnapshot != nil {
			loc := "node"
			if IsS3(st.NewestSnapshot.Location) {
				loc = "s3"
			}
			add(ms[4].name, l+fmt.Sprintf(`,location=%q`, loc), float64(st.NewestSnapshot.Time.Unix()))
			add(ms[5].name, l+fmt.Sprintf(`,location=%q`, loc), float64(st.NewestSnapshot.Size))
		}
		if st.SoonestExpiry != nil {
			add(ms[6].name, l+fmt.Sprintf(`,certificate=%q`, st.SoonestExpiry.Name), float64(st.SoonestExpiry.NotAfter.Unix()))
		}
	}
	for _, m := range ms {
		if len(vals[m.name]) == 0 {
			continue
		}
		if _, err := fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s\n", m.name, m.help, m.name, m.typ, strings.Join(vals[m.name], "\n")); err != nil {
			return err
		}
	}
	return nil
}
