package etcd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/clusterops/kubectl-clusterops/pkg/plugin/cmdutil"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/clusterops/kubectl-clusterops/pkg/backup"
	"github.com/clusterops/kubectl-clusterops/pkg/backup/objstore"
)

// snapshotList is the result of `snapshot list`.
type snapshotList struct {
	Dir       string         `json:"dir"`
	Snapshots []backup.Entry `json:"snapshots"`
}

// SnapshotListOptions holds the flags of `etcd snapshot list`.
type SnapshotListOptions struct {
	Dir   string
	Quick bool

	output  *cmdutil.OutputFlags
	printer *cmdutil.Printer
	genericiooptions.IOStreams
}

// NewCmdSnapshotList returns `etcd snapshot list`.
func NewCmdSnapshotList(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &SnapshotListOptions{output: cmdutil.NewOutputFlags(), IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:   "list DIR|s3://BUCKET/PREFIX",
		Short: "List the snapshots of a directory or bucket with their metadata and verification state",
		Long: `List the snapshots (*.db) of DIR, newest first, with their sidecar metadata and state:
  verified    the sha256 matches the sidecar and etcd's integrity hash matches
  no-sidecar  etcd's integrity hash matches, but there is no FILE.json to compare with
  unchecked   (--quick) the size matches the sidecar; the file was not hashed
  corrupt     anything else (see DETAIL)

In a bucket (s3://BUCKET/PREFIX; credentials and endpoint from the AWS_* variables, see
snapshot save) only the sidecars are downloaded: a snapshot whose size matches its sidecar is
"unchecked"; verify one (snapshot verify s3://...) to hash it and test-restore it.

Exit codes: 0 all verified; 1 a snapshot without sidecar; 2 a corrupt snapshot;
3 could not run.`,
		Example: `  # The snapshots in a backup folder, with metadata and verification state
  kubectl clusterops etcd snapshot list /var/backups/etcd

  # The snapshots in a bucket, with their sidecars
  kubectl clusterops etcd snapshot list s3://backups/etcd/prod

  # Fast: compare sizes with the sidecars instead of hashing, as JSON
  kubectl clusterops etcd snapshot list /var/backups/etcd --quick -o json`,
		Args: cmdutil.UsageArgs(cobra.ExactArgs(1)),
	}, f, o)
	cmd.Flags().BoolVar(&o.Quick, "quick", false, "Do not hash the files; only compare sizes with the sidecars.")
	o.output.AddFlags(cmd)
	return cmd
}

// Complete takes DIR and builds the printer.
func (o *SnapshotListOptions) Complete(_ cmdutil.Factory, _ *cobra.Command, args []string) error {
	o.Dir = args[0]
	var err error
	o.printer, err = o.output.ToPrinter()
	return err
}

// Validate has nothing to check beyond the arguments.
func (o *SnapshotListOptions) Validate() error { return nil }

// Run lists DIR (or the bucket); the exit code is the worst state found.
func (o *SnapshotListOptions) Run(ctx context.Context) error {
	var entries []backup.Entry
	var err error
	if objstore.IsURL(o.Dir) {
		entries, err = listBucket(ctx, o.Dir)
	} else {
		entries, err = backup.List(o.Dir, o.Quick)
	}
	if err != nil {
		return err
	}
	res := snapshotList{Dir: o.Dir, Snapshots: entries}
	if res.Snapshots == nil {
		res.Snapshots = []backup.Entry{}
	}
	if err := o.printer.Print(o.Out, "EtcdSnapshotList", res, func(w io.Writer) error {
		if len(entries) == 0 {
			fmt.Fprintf(w, "No snapshots in %s\n", o.Dir)
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
	code := cmdutil.ExitOK
	for _, e := range entries {
		if e.State == backup.StateCorrupt {
			code = cmdutil.ExitProblems
		} else if e.State == backup.StateNoSidecar && code == cmdutil.ExitOK {
			code = cmdutil.ExitWarnings
		}
	}
	if code != cmdutil.ExitOK {
		return &cmdutil.ExitError{Code: code}
	}
	return nil
}

// SnapshotStatusOptions holds the flags of `etcd snapshot status`.
type SnapshotStatusOptions struct {
	File     string
	Contents bool

	output  *cmdutil.OutputFlags
	printer *cmdutil.Printer
	genericiooptions.IOStreams
}

// NewCmdSnapshotStatus returns `etcd snapshot status`.
func NewCmdSnapshotStatus(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &SnapshotStatusOptions{output: cmdutil.NewOutputFlags(), IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:   "status FILE|s3://BUCKET/PREFIX/FILE",
		Short: "Show a snapshot's hash, revision, keys, size and version (like etcdutl snapshot status)",
		Long: `Show the status of a snapshot file: hash, revision, total keys, total size and storage
version, computed by etcdutl's own code (the same numbers as etcdutl snapshot status -w json),
plus the file's sha256 and whether it matches the sidecar.

The file must carry the sha256 etcd appends to every snapshot, and it must match: a
truncated or modified file is reported as corrupt. --contents counts the Kubernetes objects
under /registry by resource and namespace.

An s3:// URL is downloaded (with its sidecar, hash-checked) into a temp dir that is
removed afterwards; credentials and endpoint from the AWS_* variables (see snapshot save).

Exit codes: 0 the snapshot is intact; 2 it is corrupt or does not match its sidecar;
3 could not run (no such file).`,
		Example: `  # Hash, revision, keys, size and version, like etcdutl snapshot status
  kubectl clusterops etcd snapshot status /var/backups/etcd/snap.db

  # What is inside: object counts under /registry, as JSON
  kubectl clusterops etcd snapshot status /var/backups/etcd/snap.db --contents -o json`,
		Args: cmdutil.UsageArgs(cobra.ExactArgs(1)),
	}, f, o)
	cmd.Flags().BoolVar(&o.Contents, "contents", false, "Count the Kubernetes objects in the snapshot by resource and namespace.")
	o.output.AddFlags(cmd)
	return cmd
}

// Complete takes FILE and builds the printer.
func (o *SnapshotStatusOptions) Complete(_ cmdutil.Factory, _ *cobra.Command, args []string) error {
	o.File = args[0]
	var err error
	o.printer, err = o.output.ToPrinter()
	return err
}

// Validate has nothing to check beyond the arguments.
func (o *SnapshotStatusOptions) Validate() error { return nil }

// Run computes the status with etcdutl's code and prints it.
func (o *SnapshotStatusOptions) Run(ctx context.Context) error {
	local, cleanup, err := fetchSource(ctx, o.File, os.TempDir())
	defer cleanup()
	if err != nil {
		return err
	}
	st, err := backup.SnapshotStatus(local, o.Contents)
	if st != nil {
		st.File = o.File
	}
	if err != nil {
		if errors.Is(err, backup.ErrIntegrity) {
			return snapshotError(err)
		}
		return err
	}
	if err := o.printer.Print(o.Out, "EtcdSnapshotStatus", st, func(w io.Writer) error {
		fmt.Fprintln(w, "HASH\tREVISION\tTOTAL KEYS\tTOTAL SIZE\tVERSION\tINTEGRITY\tSIDECAR")
		fmt.Fprintf(w, "%x\t%d\t%d\t%s\t%s\t%s\t%s\n", st.Hash, st.Revision, st.TotalKey, humanBytes(st.TotalSize),
			st.Version, st.Integrity, st.Sidecar)
		if o.Contents {
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
		return &cmdutil.ExitError{Code: cmdutil.ExitProblems, Err: fmt.Errorf("%s does not match its sidecar: %s", o.File, st.Sidecar)}
	}
	return nil
}

// SnapshotVerifyOptions holds the flags of `etcd snapshot verify`.
type SnapshotVerifyOptions struct {
	File   string
	TmpDir string

	output  *cmdutil.OutputFlags
	printer *cmdutil.Printer
	genericiooptions.IOStreams
}

// NewCmdSnapshotVerify returns `etcd snapshot verify`.
func NewCmdSnapshotVerify(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &SnapshotVerifyOptions{TmpDir: os.TempDir(), output: cmdutil.NewOutputFlags(), IOStreams: streams}
	cmd := cmdutil.NewCommand(&cobra.Command{
		Use:   "verify FILE|s3://BUCKET/PREFIX/FILE",
		Short: "Verify a snapshot: sidecar sha256, etcd's integrity hash, and a real test restore",
		Long: `Verify a snapshot end to end:
  sidecar         the file's sha256 and size match FILE.json written at save time
  integrity-hash  the sha256 etcd appended to the snapshot matches the data
  database        etcdutl's status code checks the bolt database
  restore         etcd's own restore code restores it into a temp dir under --tmp-dir
  open            the restored database opens with the snapshot's revision and key count
The temp dir is removed. An s3:// URL is first downloaded (with its sidecar, hash-checked)
under --tmp-dir; credentials and endpoint from the AWS_* variables (see snapshot save).

Exit codes: 0 valid; 1 valid but without a sidecar; 2 invalid; 3 could not run.`,
		Example: `  # Check the hashes and restore into a temp dir (exit non-zero on any problem)
  kubectl clusterops etcd snapshot verify /var/backups/etcd/snap.db

  # Restore-test in a folder with room, JSON result
  kubectl clusterops etcd snapshot verify /var/backups/etcd/snap.db --tmp-dir /var/tmp -o json`,
		Args: cmdutil.UsageArgs(cobra.ExactArgs(1)),
	}, f, o)
	cmd.Flags().StringVar(&o.TmpDir, "tmp-dir", o.TmpDir, "Where to make the temporary test restore (needs about the snapshot's size free).")
	_ = cmd.MarkFlagDirname("tmp-dir")
	o.output.AddFlags(cmd)
	return cmd
}

// Complete takes FILE and builds the printer.
func (o *SnapshotVerifyOptions) Complete(_ cmdutil.Factory, _ *cobra.Command, args []string) error {
	o.File = args[0]
	var err error
	o.printer, err = o.output.ToPrinter()
	return err
}

// Validate checks that --tmp-dir is given.
func (o *SnapshotVerifyOptions) Validate() error {
	if o.TmpDir == "" {
		return errors.New("--tmp-dir must not be empty: give a directory with room for a test restore")
	}
	return nil
}

// Run verifies the snapshot end to end; the exit code is the worst check.
func (o *SnapshotVerifyOptions) Run(ctx context.Context) error {
	local, cleanup, err := fetchSource(ctx, o.File, o.TmpDir)
	defer cleanup()
	if err != nil {
		return err
	}
	v, err := backup.Verify(local, o.TmpDir)
	if err != nil {
		return err
	}
	v.File = o.File
	if err := o.printer.Print(o.Out, "EtcdSnapshotVerification", v, func(w io.Writer) error {
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
		return &cmdutil.ExitError{Code: cmdutil.ExitProblems, Err: fmt.Errorf("%s is NOT a valid snapshot", o.File)}
	case backup.CheckWarning:
		return &cmdutil.ExitError{Code: cmdutil.ExitWarnings}
	}
	return nil
}
