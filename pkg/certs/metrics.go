package certs

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// WritePrometheus writes the report in the Prometheus text format, for node-exporter's textfile
// collector:
//
//	clusterops_cert_not_after_seconds{name,source,path,ca}     NotAfter as a Unix time
//	clusterops_cert_not_before_seconds{name,source,path,ca}    NotBefore as a Unix time
//	clusterops_cert_status{name,source,path,status}            1 for the current status
//	clusterops_ca_not_after_seconds{name,path}                 the same for each CA
//	clusterops_ca_status{name,path,status}
func WritePrometheus(w io.Writer, r *Report) error {
	b := bufio.NewWriter(w)
	head := func(name, help string) {
		fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
	}
	head("clusterops_cert_not_after_seconds", "Expiry (NotAfter) of a certificate, as a Unix time.")
	for _, c := range r.Certificates {
		if c.NotAfter != nil {
			fmt.Fprintf(b, "clusterops_cert_not_after_seconds{%s} %d\n", certLabels(c), c.NotAfter.Unix())
		}
	}
	head("clusterops_cert_not_before_seconds", "Start of validity (NotBefore) of a certificate, as a Unix time.")
	for _, c := range r.Certificates {
		if c.NotBefore != nil {
			fmt.Fprintf(b, "clusterops_cert_not_before_seconds{%s} %d\n", certLabels(c), c.NotBefore.Unix())
		}
	}
	head("clusterops_cert_status", "Status of a certificate (OK, Expiring, Expired, Missing, KeyMismatch, Unverified, Invalid, Pending).")
	for _, c := range r.Certificates {
		fmt.Fprintf(b, "clusterops_cert_status{name=%s,source=%s,path=%s,status=%s} 1\n",
			q(c.Name), q(c.Source), q(c.Path), q(c.Status))
	}
	head("clusterops_ca_not_after_seconds", "Expiry (NotAfter) of a certificate authority, as a Unix time.")
	for _, c := range r.CAs {
		if c.NotAfter != nil {
			fmt.Fprintf(b, "clusterops_ca_not_after_seconds{name=%s,path=%s} %d\n", q(c.Name), q(c.Path), c.NotAfter.Unix())
		}
	}
	head("clusterops_ca_status", "Status of a certificate authority.")
	for _, c := range r.CAs {
		fmt.Fprintf(b, "clusterops_ca_status{name=%s,path=%s,status=%s} 1\n", q(c.Name), q(c.Path), q(c.Status))
	}
	return b.Flush()
}

func certLabels(c Certificate) string {
	return fmt.Sprintf("name=%s,source=%s,path=%s,ca=%s", q(c.Name), q(c.Source), q(c.Path), q(c.CAName))
}

// q quotes a label value as the text format wants.
func q(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, "\n", `\n`)
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}
