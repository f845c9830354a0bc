// Package namehash makes object names injective: a readable form of a name, plus a short hash
// of the exact name when the readable form had to drop or change something.
package namehash

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
)

// Len is the number of hex digits Short returns.
const Len = 8

// Short is Len hex digits of sha256 over the parts, each followed by a NUL byte (so that
// ("a", "bc") and ("ab", "c") differ).
func Short(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:Len]
}

var hashed = regexp.MustCompile(`-[0-9a-f]{8}$`)

// LooksHashed reports whether s ends the way a hashed name does ("-" and Len hex digits). A
// readable name that looks hashed must get a hash of its own, or it could equal the hashed
// form of another name.
func LooksHashed(s string) bool { return hashed.MatchString(s) }
