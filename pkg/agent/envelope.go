package agent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ResultPrefix starts the one log line in which `agent run` reports; anything else in the log
// (the kubelet adds nothing, but a runtime may) is ignored.
const ResultPrefix = "clusterops-agent-result: "

// Envelope is what `agent run` reports: the command's output, its exit code, and the agent's
// version, which the CLI compares with its own.
type Envelope struct {
	AgentVersion string `json:"agentVersion"`
	ExitCode     int    `json:"exitCode"`
	Stdout       []byte `json:"stdout"`
	Stderr       string `json:"stderr,omitempty"`
	// Error is set when the agent could not run the command at all (a version mismatch, no binary).
	Error string `json:"error,omitempty"`
}

// Write prints e as the result line.
func (e *Envelope) Write(w io.Writer) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s%s\n", ResultPrefix, b)
	return err
}

// ErrNoResult says the log holds no result line: the agent was killed before it could report.
var ErrNoResult = errors.New("the agent pod's log holds no result (it was killed before it finished)")

// ParseEnvelope finds the result line in an agent pod's log.
func ParseEnvelope(log []byte) (*Envelope, error) {
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	var found *Envelope
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, ResultPrefix) {
			continue
		}
		var e Envelope
		if err := json.Unmarshal([]byte(strings.TrimPrefix(line, ResultPrefix)), &e); err != nil {
			return nil, fmt.Errorf("the agent's result line is not valid: %w", err)
		}
		found = &e
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if found == nil {
		return nil, ErrNoResult
	}
	return found, nil
}

// VersionMismatch is the agent image's version differing from the CLI's: the two speak one
// result format only when they are the same build.
type VersionMismatch struct{ Agent, CLI, Image string }

func (e *VersionMismatch) Error() string {
	return fmt.Sprintf("the agent image %s is kubectl-clusterops %s, but this CLI is %s: pass --image with the image of %s "+
		"(or set CLUSTEROPS_IMAGE)", e.Image, e.Agent, e.CLI, e.CLI)
}
