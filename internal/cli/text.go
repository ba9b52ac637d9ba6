package cli

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// sanitize makes user data safe to print on a terminal: control
// characters (escape sequences, carriage returns, newlines) become '?'.
func sanitize(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError }) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return '?'
		}
		return r
	}, s)
}

// width is the number of terminal cells of s (one per rune).
func width(s string) int { return utf8.RuneCountInString(s) }

// fit truncates s to n cells (with "…") or pads it with spaces to n.
func fit(s string, n int) string {
	w := width(s)
	if w > n {
		if n <= 0 {
			return ""
		}
		r := []rune(s)
		return string(r[:n-1]) + "…"
	}
	return s + strings.Repeat(" ", n-w)
}

// fitLeft right-aligns s in n cells.
func fitLeft(s string, n int) string {
	if w := width(s); w < n {
		return strings.Repeat(" ", n-w) + s
	}
	return s
}

// formatDuration prints d with three significant digits: 850µs, 12.3ms,
// 1.83s, 2m03s.
func formatDuration(d time.Duration) string {
	sig := func(v float64, unit string) string {
		switch {
		case v >= 100:
			return fmt.Sprintf("%.0f%s", v, unit)
		case v >= 10:
			return fmt.Sprintf("%.1f%s", v, unit)
		}
		return fmt.Sprintf("%.2f%s", v, unit)
	}
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return sig(float64(d)/float64(time.Microsecond), "µs")
	case d < time.Second:
		return sig(float64(d)/float64(time.Millisecond), "ms")
	case d < time.Minute:
		return sig(d.Seconds(), "s")
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// formatTime prints a Unix-nanosecond time in UTC with milliseconds.
func formatTime(ns int64) string {
	return time.Unix(0, ns).UTC().Format("2006-01-02 15:04:05.000")
}
