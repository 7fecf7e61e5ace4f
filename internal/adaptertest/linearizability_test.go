package adaptertest

import (
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// TestLinearizabilityModel checks sessionModel on small hand-written histories, so
// that TestLinearizable can be trusted to accept and to reject.
func TestLinearizabilityModel(t *testing.T) {
	ok := linOutput{status: http.StatusOK}
	val := func(v string) linOutput { return linOutput{status: http.StatusOK, present: true, value: v} }
	conflict := linOutput{status: http.StatusConflict, value: "ErrConflict"}
	op := func(client int, call, ret int64, in linInput, out linOutput) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
	}
	set := func(k, v string) linInput { return linInput{op: "set", key: k, value: v} }
	get := linInput{op: "get", key: "k"}
	pop := linInput{op: "pop", key: "k"}
	for _, tt := range []struct {
		name    string
		want    porcupine.CheckResult
		history []porcupine.Operation
	}{
		{"concurrent pops, one wins", porcupine.Ok, []porcupine.Operation{
			op(0, 0, 1, set("k", "a"), ok), op(0, 2, 5, pop, val("a")), op(1, 3, 4, pop, ok),
		}},
		{"concurrent pops both get the value", porcupine.Illegal, []porcupine.Operation{
			op(0, 0, 1, set("k", "a"), ok), op(0, 2, 5, pop, val("a")), op(1, 3, 4, pop, val("a")),
		}},
		{"read of an overlapping write", porcupine.Ok, []porcupine.Operation{
			op(0, 0, 1, set("k", "a"), ok), op(0, 2, 5, set("k", "b"), ok), op(1, 3, 4, get, val("b")),
			op(1, 6, 7, get, val("b")),
		}},
		{"stale read", porcupine.Illegal, []porcupine.Operation{
			op(0, 0, 1, set("k", "a"), ok), op(0, 2, 3, set("k", "b"), ok), op(1, 4, 5, get, val("a")),
		}},
		{"delete then read", porcupine.Illegal, []porcupine.Operation{
			op(0, 0, 1, set("k", "a"), ok), op(0, 2, 3, linInput{op: "delete", key: "k"}, ok),
			op(1, 4, 5, get, val("a")),
		}},
		{"failed pop leaves the value", porcupine.Ok, []porcupine.Operation{
			op(0, 0, 1, set("k", "a"), ok), op(0, 2, 3, pop, conflict), op(1, 4, 5, pop, val("a")),
		}},
		{"failed set seen", porcupine.Illegal, []porcupine.Operation{
			op(0, 0, 1, set("k", "a"), conflict), op(1, 2, 3, get, val("a")),
		}},
		{"unanswered set seen late", porcupine.Ok, []porcupine.Operation{
			op(0, 0, math.MaxInt64, set("k", "a"), linOutput{}), op(1, 2, 3, get, ok), op(1, 4, 5, get, val("a")),
		}},
		{"unanswered set seen then gone", porcupine.Illegal, []porcupine.Operation{
			op(0, 0, math.MaxInt64, set("k", "a"), linOutput{}), op(1, 2, 3, get, val("a")), op(1, 4, 5, get, ok),
		}},
		{"keys are separate", porcupine.Ok, []porcupine.Operation{
			op(0, 0, 1, set("k", "a"), ok), op(1, 2, 3, linInput{op: "get", key: "j"}, ok), op(1, 4, 5, get, val("a")),
		}},
		{"value read under another key", porcupine.Illegal, []porcupine.Operation{
			op(0, 0, 1, set("k", "a"), ok), op(1, 2, 3, linInput{op: "get", key: "j"}, val("a")),
		}},
	} {
		if got := porcupine.CheckOperationsTimeout(sessionModel, tt.history, time.Minute); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}
