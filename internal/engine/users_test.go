package engine

import (
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestDeviceField: a recorded user agent or IP is valid UTF-8 without NUL bytes, at
// most maxDeviceField bytes, cut before a rune rather than through it; and a
// header of a mebibyte costs what one of the limit does: deviceField reads and
// copies no more than it keeps.
func TestDeviceField(t *testing.T) {
	ascii := strings.Repeat("a", maxDeviceField)
	for _, tt := range []struct{ given, expect string }{
		{"", ""},
		{"Mozilla/5.0", "Mozilla/5.0"},
		{"a\x00b", "ab"},
		{"a\xffb", "a\uFFFDb"},
		{ascii, ascii},
		{ascii + "b", ascii},
		{ascii[1:] + "é", ascii[1:]},
		{ascii[3:] + "😀", ascii[3:]},
		{ascii[4:] + "😀", ascii[4:] + "😀"},
		{strings.Repeat("€", 1<<20), strings.Repeat("€", maxDeviceField/3)},
		{strings.Repeat("\xff", 1<<20), "\uFFFD"},
		{strings.Repeat("a\xff", 1<<19), strings.Repeat("a\uFFFD", maxDeviceField/4)},
		{strings.Repeat("a\x00", 1<<19), ascii[:maxDeviceField/2]},
	} {
		if got := deviceField(tt.given); got != tt.expect {
			t.Errorf("deviceField(%.20q… of %d bytes) = %.20q… of %d bytes, want %.20q… of %d", tt.given, len(tt.given), got, len(got), tt.expect, len(tt.expect))
		}
	}

	huge := strings.Repeat("x", 1<<20)
	for _, given := range []string{huge, huge + "\x00", huge + "\xff"} {
		const calls = 20
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range calls {
			if got := deviceField(given); len(got) != maxDeviceField || !utf8.ValidString(got) {
				t.Fatalf("deviceField of a huge header = %.20q… of %d bytes", got, len(got))
			}
		}
		runtime.ReadMemStats(&after)
		if per := (after.TotalAlloc - before.TotalAlloc) / calls; per > 4*maxDeviceField {
			t.Errorf("deviceField of %d bytes ending in %q allocated %d bytes per call, want at most %d", len(given), given[len(given)-1], per, 4*maxDeviceField)
		}
	}
}
