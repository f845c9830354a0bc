package rbac

// CheckInfo documents one audit check: `rbac audit --help`, the refusal of `rbac grant` and the
// table in docs/guide/rbac.md come from it.
type CheckInfo struct {
	// Severity as reported ("high", "medium; get only: ...").
	Severity string
	// Short is a few words for one-line messages.
	Short string
	// Peers names the rules of other scanners that flag the same thing.
	Peers Peers
}

// Peers names, per scanner, the rules that flag what a check finds; "" means the scanner has
// none. Each field was checked against the scanner's own rule definitions (the sources are
// named under the table in docs/guide/rbac.md); keep it that way when editing.
type Peers struct {
	// Kubescape control IDs and titles (kubescape/regolibrary controls/*.json).
	Kubescape string
	// RBACPolice policy names (PaloAltoNetworks/rbac-police lib/*.rego).
	RBACPolice string
	// KubiScan risky-role template names (cyberark/KubiScan risky_roles.yaml).
	KubiScan string
	// RBACTool analysis rule names (alcideio/rbac-tool pkg/analysis/default-rules.yaml).
	RBACTool string
	// GoodPractices names the section of the Kubernetes RBAC good practices page.
	GoodPractices string
}

// CheckInfos describes every check of AllChecks.
var CheckInfos = map[string]CheckInfo{
	CheckWildcard: {"high", `"*" in verbs, resources or API groups, or "*" or "/*" in non-resource URLs`, Peers{
		Kubescape:     "C-0187 Minimize wildcard use in Roles and ClusterRoles (only `*` verbs on `*` resources)",
		RBACPolice:    "cluster_admin (only `*` verbs on `*` resources, bound cluster-wide)",
		KubiScan:      "risky-any-verb, risky-any-verb-RESOURCE, risky-any-resource-VERB (a literal `*` only)",
		GoodPractices: "Least privilege (wildcards)",
	}},
	CheckSecretsRead: {"high (get only: medium; named secrets: low)", "get/list/watch on secrets", Peers{
		Kubescape:     "C-0015 List Kubernetes secrets; C-0186 Minimize access to secrets",
		RBACPolice:    "list_secrets (cluster-wide list), retrieve_token_secrets (kube-system), obtain_token_weak_ns (other namespaces)",
		KubiScan:      "risky-get-secrets, risky-list-secrets",
		RBACTool:      "Secret Readers (get only)",
		GoodPractices: "Listing secrets",
	}},
	CheckSecretsWrite: {"medium", "create/update/patch on secrets (mints service account tokens)", Peers{
		RBACPolice: "issue_token_secrets (kube-system), obtain_token_weak_ns (other namespaces)",
	}},
	CheckPodExec: {"high", "pods/exec or pods/attach (also */exec)", Peers{
		Kubescape:  "C-0002 Prevent containers from allowing command execution (pods/exec only; formerly Exec into container)",
		RBACPolice: "pods_exec (kube-system), rce_weak_ns (other namespaces); pods/exec only",
		KubiScan:   "risky-exec-pods, risky-attach-pods (each with get pods)",
		RBACTool:   "Exec into Pod (pods/exec only)",
	}},
	CheckEphemeralContainers: {"high", "update/patch on pods/ephemeralcontainers (as good as exec)", Peers{
		RBACPolice: "pods_ephemeral_ctrs",
		RBACTool:   "Create Ephemeral Containers in Running Pods",
	}},
	CheckPortForward: {"medium", "pods/portforward", Peers{
		Kubescape: "C-0063 Portforwarding privileges",
	}},
	CheckEscalation: {"high (bind or impersonate limited to named objects: what those grant)", "escalate, bind or impersonate", Peers{
		Kubescape:     "C-0191 Limit use of the Bind, Impersonate and Escalate permissions in the Kubernetes cluster; C-0065 No impersonation",
		RBACPolice:    "bind_roles, escalate_roles (kube-system or cluster-wide), impersonate",
		KubiScan:      "risky-impersonate-groups, risky-any-resource-impersonate; bind only with create on bindings: risky-create-rolebinding-role, risky-create-rolebinding-clusterrole, risky-create-clusterrolebinding-clusterrole; no escalate",
		RBACTool:      "Identify Privileges Escalators - via bind or escalate; Identify Privileges Escalators - via impersonate",
		GoodPractices: "Escalate verb; Bind verb; Impersonate verb",
	}},
	CheckNodesProxy: {"high", "nodes/proxy: the kubelet API", Peers{
		Kubescape:     "C-0279 Minimize access to the proxy sub-resource of nodes",
		RBACPolice:    "nodes_proxy (create only)",
		KubiScan:      "risky-execute-command-node-proxy (get and create)",
		RBACTool:      "Create Node Proxy",
		GoodPractices: "Access to proxy subresource of Nodes",
	}},
	CheckCSRApproval: {"high (half of it: medium)", "approving certificate signing requests (CSR approval and signers)", Peers{
		Kubescape:     "C-0280 Minimize access to the approval sub-resource of certificatesigningrequests objects",
		RBACPolice:    "approve_csrs",
		GoodPractices: "CSRs and certificate issuing",
	}},
	CheckSAToken: {"medium", "serviceaccounts/token create (mints tokens)", Peers{
		Kubescape:     "C-0282 Minimize access to the service account token creation",
		RBACPolice:    "token_request (kube-system), obtain_token_weak_ns (other namespaces)",
		GoodPractices: "Token request",
	}},
	CheckWebhookWrite: {"high", "writes to validating or mutating webhook configurations", Peers{
		Kubescape:     "C-0281 Minimize access to webhook configuration objects",
		RBACPolice:    "control_webhooks",
		RBACTool:      "Installing or Modifying Admission Controllers",
		GoodPractices: "Control admission webhooks",
	}},
	CheckPVCreate: {"high", "persistentvolumes create (hostPath)", Peers{
		Kubescape:     "C-0278 Minimize access to create persistent volumes",
		RBACTool:      "Storage & Data - Manipulate Cluster Shared Resources",
		GoodPractices: "Persistent volume creation",
	}},
	CheckStatusWrite: {"medium", "update/patch on nodes/status, pods/status or services/status", Peers{
		RBACPolice: "modify_node_status, modify_pod_status, modify_service_status_cve_2020_8554",
	}},
	CheckNamespaceWrite: {"medium", "update/patch on namespaces (Pod Security labels)", Peers{
		GoodPractices: "Namespace modification",
	}},
	CheckRBACWrite: {"medium", "create/update/patch on Roles, ClusterRoles or bindings", Peers{
		KubiScan: "risky-add-rolebinding (get and patch rolebindings)",
		RBACTool: "Identify Privileges Escalators - via bind or escalate (create/update/patch on roles and clusterroles)",
	}},
	CheckPodCreate: {"medium", "create pods (any service account and Secret of the namespace)", Peers{
		Kubescape:     "C-0188 Minimize access to create pods",
		RBACPolice:    "assign_sa (kube-system), obtain_token_weak_ns (other namespaces)",
		KubiScan:      "risky-create-pod",
		RBACTool:      "Workload Creators & Editors",
		GoodPractices: "Workload creation",
	}},
	CheckWorkloadWrite: {"medium", "create/update/patch of workload controllers, replicationcontrollers included", Peers{
		RBACPolice:    "assign_sa (kube-system), obtain_token_weak_ns (other namespaces)",
		KubiScan:      "risky-create-RESOURCE, risky-update-RESOURCE for deployments, daemonsets, statefulsets, replicasets, replicationcontrollers, jobs, cronjobs (no patch)",
		RBACTool:      "Workload Creators & Editors",
		GoodPractices: "Workload creation",
	}},
	CheckKubeSystemPods: {"high", "a binding that lets its subjects create pods or write workloads in kube-system", Peers{
		RBACPolice:    "assign_sa (its privileged namespace is kube-system)",
		GoodPractices: "Workload creation",
	}},
	CheckSystemMasters: {"high", "a binding to the group system:masters", Peers{
		Kubescape:     "C-0246 Avoid use of system:masters group (a manual check)",
		GoodPractices: "Least privilege (system:masters)",
	}},
	CheckClusterAdmin: {"high", "a binding to cluster-admin", Peers{
		Kubescape:     "C-0185 Ensure that the cluster-admin role is only used where required; C-0035 Administrative Roles (any `*` verbs on `*` resources)",
		RBACPolice:    "cluster_admin",
		KubiScan:      "risky-any-verb (through risky ClusterRoleBindings)",
		GoodPractices: "Least privilege (cluster-admin)",
	}},
	CheckPublicBinding: {"high", "system:anonymous, system:unauthenticated or system:authenticated granted more than discovery", Peers{
		Kubescape:     "C-0262 Anonymous user has RoleBinding; C-0265 system:authenticated user has elevated roles",
		GoodPractices: "Hardening (system:unauthenticated)",
	}},
	CheckReservedName:     {"medium", "a role or binding with a system: or kubeadm: name that is not built in", Peers{}},
	CheckMissingRole:      {"medium", "a binding that names a role that does not exist", Peers{}},
	CheckReadOnlyWrites:   {"high", "a role named like read-only (readonly, view, viewer, reader, ro) that grants writes", Peers{}},
	CheckGrantsNothing:    {"low", "cluster-scoped resources or non-resource URLs in a Role or RoleBinding (they grant nothing)", Peers{}},
	CheckUnservedAPIGroup: {"low", `a rule naming an API group the cluster does not serve, such as "extensions"`, Peers{}},
}
