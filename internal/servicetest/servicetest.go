// Package servicetest finds, for tests, the database servers they run on: each is
// named by an environment variable, and a test without it is skipped, or fails
// under CI, which must run them all. It imports nothing of echosess and no driver,
// so that the stores' own tests can use it too.
package servicetest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
)

// DSN returns the value of the environment variable env, skipping the test when it
// is not set (failing it when CI=true). service names the server in the messages,
// and howToRun says how to set the variable. The first skip of a service in a test
// binary also says so in one line: see skipNotice.
func DSN(t testing.TB, env, service, howToRun string) string {
	t.Helper()
	dsn := os.Getenv(env)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set; CI must run the %s tests", env, service)
		}
		once, _ := notices.LoadOrStore(service, new(sync.Once))
		once.(*sync.Once).Do(func() { skipNotice(service, howToRun) })
		t.Skipf("%s is not set; to run the %s tests, %s", env, service, howToRun)
	}
	return dsn
}

// notices holds a *sync.Once per service, for skipNotice.
var notices sync.Map

// skipNotice prints, once per test binary and service, that the package skips the
// service's tests and how to run them. Without -v, go test ./... shows nothing that
// a passing package prints, so the line goes to the terminal when there is one
// (/dev/tty); with -v, each skipped test says it already.
func skipNotice(service, howToRun string) {
	if testing.Verbose() {
		return
	}
	pkg := "this package"
	if bi, ok := debug.ReadBuildInfo(); ok {
		pkg = strings.TrimSuffix(bi.Path, ".test")
	}
	line := pkg + ": " + service + " tests skipped; to run them, " + howToRun + "\n"
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		tty.WriteString(line)
		return
	}
	os.Stderr.WriteString(line)
}

// RandomHex returns 12 random hex digits, for names that no other test uses.
func RandomHex(t testing.TB) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
