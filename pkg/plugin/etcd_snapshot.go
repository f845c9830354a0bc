package plugin

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/clusterops/kubectl-clusterops/pkg/backup"
)

// snapshotList is the result of `snapshot list`.
type snapshotList struct {
	Dir       string         `json:"dir"`
	Snapshots []backup.Entry `json:"snapshots"`
}

func newCmdSnapshotList(streams genericiooptions.IOStreams) *cobra.Command {
	output := newOutputFlags()
	quick := false
	cmd := &cobra.Command{
		Use:   "list DIR",
		Short: "List the snapshots of a directory with their metadata and verification state",
		Long: `List the snapshots (*.db) of DIR, newest first, with their sidecar metadata and state:
  verified    the sha256 matches the sidecar and etcd's integrity hash matches
  no-sidecar  etcd's integrity hash matches, but there is no FILE.json to compare with
  unchecked   (--quick) the size matches the sidecar; the file was not hashed
  corrupt     anything else (see DETAIL)

Exit codes: 0 all verified; 1 a snapshot without sidecar; 2 a corrupt snapshot;
3 could not run.`,
		Example: `  # The snapshots in a backup folder, with metadata and verification state
  kubectl clusterops etcd snapshot list /var/backups/etcd

  # Fast: compare sizes with the sidecars instead of hashing, as JSON
  kubectl clusterops etcd snapshot list /var/backups/etcd --quick -o json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := output.toPrinter(); err != nil {
				return err
			}
			entries, err := backup.List(args[0], quick)
			if err != nil {
				return err
			}
			res := snapshotList{Dir: args[0], Snapshots: entries}
			if res.Snapshots == nil {
				res.Snapshots = []backup.Entry{}
			}
			if err := output.print(streams.Out, "EtcdSnapshotList", res, func(w io.Writer) error {
				if len(entries) == 0 {
					fmt.Fprintf(w, "No snapshots in %s\n", args[0])
					return nil
				}
				fmt.Fprintln(w, "FILE\tTIME\tSIZE\tREVISION\tMEMBER\tKUBERNETES\tSTATE\tDETAIL")
				for _, e := range entries {
					rev, member, kube := "-", "-", "-"
					if e.Meta != nil {
						rev, member, kube = fmt.Sprint(e.Meta.Revision), e.Meta.MemberName, e.Meta.KubernetesVersion
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.File, e.Time.Format("2006-01-02T15:04:05Z"),
						humanBytes(e.Size), rev, member, kube, e.State, e.Detail)
				}
				return nil
			}); err != nil {
				return err
			}
			code := ExitOK
			for _, e := range entries {
				if e.State == backup.StateCorrupt {
					code = ExitProblems
				} else if e.State == backup.StateNoSidecar && code == ExitOK {
					code = ExitWarnings
				}
			}
			if code != ExitOK {
				return &ExitError{Code: code}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&quick, "quick", false, "Do not hash the files; only compare sizes with the sidecars.")
	output.addFlags(cmd)
	return cmd
}

func newCmdSnapshotStatus(streams genericiooptions.IOStreams) *cobra.Command {
	output := newOutputFlags()
	contents := false
	cmd := &cobra.Command{
		Use:   "status FILE",
		Short: "Show a snapshot's hash, revision, keys, size and version (like etcdutl snapshot status)",
		Long: `Show the status of a snapshot file: hash, revision, total keys, total size and storage
version, computed by etcdutl's own code (the same numbers as etcdutl snapshot status -w json),
plus the file's sha256 and whether it matches the sidecar.

The file must carry the sha256 etcd appends to every snapshot, and it must match: a
truncated or modified file is reported as corrupt. --contents counts the Kubernetes objects
under /registry by resource and namespace.

Exit codes: 0 the snapshot is intact; 2 it is corrupt or does not match its sidecar;
3 could not run (no such file).`,
		Example: `  # Hash, revision, keys, size and version, like etcdutl snapshot status
  kubectl clusterops etcd snapshot status /var/backups/etcd/snap.db

  # What is inside: object counts under /registry, as JSON
  kubectl clusterops etcd snapshot status /var/backups/etcd/snap.db --contents -o json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := output.toPrinter(); err != nil {
				return err
			}
			st, err := backup.SnapshotStatus(args[0], contents)
			if err != nil {
				if errors.Is(err, backup.ErrIntegrity) {
					return &ExitError{Code: ExitProblems, Err: errors.New(oneLine(err.Error()))}
				}
				return err
			}
			if err := output.print(streams.Out, "EtcdSnapshotStatus", st, func(w io.Writer) error {
				fmt.Fprintln(w, "HASH\tREVISION\tTOTAL KEYS\tTOTAL SIZE\tVERSION\tINTEGRITY\tSIDECAR")
				fmt.Fprintf(w, "%x\t%d\t%d\t%s\t%s\t%s\t%s\n", st.Hash, st.Revision, st.TotalKey, humanBytes(st.TotalSize),
					st.Version, st.Integrity, st.Sidecar)
				if contents {
					fmt.Fprintln(w, "\nRESOURCE\tNAMESPACE\tCOUNT")
					for _, c := range st.Contents {
						fmt.Fprintf(w, "%s\t%s\t%d\n", c.Resource, c.Namespace, c.Count)
					}
				}
				return nil
			}); err != nil {
				return err
			}
			if st.Sidecar != "ok" && st.Sidecar != "missing" {
				return &ExitError{Code: ExitProblems, Err: fmt.Errorf("%s does not match its sidecar: %s", args[0], st.Sidecar)}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&contents, "contents", false, "Count the Kubernetes objects in the snapshot by resource and namespace.")
	output.addFlags(cmd)
	return cmd
}

func newCmdSnapshotVerify(streams genericiooptions.IOStreams) *cobra.Command {
	output := newOutputFlags()
	tmpDir := os.TempDir()
	cmd := &cobra.Command{
		Use:   "verify FILE",
		Short: "Verify a snapshot: sidecar sha256, etcd's integrity hash, and a real test restore",
		Long: `Verify a snapshot end to end:
  sidecar         the file's sha256 and size match FILE.json written at save time
  integrity-hash  the sha256 etcd appended to the snapshot matches the data
  database        etcdutl's status code checks the bolt database
  restore         etcd's own restore code restores it into a temp dir under --tmp-dir
  open            the restored database opens with the snapshot's revision and key count
The temp dir is removed.

Exit codes: 0 valid; 1 valid but without a sidecar; 2 invalid; 3 could not run.`,
		Example: `  # Check the hashes and restore into a temp dir (exit non-zero on any problem)
  kubectl clusterops etcd snapshot verify /var/backups/etcd/snap.db

  # Restore-test in a folder with room, JSON result
  kubectl clusterops etcd snapshot verify /var/backups/etcd/snap.db --tmp-dir /var/tmp -o json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := output.toPrinter(); err != nil {
				return err
			}
			v, err := backup.Verify(args[0], tmpDir)
			if err != nil {
				return err
			}
			if err := output.print(streams.Out, "EtcdSnapshotVerification", v, func(w io.Writer) error {
				fmt.Fprintln(w, "CHECK\tRESULT\tDETAIL")
				for _, c := range v.Checks {
					fmt.Fprintf(w, "%s\t%s\t%s\n", c.Name, c.Result, c.Detail)
				}
				return nil
			}); err != nil {
				return err
			}
			switch v.Worst() {
			case backup.CheckFailed:
				return &ExitError{Code: ExitProblems, Err: fmt.Errorf("%s is NOT a valid snapshot", args[0])}
			case backup.CheckWarning:
				return &ExitError{Code: ExitWarnings}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&tmpDir, "tmp-dir", tmpDir, "Where to make the temporary test restore (needs about the snapshot's size free).")
	output.addFlags(cmd)
	return cmd
}
