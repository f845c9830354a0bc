package objstore

import (
	"strings"
	"testing"
)

func TestParseLocation(t *testing.T) {
	for in, want := range map[string]Location{
		"s3://backups":            {Bucket: "backups"},
		"s3://backups/":           {Bucket: "backups"},
		"s3://backups/etcd/prod":  {Bucket: "backups", Prefix: "etcd/prod"},
		"s3://backups/etcd/prod/": {Bucket: "backups", Prefix: "etcd/prod"},
		"s3://my.bucket-1/a":      {Bucket: "my.bucket-1", Prefix: "a"},
	} {
		got, err := ParseLocation(in)
		if err != nil || got != want {
			t.Errorf("ParseLocation(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"/var/backups", "s3://", "s3://UPPER/x", "s3://b/a//c", "s3://b/../c", "s3://b/a/./c"} {
		if _, err := ParseLocation(bad); err == nil {
			t.Errorf("ParseLocation(%q) accepted", bad)
		}
	}
	l := Location{Bucket: "bkt", Prefix: "p/q"}
	if l.URL("f.db") != "s3://bkt/p/q/f.db" || l.Key("f.db") != "p/q/f.db" || (Location{Bucket: "bkt"}).URL("f.db") != "s3://bkt/f.db" {
		t.Errorf("URL/Key: %s %s", l.URL("f.db"), l.Key("f.db"))
	}
	loc, name, err := Split("s3://bkt/p/q/f.db")
	if err != nil || loc != l || name != "f.db" {
		t.Errorf("Split = %+v %q %v", loc, name, err)
	}
	loc, name, err = Split("s3://bkt/f.db")
	if err != nil || loc != (Location{Bucket: "bkt"}) || name != "f.db" {
		t.Errorf("Split top = %+v %q %v", loc, name, err)
	}
	for _, bad := range []string{"s3://b", "s3://b/p/"} {
		if _, _, err := Split(bad); err == nil {
			t.Errorf("Split(%q) accepted", bad)
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	creds := map[string]string{EnvAccessKey: "AK", EnvSecretKey: "SK"}
	c, err := ConfigFromEnv(env(creds))
	if err != nil || c.Endpoint != "s3.amazonaws.com" || !c.Secure || c.Region != "us-east-1" || c.EndpointVar != "" {
		t.Errorf("defaults: %+v %v", c, err)
	}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range creds {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	c, err = ConfigFromEnv(env(with(map[string]string{EnvEndpoint: "https://other:1", EnvEndpointS3: "http://127.0.0.1:8333", EnvRegion: "eu-west-1"})))
	if err != nil || c.Endpoint != "127.0.0.1:8333" || c.Secure || c.EndpointVar != EnvEndpointS3 || c.Region != "eu-west-1" {
		t.Errorf("AWS_ENDPOINT_URL_S3 first: %+v %v", c, err)
	}
	c, err = ConfigFromEnv(env(with(map[string]string{EnvEndpoint: "https://minio.example:9000"})))
	if err != nil || c.Endpoint != "minio.example:9000" || !c.Secure || c.EndpointVar != EnvEndpoint {
		t.Errorf("AWS_ENDPOINT_URL: %+v %v", c, err)
	}
	for _, bad := range []string{"minio:9000", "ftp://x", "http://x/path"} {
		if _, err := ConfigFromEnv(env(with(map[string]string{EnvEndpointS3: bad}))); err == nil || !strings.Contains(err.Error(), EnvEndpointS3) {
			t.Errorf("endpoint %q: %v", bad, err)
		}
	}
	if _, err := ConfigFromEnv(env(map[string]string{EnvAccessKey: "AK"})); err == nil || !strings.Contains(err.Error(), EnvSecretKey) {
		t.Errorf("no secret: %v", err)
	}
}
