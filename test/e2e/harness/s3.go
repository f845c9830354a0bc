package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Server is a real S3-compatible server (SeaweedFS's `weed mini`: master, volume server,
// filer and S3 gateway in one process) on 127.0.0.1 free ports, with one identity and one
// bucket. It is stopped by its pid.
type S3Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Bucket    string
	Dir       string
	Proc      *Process
	// Client is a minio-go client with the identity, for tests to look at the bucket.
	Client *minio.Client
}

// Env is the AWS environment that points our CLI at the server with the identity.
func (s *S3Server) Env() []string {
	return []string{"AWS_ACCESS_KEY_ID=" + s.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_ENDPOINT_URL_S3=" + s.Endpoint, "AWS_REGION=us-east-1"}
}

// Stop stops the server by its pid.
func (s *S3Server) Stop() {
	if s.Proc != nil {
		s.Proc.Stop(10 * time.Second)
	}
}

// Keys lists every key in the bucket (recursively), for tests.
func (s *S3Server) Keys(ctx context.Context) ([]string, error) {
	var keys []string
	for o := range s.Client.ListObjects(ctx, s.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			return nil, o.Err
		}
		keys = append(keys, o.Key)
	}
	return keys, nil
}

// StartS3 builds (once, cached) and starts `weed mini` in dir with an identities file and the
// bucket, every listener on 127.0.0.1, telemetry, WebDAV, the admin UI, Iceberg and Lance off,
// and buckets never created on upload. It returns once the bucket answers a listing.
func StartS3(ctx context.Context, dir, bucket string) (*S3Server, error) {
	bin, err := Binaries("weed")
	if err != nil {
		return nil, err
	}
	s := &S3Server{AccessKey: "clusterops-e2e", SecretKey: "e2e-secret-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		Bucket: bucket, Dir: dir}
	ports, err := freePorts(8)
	if err != nil {
		return nil, err
	}
	ids := map[string]any{"identities": []any{map[string]any{
		"name":        "clusterops",
		"credentials": []any{map[string]string{"accessKey": s.AccessKey, "secretKey": s.SecretKey}},
		"actions":     []string{"Admin", "Read", "Write", "List", "Tagging"},
	}}}
	data, _ := json.Marshal(ids)
	idFile := filepath.Join(dir, "s3-identities.json")
	if err := os.WriteFile(idFile, data, 0o600); err != nil {
		return nil, err
	}
	dataDir := filepath.Join(dir, "weed")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	args := []string{"-logtostderr", "mini", "-dir=" + dataDir, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.port=" + itoa(ports[0]), "-master.port.grpc=" + itoa(ports[1]), "-master.telemetry=false",
		"-volume.port=" + itoa(ports[2]), "-volume.port.grpc=" + itoa(ports[3]),
		"-filer.port=" + itoa(ports[4]), "-filer.port.grpc=" + itoa(ports[5]),
		"-filer.localSocket=" + filepath.Join(dataDir, "filer.sock"),
		"-s3.port=" + itoa(ports[6]), "-s3.port.grpc=" + itoa(ports[7]), "-s3.localSocket=" + filepath.Join(dataDir, "s3.sock"),
		"-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.config=" + idFile, "-s3.autoCreateBucket=false",
		"-webdav=false", "-admin.ui=false", "-bucket=" + bucket}
	s.Proc, err = startProcess("weed", filepath.Join(bin, "weed"), args, dir)
	if err != nil {
		return nil, err
	}
	s.Endpoint = "http://127.0.0.1:" + itoa(ports[6])
	s.Client, err = minio.New("127.0.0.1:"+itoa(ports[6]), &minio.Options{
		Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Region: "us-east-1", MaxRetries: 1})
	if err != nil {
		s.Stop()
		return nil, err
	}
	var last error
	for {
		if done, perr := s.Proc.Exited(); done {
			return s, fmt.Errorf("weed mini exited: %v: %s", perr, strings.Join(s.Proc.Tail(20), "\n"))
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := s.Client.BucketExists(cctx, bucket)
		cancel()
		if ok {
			return s, nil
		}
		last = err
		select {
		case <-ctx.Done():
			return s, fmt.Errorf("weed mini's S3 gateway did not serve bucket %s: %v (last: %v): %s", bucket, ctx.Err(), last,
				strings.Join(s.Proc.Tail(20), "\n"))
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// StartS3T starts the S3 server for a test and stops it when the test ends.
func StartS3T(t testing.TB, bucket string) *S3Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	s, err := StartS3(ctx, dir, bucket)
	if s != nil {
		t.Cleanup(func() {
			s.Stop()
			if t.Failed() && s.Proc != nil {
				t.Logf("weed log:\n%s", strings.Join(s.Proc.Tail(60), "\n"))
			}
		})
	}
	if err != nil {
		t.Fatalf("starting the S3 server: %v", err)
	}
	return s
}

func itoa(i int) string { return strconv.Itoa(i) }
