package cmdutil

import (
	"fmt"
	"strconv"
	"time"
)

// ParseLongDuration accepts Go durations (720h, 90m) and whole days, weeks or years (30d, 2w, 1y).
func ParseLongDuration(flag, s string) (time.Duration, error) {
	unit := map[byte]time.Duration{'d': 24 * time.Hour, 'w': 7 * 24 * time.Hour, 'y': 365 * 24 * time.Hour}
	if n := len(s); n > 1 {
		if u, ok := unit[s[n-1]]; ok {
			if v, err := strconv.Atoi(s[:n-1]); err == nil && v >= 0 {
				return time.Duration(v) * u, nil
			}
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid --%s %q: use a duration such as 30d, 2w, 1y or 720h", flag, s)
	}
	return d, nil
}
