package rbac

import (
	"slices"
	"testing"
)

func TestParseSubject(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    Subject
		wantErr bool
	}{
		{"alice", User("alice"), false},
		{"user:alice", User("alice"), false},
		{"User:alice", User("alice"), false},
		{"group:dev", Group("dev"), false},
		{"sa:kube-system:coredns", ServiceAccount("kube-system", "coredns"), false},
		{"serviceaccount:ns1:x", ServiceAccount("ns1", "x"), false},
		{"system:admin", User("system:admin"), false},
		{"", Subject{}, true},
		{"group:", Subject{}, true},
		{"sa:nocolon", Subject{}, true},
		{"sa:Bad_NS:x", Subject{}, true},
		{"sa:ns:a:b", Subject{}, true},
	} {
		got, err := ParseSubject(c.in)
		if (err != nil) != c.wantErr || (!c.wantErr && got != c.want) {
			t.Errorf("ParseSubject(%q) = %+v, %v; want %+v (error %v)", c.in, got, err, c.want, c.wantErr)
		}
	}
}

func TestUserInfo(t *testing.T) {
	u, g := ServiceAccount("ns", "x").UserInfo(nil, true)
	if u != "system:serviceaccount:ns:x" || !slices.Equal(g, []string{"system:serviceaccounts", "system:serviceaccounts:ns", "system:authenticated"}) {
		t.Errorf("service account: %s %v", u, g)
	}
	u, g = Group("dev").UserInfo([]string{"ops"}, false)
	if u != "" || !slices.Equal(g, []string{"dev", "ops"}) {
		t.Errorf("group: %q %v", u, g)
	}
}
