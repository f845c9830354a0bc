// Package objstore keeps files in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, SeaweedFS,
// Garage) through minio-go: locations written s3://BUCKET/PREFIX, credentials and endpoint from
// the standard AWS environment variables only, multipart uploads streamed from a file with
// bounded memory and verified after completion, and errors that name what to fix.
package objstore

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// Scheme starts every location in a bucket.
const Scheme = "s3://"

// The environment variables read, as the AWS CLI and SDKs name them.
const (
	EnvAccessKey     = "AWS_ACCESS_KEY_ID"
	EnvSecretKey     = "AWS_SECRET_ACCESS_KEY"
	EnvSessionToken  = "AWS_SESSION_TOKEN"
	EnvRegion        = "AWS_REGION"
	EnvEndpointS3    = "AWS_ENDPOINT_URL_S3"
	EnvEndpoint      = "AWS_ENDPOINT_URL"
	EnvCABundle      = "AWS_CA_BUNDLE"
	DefaultRegion    = "us-east-1"
	defaultAWSServer = "s3.amazonaws.com"
)

// EnvVars are the variables Config reads, for a CronJob's env or a Secret's keys.
var EnvVars = []string{EnvAccessKey, EnvSecretKey, EnvSessionToken, EnvRegion, EnvEndpointS3, EnvEndpoint, EnvCABundle}

// IsURL reports whether s names a bucket location (s3://...) rather than a local path.
func IsURL(s string) bool { return strings.HasPrefix(s, Scheme) }

// Location is a bucket and a key prefix ("" or without leading and trailing slashes).
type Location struct {
	Bucket string
	Prefix string
}

// ParseLocation parses s3://BUCKET or s3://BUCKET/PREFIX (a trailing slash is ignored).
func ParseLocation(s string) (Location, error) {
	rest, ok := strings.CutPrefix(s, Scheme)
	if !ok {
		return Location{}, fmt.Errorf("%q is not an s3:// URL: write s3://BUCKET/PREFIX", s)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	prefix = strings.Trim(prefix, "/")
	if err := s3utils.CheckValidBucketNameStrict(bucket); err != nil {
		return Location{}, fmt.Errorf("invalid bucket name %q in %s: %v", bucket, s, err)
	}
	if strings.Contains(prefix, "//") || path.Clean("/"+prefix) != "/"+prefix && prefix != "" {
		return Location{}, fmt.Errorf("invalid prefix %q in %s: use s3://BUCKET/DIR/SUBDIR", prefix, s)
	}
	return Location{Bucket: bucket, Prefix: prefix}, nil
}

// Key is the object key of name under the location's prefix.
func (l Location) Key(name string) string {
	if l.Prefix == "" {
		return name
	}
	return l.Prefix + "/" + name
}

// URL is s3://BUCKET/PREFIX, or the URL of name in it when name is given.
func (l Location) URL(name string) string {
	u := Scheme + l.Bucket
	if k := l.Key(name); k != "" {
		u += "/" + k
	}
	return u
}

// Split takes an object URL s3://BUCKET/PREFIX/NAME apart into its location and NAME.
func Split(s string) (Location, string, error) {
	loc, err := ParseLocation(s)
	if err != nil {
		return Location{}, "", err
	}
	if loc.Prefix == "" || strings.HasSuffix(s, "/") {
		return Location{}, "", fmt.Errorf("%s names no object: write s3://BUCKET/PREFIX/FILE", s)
	}
	dir, name := path.Split(loc.Prefix)
	return Location{Bucket: loc.Bucket, Prefix: strings.TrimSuffix(dir, "/")}, name, nil
}

// Config is how to reach the store.
type Config struct {
	Endpoint     string // host[:port]
	EndpointVar  string // the variable Endpoint came from ("" for the AWS default)
	Secure       bool
	Region       string
	AccessKey    string
	SecretKey    string
	SessionToken string
	CABundle     string // a PEM file of extra CAs
}

// ConfigFromEnv reads the standard AWS variables through getenv (os.Getenv). Credentials are
// required: anonymous access is not tried.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{AccessKey: getenv(EnvAccessKey), SecretKey: getenv(EnvSecretKey), SessionToken: getenv(EnvSessionToken),
		Region: getenv(EnvRegion), CABundle: getenv(EnvCABundle), Endpoint: defaultAWSServer, Secure: true}
	if c.AccessKey == "" || c.SecretKey == "" {
		return c, fmt.Errorf("no S3 credentials: set %s and %s (in a CronJob, from the Secret it names)", EnvAccessKey, EnvSecretKey)
	}
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	for _, v := range []string{EnvEndpointS3, EnvEndpoint} {
		raw := getenv(v)
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return c, fmt.Errorf("invalid %s %q: write http://HOST:PORT or https://HOST[:PORT]", v, raw)
		}
		c.Endpoint, c.EndpointVar, c.Secure = u.Host, v, u.Scheme == "https"
		break
	}
	return c, nil
}

// EndpointURL is the endpoint as a URL, for messages.
func (c Config) EndpointURL() string {
	if c.Secure {
		return "https://" + c.Endpoint
	}
	return "http://" + c.Endpoint
}

// endpointHint says which variable to fix for an endpoint problem.
func (c Config) endpointHint() string {
	if c.EndpointVar == "" {
		return "set " + EnvEndpointS3 + " (or " + EnvEndpoint + ") for a store other than AWS"
	}
	return "check " + c.EndpointVar
}

// newClient builds the minio-go client: static credentials, the region given (no bucket
// location look-up), and the system CAs plus AWS_CA_BUNDLE.
func newClient(c Config) (*minio.Client, error) {
	tr, err := minio.DefaultTransport(c.Secure)
	if err != nil {
		return nil, err
	}
	if c.CABundle != "" {
		pem, err := os.ReadFile(c.CABundle)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvCABundle, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s %s holds no PEM certificate", EnvCABundle, c.CABundle)
		}
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	cl, err := minio.New(c.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(c.AccessKey, c.SecretKey, c.SessionToken),
		Secure: c.Secure, Region: c.Region, Transport: http.RoundTripper(tr),
		// A few quick retries: an unreachable endpoint fails within seconds, not minutes.
		MaxRetries: 3,
	})
	if err != nil {
		return nil, fmt.Errorf("invalid S3 endpoint %q: %v; %s", c.Endpoint, err, c.endpointHint())
	}
	return cl, nil
}

// errNoSuchKey marks an object that does not exist.
var errNoSuchKey = errors.New("no such object")
