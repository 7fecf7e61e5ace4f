package exampletest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// BuildDocBlock builds, as a program, the first Go code block under the heading
// of the Markdown file at readme (the README, a page of docs/), in a directory under the current one, so that it builds
// with the current module's requirements: a newcomer who copies the block gets a
// program that builds.
func BuildDocBlock(t *testing.T, readme, heading string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a program")
	}
	text, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(text), "\n"+heading+"\n")
	_, code, ok2 := strings.Cut(section, "```go\n")
	code, _, ok3 := strings.Cut(code, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatalf("%s has no go code block under %s", readme, heading)
	}
	dir, err := os.MkdirTemp(".", "readme-quickstart-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("go", "build", "-o", os.DevNull, "./"+dir).CombinedOutput(); err != nil {
		t.Fatalf("the code under %s does not build: %v\n%s", heading, err, out)
	}
}
