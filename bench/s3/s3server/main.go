// Command s3server starts the e2e harness's S3 server (SeaweedFS `weed mini` on 127.0.0.1) in
// -dir with one bucket, prints its AWS_* environment as shell assignments on stdout, and stops
// it (by its pid) when stdin closes.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/clusterops/kubectl-clusterops/test/e2e/harness"
)

func main() {
	dir := flag.String("dir", "", "a directory for the server's data (required)")
	bucket := flag.String("bucket", "bench", "the bucket to create")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "s3server: -dir is required")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	s, err := harness.StartS3(ctx, *dir, *bucket)
	cancel()
	if s != nil {
		defer s.Stop()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "s3server:", err)
		os.Exit(1)
	}
	for _, kv := range s.Env() {
		fmt.Printf("export %s\n", kv)
	}
	fmt.Println("# ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
}
