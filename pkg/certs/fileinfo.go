package certs

// The expiry reader for files a static pod's flags reference (pkg/staticpods Inspect): given any
// path, say whether it is a certificate, a key or a kubeconfig and, for a certificate, when it
// expires. It reads one loose file, unlike CheckNode, which knows kubeadm's catalogue.

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	certutil "k8s.io/client-go/util/cert"
)

// File kinds reported for a referenced file.
const (
	FileCertificate = "certificate"
	FileKey         = "key"
	FileKubeconfig  = "kubeconfig"
	FileOther       = "file"
	FileMissing     = "missing"
	FileUnreadable  = "unreadable"
)

// FileInfo describes a file (one a flag references), read under the node root.
type FileInfo struct {
	Path string `json:"path"`
	Kind string `json:"kind"`
	// For a certificate (or a kubeconfig's client certificate): its subject, issuer and expiry.
	Subject  string     `json:"subject,omitempty"`
	Issuer   string     `json:"issuer,omitempty"`
	NotAfter *time.Time `json:"notAfter,omitempty"`
	DaysLeft *int       `json:"daysLeft,omitempty"`
	Error    string     `json:"error,omitempty"`
}

// ReadFileInfo reads path (a node path) under root and says what it is and, for certificates,
// when it expires.
func ReadFileInfo(root, path string, now time.Time) FileInfo {
	fi := FileInfo{Path: path}
	data, err := os.ReadFile(filepath.Join(root, path))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fi.Kind, fi.Error = FileMissing, "not found under "+root
		return fi
	case err != nil:
		fi.Kind, fi.Error = FileUnreadable, oneLine(err.Error())
		return fi
	}
	if block, _ := pem.Decode(data); block != nil {
		switch {
		case block.Type == certutil.CertificateBlockType:
			fi.Kind = FileCertificate
			fi.setCert(block.Bytes, now)
		case strings.Contains(block.Type, "PRIVATE KEY"), strings.Contains(block.Type, "PUBLIC KEY"):
			fi.Kind = FileKey
		default:
			fi.Kind = FileOther
		}
		return fi
	}
	if cfg, err := clientcmd.Load(data); err == nil && len(cfg.AuthInfos) > 0 {
		fi.Kind = FileKubeconfig
		ctx := cfg.Contexts[cfg.CurrentContext]
		for name, ai := range cfg.AuthInfos {
			if ctx != nil && name != ctx.AuthInfo {
				continue
			}
			certData := ai.ClientCertificateData
			if len(certData) == 0 && ai.ClientCertificate != "" {
				certData, err = os.ReadFile(filepath.Join(root, ai.ClientCertificate))
				if err != nil {
					fi.Error = "client certificate " + ai.ClientCertificate + ": " + oneLine(err.Error())
				}
			}
			if block, _ := pem.Decode(certData); block != nil && block.Type == certutil.CertificateBlockType {
				fi.setCert(block.Bytes, now)
			}
			break
		}
		return fi
	}
	fi.Kind = FileOther
	return fi
}

func (fi *FileInfo) setCert(der []byte, now time.Time) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		fi.Error = "not a valid certificate: " + oneLine(err.Error())
		return
	}
	na := cert.NotAfter.UTC()
	days := int(math.Floor(na.Sub(now).Hours() / 24))
	fi.Subject, fi.Issuer, fi.NotAfter, fi.DaysLeft = cert.Subject.String(), cert.Issuer.String(), &na, &days
}

// ExpiryText is a short human rendering of a file's state, e.g. "certificate, expires
// 2027-11-27 (364d)".
func (fi FileInfo) ExpiryText() string {
	switch {
	case fi.NotAfter != nil && *fi.DaysLeft < 0:
		return fmt.Sprintf("%s, EXPIRED %s", fi.Kind, fi.NotAfter.Format("2006-01-02"))
	case fi.NotAfter != nil:
		return fmt.Sprintf("%s, expires %s (%dd)", fi.Kind, fi.NotAfter.Format("2006-01-02"), *fi.DaysLeft)
	case fi.Error != "":
		return fmt.Sprintf("%s: %s", fi.Kind, fi.Error)
	case fi.Kind == FileKey:
		return "key (no expiry)"
	}
	return fi.Kind
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
