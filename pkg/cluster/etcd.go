package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// EtcdMember is one etcd member as the cluster reports it, with its own status when reachable.
type EtcdMember struct {
	Name       string   `json:"name"`
	ID         string   `json:"id"`
	ClientURLs []string `json:"clientURLs"`
	PeerURLs   []string `json:"peerURLs"`
	Learner    bool     `json:"learner,omitempty"`
	// Reachable: the member answered a status request through one of the API server's
	// --etcd-servers endpoints (--root), or at its own client URLs (an agent pod, --control-plane).
	Reachable bool   `json:"reachable"`
	Leader    bool   `json:"leader,omitempty"`
	Version   string `json:"version,omitempty"`
	DBSize    int64  `json:"dbSizeBytes,omitempty"`
	Error     string `json:"error,omitempty"`
}

// EtcdStatus is the etcd section: members read from etcd itself with the API server's client
// certificate (its --etcd-* flags, read under the node root), when reachable.
type EtcdStatus struct {
	Checked bool `json:"checked"`
	// ReadOn is the node whose agent pod asked the members (--control-plane, --node).
	ReadOn    string       `json:"readOn,omitempty"`
	Reason    string       `json:"reason,omitempty"` // why it was not checked
	Endpoints []string     `json:"endpoints,omitempty"`
	Members   []EtcdMember `json:"members"`
}

// etcd reads the member list with the kube-apiserver's etcd client flags. It needs the node
// root (for the certificate files); without it, or without an apiserver mirror pod, it says why.
func (c *collector) etcd(ctx context.Context) {
	e := &c.s.ControlPlane.Etcd
	e.Members = []EtcdMember{}
	switch {
	case c.in.Root == "" && c.in.NodeEtcd != nil:
		c.etcdFromAgent(c.in.NodeEtcd)
		return
	case c.in.Root == "":
		e.Reason = "not contacted: give --control-plane (an agent pod asks every member) or --root (a control-plane node's root, to use the API server's etcd client certificate)"
		return
	case c.apiserverFlags == nil:
		e.Reason = "not contacted: no kube-apiserver mirror pod to take the etcd endpoints and certificates from"
		return
	}
	f := c.apiserverFlags
	e.Endpoints = splitList(f["--etcd-servers"])
	tlsConfig, err := etcdTLS(c.in.Root, f["--etcd-cafile"], f["--etcd-certfile"], f["--etcd-keyfile"])
	if err != nil {
		e.Reason = "not contacted: " + err.Error()
		c.problem(SeverityWarning, "controlPlane", "etcd: %s", e.Reason)
		return
	}
	e.Checked = true
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cli, err := clientv3.New(clientv3.Config{Endpoints: e.Endpoints, TLS: tlsConfig, DialTimeout: 5 * time.Second,
		Logger: zap.NewNop(), Context: ctx})
	if err != nil {
		c.problem(SeverityProblem, "controlPlane", "etcd: cannot connect to %s: %v", strings.Join(e.Endpoints, ","), err)
		return
	}
	defer cli.Close()
	list, err := cli.MemberList(ctx)
	if err != nil {
		c.problem(SeverityProblem, "controlPlane", "etcd: member list from %s failed: %s", strings.Join(e.Endpoints, ","), strings.Join(strings.Fields(err.Error()), " "))
		return
	}
	// Each member's status is asked through the endpoints the API server itself uses: in a kubeadm
	// cluster that is the local member. Other members are listed, not contacted.
	type answer struct {
		endpoint string
		leader   uint64
		version  string
		dbSize   int64
	}
	byID := map[uint64]answer{}
	failed := map[string]string{}
	for _, ep := range e.Endpoints {
		st, err := cli.Status(ctx, ep)
		if err != nil {
			failed[ep] = strings.Join(strings.Fields(err.Error()), " ")
			c.problem(SeverityProblem, "controlPlane", "etcd: %s does not answer: %s", ep, failed[ep])
			continue
		}
		byID[st.Header.MemberId] = answer{ep, st.Leader, st.Version, st.DbSize}
	}
	for _, m := range list.Members {
		em := EtcdMember{Name: m.Name, ID: fmt.Sprintf("%x", m.ID), ClientURLs: m.ClientURLs, PeerURLs: m.PeerURLs, Learner: m.IsLearner}
		if a, ok := byID[m.ID]; ok {
			em.Reachable, em.Leader, em.Version, em.DBSize = true, a.leader == m.ID, a.version, a.dbSize
		} else {
			em.Error = "not contacted: not behind the API server's --etcd-servers"
		}
		e.Members = append(e.Members, em)
	}
	c.sortAndCountMembers()
}

// etcdFromAgent reports the members an agent pod asked at their own client URLs: a member that
// did not answer is a problem, and so is a cluster without a leader.
func (c *collector) etcdFromAgent(ne *NodeEtcd) {
	e := &c.s.ControlPlane.Etcd
	e.ReadOn = ne.Node
	if ne.Err != "" {
		e.Reason = "not contacted: " + ne.Err
		c.problem(SeverityWarning, "controlPlane", "etcd: the members could not be read on node %s: %s", ne.Node, ne.Err)
		return
	}
	e.Checked = true
	leaders := 0
	for _, m := range ne.Members {
		e.Members = append(e.Members, m)
		e.Endpoints = append(e.Endpoints, m.ClientURLs...)
		switch {
		case !m.Reachable:
			c.problem(SeverityProblem, "controlPlane", "etcd: member %s (%s) is unreachable: %s", m.Name, strings.Join(m.ClientURLs, ","), m.Error)
		case m.Leader:
			leaders++
		}
	}
	if leaders == 0 && len(e.Members) > 0 {
		c.problem(SeverityProblem, "controlPlane", "etcd: no reachable member is the leader")
	}
	c.sortAndCountMembers()
}

// sortAndCountMembers orders the members by name and warns about an even member count.
func (c *collector) sortAndCountMembers() {
	e := &c.s.ControlPlane.Etcd
	sort.Slice(e.Members, func(i, j int) bool { return e.Members[i].Name < e.Members[j].Name })
	if n := len(e.Members); n%2 == 0 && n > 0 {
		c.problem(SeverityWarning, "controlPlane", "etcd: %d members, an even number: it tolerates no more failures than %d would", n, n-1)
	}
}

func etcdTLS(root, ca, cert, key string) (*tls.Config, error) {
	if ca == "" || cert == "" || key == "" {
		return nil, fmt.Errorf("the kube-apiserver has no --etcd-cafile/--etcd-certfile/--etcd-keyfile")
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(root, cert), filepath.Join(root, key))
	if err != nil {
		return nil, fmt.Errorf("reading the API server's etcd client certificate under %s: %v", root, err)
	}
	caPEM, err := os.ReadFile(filepath.Join(root, ca))
	if err != nil {
		return nil, fmt.Errorf("reading the etcd CA under %s: %v", root, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%s holds no certificate", ca)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
