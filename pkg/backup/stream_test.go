package backup

import (
	"bytes"
	"io"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// The snapshot codec decodes what etcd's generated code encodes: the blob lands in the
// caller's buffer (the rest in over), the version and header are kept, whether the message
// arrives in one gRPC buffer or in several.
func TestSnapshotCodecDecodesEtcdMessages(t *testing.T) {
	blob := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	wire, err := proto.Marshal(&pb.SnapshotResponse{
		Header: &pb.ResponseHeader{ClusterId: 7, MemberId: 9, Revision: 42}, RemainingBytes: 123, Blob: blob, Version: "3.7.0",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, split := range []int{0, 1, 100, len(wire) / 2, len(wire) - 1} {
		var data mem.BufferSlice
		if split == 0 {
			data = mem.BufferSlice{mem.SliceBuffer(wire)}
		} else {
			data = mem.BufferSlice{mem.SliceBuffer(wire[:split]), mem.SliceBuffer(wire[split:])}
		}
		dst := make([]byte, 40000)
		m := &snapshotMsg{dst: dst}
		if err := (snapshotCodec{}).Unmarshal(data, m); err != nil {
			t.Fatalf("split %d: %v", split, err)
		}
		if m.n != len(dst) || !bytes.Equal(dst, blob[:len(dst)]) || !bytes.Equal(m.over, blob[len(dst):]) {
			t.Errorf("split %d: blob not delivered whole and in order (n=%d, over=%d)", split, m.n, len(m.over))
		}
		if m.version != "3.7.0" || m.header.GetRevision() != 42 || m.header.GetClusterId() != 7 {
			t.Errorf("split %d: version %q header %v", split, m.version, m.header)
		}
	}
	// A request (or any other message) goes through the ordinary proto codec.
	out, err := (snapshotCodec{}).Marshal(&pb.SnapshotRequest{})
	if err != nil || out.Len() != 0 {
		t.Errorf("SnapshotRequest marshals to %d bytes, %v", out.Len(), err)
	}
	if err := (snapshotCodec{}).Unmarshal(mem.BufferSlice{mem.SliceBuffer([]byte{0xff})}, &snapshotMsg{}); err == nil {
		t.Error("a malformed message decodes without an error")
	}
}

// directReader hands out the blobs in order through Read calls of any size.
func TestDirectReaderReadsAcrossMessages(t *testing.T) {
	var want []byte
	var msgs [][]byte
	for i := range 5 {
		b := bytes.Repeat([]byte{byte('a' + i)}, 1000+i*777)
		want = append(want, b...)
		w, _ := proto.Marshal(&pb.SnapshotResponse{Blob: b})
		msgs = append(msgs, w)
	}
	r := &directReader{st: &fakeStream{msgs: msgs}, cancel: func() {}}
	var got []byte
	buf := make([]byte, 600)
	for {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
	}
	if !bytes.Equal(got, want) {
		t.Errorf("read %d bytes, want %d in order", len(got), len(want))
	}
}

// fakeStream delivers encoded messages to RecvMsg through snapshotCodec, as gRPC does.
type fakeStream struct {
	grpc.ClientStream
	msgs [][]byte
}

func (s *fakeStream) RecvMsg(m any) error {
	if len(s.msgs) == 0 {
		return io.EOF
	}
	b := s.msgs[0]
	s.msgs = s.msgs[1:]
	return snapshotCodec{}.Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, m)
}
