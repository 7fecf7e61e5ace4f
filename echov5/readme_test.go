package echosess_test

import (
	"path/filepath"
	"testing"

	"github.com/echosess/echosess/internal/exampletest"
)

// TestREADMEQuickStartV5 builds the README's Echo v5 quick start as it stands, with
// this module's requirements.
func TestREADMEQuickStartV5(t *testing.T) {
	exampletest.BuildREADMEBlock(t, filepath.Join("..", "README.md"), "## Echo v5")
}
