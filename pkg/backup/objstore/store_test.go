package objstore

import (
	"errors"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
)

// Each failure names what to fix, on one line; a missing object stays recognisable.
func TestExplain(t *testing.T) {
	s := &Store{Loc: Location{Bucket: "backups", Prefix: "etcd"},
		cfg: Config{Endpoint: "127.0.0.1:9000", EndpointVar: EnvEndpointS3, Region: "us-east-1"}}
	cases := []struct {
		err  error
		want string
	}{
		{minio.ErrorResponse{Code: "SignatureDoesNotMatch", StatusCode: 403}, EnvSecretKey},
		{minio.ErrorResponse{Code: "InvalidAccessKeyId", StatusCode: 403}, EnvAccessKey},
		{minio.ErrorResponse{Code: "AccessDenied", StatusCode: 403}, "access denied to s3://backups/etcd"},
		{minio.ErrorResponse{Code: "NoSuchBucket", StatusCode: 404}, `bucket "backups" does not exist at http://127.0.0.1:9000`},
		{minio.ErrorResponse{Code: "AuthorizationHeaderMalformed", StatusCode: 400}, EnvRegion},
		{errors.New("dial tcp 127.0.0.1:9000: connect: connection refused"), "cannot reach the S3 endpoint http://127.0.0.1:9000: dial tcp"},
		{errors.New("tls: failed to verify certificate: x509: certificate signed by unknown authority"), EnvCABundle},
	}
	for _, c := range cases {
		got := s.explain(c.err, "")
		if got == nil || !strings.Contains(got.Error(), c.want) || strings.Contains(got.Error(), "\n") {
			t.Errorf("explain(%v) = %v, want one line with %q", c.err, got, c.want)
		}
	}
	nf := s.explain(minio.ErrorResponse{Code: "NoSuchKey", StatusCode: 404}, "f.db")
	if !IsNotFound(nf) || nf.Error() != "s3://backups/etcd/f.db: no such object" {
		t.Errorf("NoSuchKey: %v", nf)
	}
	if IsNotFound(s.explain(minio.ErrorResponse{Code: "NoSuchBucket", StatusCode: 404}, "f.db")) {
		t.Error("a missing bucket is not a missing object")
	}
}
