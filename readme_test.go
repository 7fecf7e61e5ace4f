package echosess_test

import (
	"testing"

	"github.com/echosess/echosess/internal/exampletest"
)

// TestREADMEQuickStart builds the README's quick start as it stands.
func TestREADMEQuickStart(t *testing.T) {
	exampletest.BuildDocBlock(t, "README.md", "## Quick start")
}
