package namehash

import "testing"

func TestShort(t *testing.T) {
	if a, b := Short("a", "bc"), Short("ab", "c"); a == b || len(a) != Len {
		t.Errorf("Short(a, bc) = %q, Short(ab, c) = %q: want %d hex digits, different", a, b, Len)
	}
	if Short("x") != Short("x") {
		t.Error("Short is not stable")
	}
	for s, want := range map[string]bool{"user-a-0123abcd": true, "user-a-0123abc": false, "user-a-0123ABCD": false, "a0123abcd": false} {
		if LooksHashed(s) != want {
			t.Errorf("LooksHashed(%q) = %v, want %v", s, !want, want)
		}
	}
}
