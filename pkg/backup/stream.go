package backup

import (
	"context"
	"errors"
	"fmt"
	"io"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// DirectSource streams snapshots from the member cli is connected to over cli's own gRPC
// connection, without clientv3's Maintenance.Snapshot wrapper. That wrapper decodes every
// 32 KiB message into a new slice and copies it through an io.Pipe to a reader goroutine
// (client/v3/maintenance.go, SnapshotWithVersion and save); this source copies each message's
// blob once, from gRPC's receive buffers straight into the caller's Read buffer, on the
// caller's goroutine. It also never retries a broken stream: a snapshot restarted mid-way is
// not the same snapshot (Save reports the break instead).
func DirectSource(cli *clientv3.Client) SnapshotSource { return directSource{cli: cli} }

type directSource struct{ cli *clientv3.Client }

// snapshotDesc is the server-streaming Maintenance/Snapshot method (api/v3/etcdserverpb/rpc.pb.go,
// _Maintenance_Snapshot_Handler).
var snapshotDesc = grpc.StreamDesc{StreamName: "Snapshot", ServerStreams: true}

func (s directSource) SnapshotWithVersion(ctx context.Context) (*clientv3.SnapshotResponse, error) {
	conn := s.cli.ActiveConnection()
	if conn == nil {
		return nil, errors.New("no connection to the etcd member")
	}
	ctx, cancel := context.WithCancel(ctx)
	st, err := conn.NewStream(ctx, &snapshotDesc, "/etcdserverpb.Maintenance/Snapshot", grpc.ForceCodecV2(snapshotCodec{}))
	if err == nil {
		err = st.SendMsg(&pb.SnapshotRequest{})
	}
	if err == nil {
		err = st.CloseSend()
	}
	if err != nil {
		cancel()
		return nil, clientv3.ContextError(ctx, err)
	}
	r := &directReader{st: st, cancel: cancel}
	// The first message carries the header and the storage version (and usually data already).
	if err := r.recv(nil); err != nil {
		cancel()
		if err == io.EOF {
			return nil, errors.New("the member closed the snapshot stream before sending anything")
		}
		return nil, clientv3.ContextError(ctx, err)
	}
	return &clientv3.SnapshotResponse{Header: r.msg.header, Snapshot: r, Version: r.msg.version}, nil
}

// directReader reads the blobs of the Snapshot stream in order.
type directReader struct {
	st     grpc.ClientStream
	cancel context.CancelFunc
	msg    snapshotMsg
	err    error
}

// recv receives the next message, its blob copied into dst (what does not fit goes to msg.over).
func (r *directReader) recv(dst []byte) error {
	r.msg.dst, r.msg.n = dst, 0
	err := r.st.RecvMsg(&r.msg)
	r.msg.dst = nil
	return err
}

func (r *directReader) Read(p []byte) (int, error) {
	if len(r.msg.over) > 0 {
		n := copy(p, r.msg.over)
		r.msg.over = r.msg.over[n:]
		return n, nil
	}
	if r.err != nil {
		return 0, r.err
	}
	for len(p) > 0 {
		if err := r.recv(p); err != nil {
			r.err = err
			return r.msg.n, err
		}
		if r.msg.n > 0 {
			return r.msg.n, nil
		}
	}
	return 0, nil
}

func (r *directReader) Close() error {
	r.cancel()
	return nil
}

// snapshotMsg is a pb.SnapshotResponse decoded by snapshotCodec: the blob goes straight into dst.
type snapshotMsg struct {
	dst     []byte // where the blob goes; set by the reader for each message
	n       int    // bytes of the blob copied into dst
	over    []byte // the rest of the blob, when dst was too short (its array is reused)
	scratch []byte // a message spread over several gRPC buffers is gathered here (reused)
	header  *pb.ResponseHeader
	version string
}

// snapshotCodec is the "proto" codec, except that it decodes a *snapshotMsg by hand: field 3
// (blob) of SnapshotResponse (api/v3/etcdserverpb/rpc.proto) is copied into the caller's buffer
// rather than into a new slice per message.
type snapshotCodec struct{}

func (snapshotCodec) Name() string { return "proto" }

func (snapshotCodec) Marshal(v any) (mem.BufferSlice, error) {
	return encoding.GetCodecV2("proto").Marshal(v)
}

func (snapshotCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*snapshotMsg)
	if !ok {
		return encoding.GetCodecV2("proto").Unmarshal(data, v)
	}
	var b []byte
	if len(data) == 1 {
		b = data[0].ReadOnlyData()
	} else {
		n := data.Len()
		if cap(m.scratch) < n {
			m.scratch = make([]byte, n)
		}
		b = m.scratch[:n]
		data.CopyTo(b)
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("snapshot message: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return fmt.Errorf("snapshot message: %w", protowire.ParseError(n))
			}
			b = b[n:]
			continue
		}
		val, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return fmt.Errorf("snapshot message: %w", protowire.ParseError(n))
		}
		b = b[n:]
		switch num {
		case 1: // header
			h := &pb.ResponseHeader{}
			if err := proto.Unmarshal(val, h); err != nil {
				return fmt.Errorf("snapshot message header: %w", err)
			}
			m.header = h
		case 3: // blob (a repeated bytes field arrives whole: the last one wins, as in proto)
			c := copy(m.dst, val)
			m.n = c
			m.over = append(m.over[:0], val[c:]...)
		case 4: // version
			m.version = string(val)
		}
	}
	return nil
}
