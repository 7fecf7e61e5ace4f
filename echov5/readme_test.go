package echosess_test

import (
	"path/filepath"
	"testing"

	"github.com/echosess/echosess/internal/exampletest"
)

// TestREADMEQuickStartV5 builds the Echo v5 quick start of docs/echo-v5.md as it stands, with
// this module's requirements.
func TestREADMEQuickStartV5(t *testing.T) {
	exampletest.BuildDocBlock(t, filepath.Join("..", "docs", "echo-v5.md"), "## Quick start")
}
