package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
)

// Store is one location in a bucket.
type Store struct {
	Loc  Location
	cfg  Config
	core *minio.Core
}

// New connects nothing yet: it builds a client for loc with cfg.
func New(cfg Config, loc Location) (*Store, error) {
	cl, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	return &Store{Loc: loc, cfg: cfg, core: &minio.Core{Client: cl}}, nil
}

// Object is one object of a listing.
type Object struct {
	Name     string // the key without the location's prefix
	Size     int64
	Modified time.Time
	ETag     string
}

// Check makes one authenticated request on the bucket, so that a wrong secret, a missing
// bucket or an unreachable endpoint is reported before any work is done.
func (s *Store) Check(ctx context.Context) error {
	_, err := s.core.ListObjectsV2(s.Loc.Bucket, s.prefixSlash(), "", "", "/", 1)
	return s.explain(err, "")
}

func (s *Store) prefixSlash() string {
	if s.Loc.Prefix == "" {
		return ""
	}
	return s.Loc.Prefix + "/"
}

// List lists the objects directly under the location (not in sub-prefixes).
func (s *Store) List(ctx context.Context) ([]Object, error) {
	var out []Object
	for o := range s.core.Client.ListObjects(ctx, s.Loc.Bucket, minio.ListObjectsOptions{Prefix: s.prefixSlash()}) {
		if o.Err != nil {
			return nil, s.explain(o.Err, "")
		}
		name := strings.TrimPrefix(o.Key, s.prefixSlash())
		if name == "" || strings.Contains(name, "/") {
			continue
		}
		out = append(out, Object{Name: name, Size: o.Size, Modified: o.LastModified.UTC(), ETag: strings.Trim(o.ETag, `"`)})
	}
	return out, nil
}

// Stat is a HEAD of name, with the stored checksum when the server keeps one.
func (s *Store) Stat(ctx context.Context, name string) (minio.ObjectInfo, error) {
	opts := minio.StatObjectOptions{Checksum: true}
	info, err := s.core.StatObject(ctx, s.Loc.Bucket, s.Loc.Key(name), opts)
	return info, s.explain(err, name)
}

// Exists says whether name exists.
func (s *Store) Exists(ctx context.Context, name string) (bool, error) {
	_, err := s.Stat(ctx, name)
	if errors.Is(err, errNoSuchKey) {
		return false, nil
	}
	return err == nil, err
}

// IsNotFound reports whether err says that an object does not exist.
func IsNotFound(err error) bool { return errors.Is(err, errNoSuchKey) }

// PutSmall uploads a small object (a sidecar) in one request, with its SHA256 as the signed
// payload hash and its MD5 as Content-MD5, so the server refuses anything else.
func (s *Store) PutSmall(ctx context.Context, name string, data []byte, contentType string) error {
	sums := sumPart(data)
	_, err := s.core.PutObject(ctx, s.Loc.Bucket, s.Loc.Key(name), bytes.NewReader(data), int64(len(data)),
		sums.md5Base64(), sums.sha256Hex(), minio.PutObjectOptions{ContentType: contentType, DisableContentSha256: true})
	return s.explain(err, name)
}

// Open streams name; the caller closes the reader. size is the object's size.
func (s *Store) Open(ctx context.Context, name string) (r io.ReadCloser, size int64, err error) {
	body, info, _, err := s.core.GetObject(ctx, s.Loc.Bucket, s.Loc.Key(name), minio.GetObjectOptions{})
	if err != nil {
		return nil, 0, s.explain(err, name)
	}
	return body, info.Size, nil
}

// ReadSmall reads a small object (at most max bytes).
func (s *Store) ReadSmall(ctx context.Context, name string, max int64) ([]byte, error) {
	r, size, err := s.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if size > max {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d expected", s.Loc.URL(name), size, max)
	}
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	return data, s.explain(err, name)
}

// Remove deletes name.
func (s *Store) Remove(ctx context.Context, name string) error {
	return s.explain(s.core.RemoveObject(ctx, s.Loc.Bucket, s.Loc.Key(name), minio.RemoveObjectOptions{}), name)
}

// explain turns an error of the client into one line that names what to fix: the variable
// holding a wrong secret, the bucket, or the endpoint. name is the object ("" for the bucket).
func (s *Store) explain(err error, name string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	at := s.cfg.EndpointURL()
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case "InvalidAccessKeyId":
		return &Error{Err: err, Msg: fmt.Sprintf("the S3 server at %s does not know the access key in %s: check %s and %s (the Secret they come from)",
			at, EnvAccessKey, EnvAccessKey, EnvSecretKey)}
	case "SignatureDoesNotMatch":
		return &Error{Err: err, Msg: fmt.Sprintf("the S3 server at %s rejected the request signature: %s does not match %s; check the secret key (the Secret it comes from)",
			at, EnvSecretKey, EnvAccessKey)}
	case "AccessDenied", "AllAccessDisabled", "InvalidToken", "ExpiredToken", "TokenRefreshRequired":
		return &Error{Err: err, Msg: fmt.Sprintf("access denied to %s at %s (%s): the credentials in %s/%s (and %s) may not use this bucket; check them, or the bucket policy",
			s.Loc.URL(""), at, resp.Code, EnvAccessKey, EnvSecretKey, EnvSessionToken)}
	case "NoSuchBucket":
		return &Error{Err: err, Msg: fmt.Sprintf("bucket %q does not exist at %s: create it, or fix the bucket in %s", s.Loc.Bucket, at, s.Loc.URL(""))}
	case "NoSuchKey", "NoSuchObject":
		return &Error{Err: errors.Join(errNoSuchKey, err), Msg: fmt.Sprintf("%s: no such object", s.Loc.URL(name))}
	case "AuthorizationHeaderMalformed", "InvalidRegion":
		return &Error{Err: err, Msg: fmt.Sprintf("the S3 server at %s wants another region: set %s (now %q)", at, EnvRegion, s.cfg.Region)}
	}
	if resp.StatusCode == 404 && name != "" {
		return &Error{Err: errors.Join(errNoSuchKey, err), Msg: fmt.Sprintf("%s: no such object", s.Loc.URL(name))}
	}
	if resp.StatusCode == 403 {
		return &Error{Err: err, Msg: fmt.Sprintf("access denied to %s at %s: check %s and %s (the Secret they come from)", s.Loc.URL(""), at, EnvAccessKey, EnvSecretKey)}
	}
	if resp.Code == "" && resp.StatusCode == 0 {
		var uerr *url.Error
		cause := err
		if errors.As(err, &uerr) {
			cause = uerr.Err // without the request URL
		}
		msg := oneLine(cause.Error())
		hint := s.cfg.endpointHint()
		if strings.Contains(msg, "certificate") {
			hint += ", or set " + EnvCABundle + " to the CA file that signed its certificate"
		}
		return &Error{Err: err, Msg: fmt.Sprintf("cannot reach the S3 endpoint %s: %s; %s", at, msg, hint)}
	}
	return &Error{Err: err, Msg: fmt.Sprintf("S3 server at %s: %s (%s)", at, oneLine(resp.Message), resp.Code)}
}

// Error is an S3 problem told in one line that names what to fix.
type Error struct {
	Msg string
	Err error
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
