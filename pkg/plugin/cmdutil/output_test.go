package cmdutil

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

type sampleItem struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

type sample struct {
	Cluster string       `json:"cluster"`
	Healthy bool         `json:"healthy"`
	Items   []sampleItem `json:"items"`
}

var testSample = sample{
	Cluster: "prod",
	Healthy: true,
	Items:   []sampleItem{{"alpha", 1}, {"a-much-longer-name", 22}},
}

func sampleTable(w io.Writer) error {
	_, _ = fmt.Fprintln(w, "NAME\tCOUNT")
	for _, it := range testSample.Items {
		_, _ = fmt.Fprintf(w, "%s\t%d\n", it.Name, it.Count)
	}
	return nil
}

// printWith parses args as the flags of a command using OutputFlags and
// prints testSample.
func printWith(t *testing.T, args ...string) (string, error) {
	t.Helper()
	f := NewOutputFlags()
	cmd := &cobra.Command{Use: "x"}
	f.AddFlags(cmd)
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatalf("parsing %v: %v", args, err)
	}
	var out bytes.Buffer
	p, err := f.ToPrinter()
	if err != nil {
		return "", err
	}
	err = p.Print(&out, "Sample", testSample, sampleTable)
	return out.String(), err
}

func TestOutputTable(t *testing.T) {
	out, err := printWith(t)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "\t") {
		t.Fatalf("tabs were not expanded:\n%s", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME ") {
		t.Fatalf("unexpected table:\n%s", out)
	}
	col := strings.Index(lines[0], "COUNT")
	for _, l := range lines[1:] {
		if len(l) <= col || l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("second column is not aligned at %d:\n%s", col, out)
		}
	}
	if col <= len("a-much-longer-name") {
		t.Errorf("columns overlap:\n%s", out)
	}
}

func TestOutputJSON(t *testing.T) {
	out, err := printWith(t, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		sample
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if got.APIVersion != "clusterops.io/v1alpha1" || got.Kind != "Sample" {
		t.Errorf("apiVersion/kind = %q/%q", got.APIVersion, got.Kind)
	}
	if got.Cluster != "prod" || !got.Healthy || len(got.Items) != 2 || got.Items[1].Count != 22 {
		t.Errorf("round trip lost data: %+v", got.sample)
	}
}

func TestOutputFormats(t *testing.T) {
	dir := t.TempDir()
	tmplFile := filepath.Join(dir, "t.tmpl")
	pathFile := filepath.Join(dir, "p.jsonpath")
	if err := os.WriteFile(tmplFile, []byte(`{{.cluster}}/{{len .items}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pathFile, []byte(`{.items[0].name}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args     []string
		want     string
		contains bool
	}{
		{[]string{"-o", "yaml"}, "apiVersion: clusterops.io/v1alpha1\ncluster: prod\nhealthy: true\nitems:\n- count: 1\n  name: alpha\n- count: 22\n  name: a-much-longer-name\nkind: Sample\n", false},
		{[]string{"-o", "jsonpath={.items[1].count}"}, "22", false},
		{[]string{"-o=jsonpath={.kind} {.apiVersion}"}, "Sample clusterops.io/v1alpha1", false},
		{[]string{"-o", "jsonpath-file=" + pathFile}, "alpha", false},
		{[]string{"-o", "go-template={{.kind}}:{{.cluster}}"}, "Sample:prod", false},
		{[]string{"-o", "go-template-file=" + tmplFile}, "prod/2", false},
		{[]string{"--template", "{{.healthy}}"}, "true", false},
		{[]string{"-o", "JSON"}, `"kind": "Sample"`, true},
	}
	for _, tt := range tests {
		out, err := printWith(t, tt.args...)
		if err != nil {
			t.Errorf("%v: %v", tt.args, err)
			continue
		}
		if tt.contains {
			if !strings.Contains(out, tt.want) {
				t.Errorf("%v: %q lacks %q", tt.args, out, tt.want)
			}
		} else if out != tt.want {
			t.Errorf("%v:\n got %q\nwant %q", tt.args, out, tt.want)
		}
	}
}

func TestOutputErrors(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"-o", "xml"}, []string{`unsupported output format "xml"`, "json, yaml", "jsonpath=...", "go-template=...", "omit -o"}},
		{[]string{"-o", "name"}, []string{`unsupported output format "name"`}},
		{[]string{"-o", "wide"}, []string{`unsupported output format "wide"`}},
		{[]string{"-o", "custom-columns=NAME:.name"}, []string{`unsupported output format "custom-columns=NAME:.name"`}},
		{[]string{"-o", "jsonpath"}, []string{"no template given"}},
		{[]string{"-o", "jsonpath={.items["}, []string{"jsonpath"}},
		{[]string{"-o", "go-template-file=/nonexistent/t.tmpl"}, []string{"/nonexistent/t.tmpl"}},
	}
	for _, tt := range tests {
		out, err := printWith(t, tt.args...)
		assertOneLine(t, err)
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: %q lacks %q", tt.args, err, w)
			}
		}
		if out != "" {
			t.Errorf("%v: printed %q despite the error", tt.args, out)
		}
	}
}

func TestOutputEdgeCases(t *testing.T) {
	f := NewOutputFlags()
	var out bytes.Buffer
	if err := printerOf(t, f).Print(&out, "Sample", testSample, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "apiVersion: clusterops.io/v1alpha1\n") {
		t.Errorf("no table function should fall back to YAML, got:\n%s", out.String())
	}

	*f.printFlags.OutputFormat = "json"
	if err := printerOf(t, f).Print(&out, "List", []int{1, 2}, nil); err == nil || !strings.Contains(err.Error(), "JSON object") {
		t.Errorf("a non-object result must be rejected, got %v", err)
	}

	tableErr := fmt.Errorf("table failed")
	*f.printFlags.OutputFormat = ""
	if err := printerOf(t, f).Print(&out, "Sample", testSample, func(io.Writer) error { return tableErr }); err != tableErr {
		t.Errorf("table error not returned: %v", err)
	}
}

func printerOf(t *testing.T, f *OutputFlags) *Printer {
	t.Helper()
	p, err := f.ToPrinter()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
