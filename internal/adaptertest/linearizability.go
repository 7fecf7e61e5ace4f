package adaptertest

// RunLinearizable checks, Jepsen-style, that concurrent requests of one session
// behave like atomic operations on a register per key: several clients share a
// session cookie and run random Get, Set, Delete and Pop requests on a few keys, and
// porcupine searches for an order of the operations, each placed between its
// request and its response, that a sequential session would produce.
//
// By default each store variant runs 3 histories of 4 clients × 25 requests.
// ECHOSESS_LINEARIZABILITY_HISTORIES sets the histories per variant and
// ECHOSESS_LINEARIZABILITY_OPS the requests per client, for a long run:
//
//	ECHOSESS_LINEARIZABILITY_HISTORIES=200 ECHOSESS_LINEARIZABILITY_OPS=200 \
//	  go test -race -run 'TestLinearizab' -timeout 1h -v . ./internal/adaptertest
//
// and the same with go -C echov5 test for Echo v5.

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// linInput is a request: op is get, set, delete or pop, on key; set writes value.
type linInput struct{ op, key, value string }

// linOutput is a response. Status 0 means none came (the request may or may not
// have taken effect); present and value are what get and pop returned.
type linOutput struct {
	status  int
	present bool
	value   string
}

// sessionModel is one register per session key: the state of a partition is the
// key's value, "" when absent (the test never sets an empty value).
var sessionModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(linInput).key
			byKey[k] = append(byKey[k], op)
		}
		var parts [][]porcupine.Operation
		for _, k := range slices.Sorted(maps.Keys(byKey)) {
			parts = append(parts, byKey[k])
		}
		return parts
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(string), input.(linInput), output.(linOutput)
		if out.status != 0 && out.status != http.StatusOK {
			return true, s // a failed request must have had no effect
		}
		// Without a response any answer goes; the effect still applies, as the
		// request is linearized either at some point or, equivalently to never, last.
		got := ""
		if out.present {
			got = out.value
		}
		readOK := out.status == 0 || got == s
		switch in.op {
		case "get":
			return readOK, s
		case "set":
			return true, in.value
		case "delete":
			return true, ""
		case "pop":
			return readOK, ""
		}
		panic("unknown op " + in.op)
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(linInput), output.(linOutput)
		call := fmt.Sprintf("%s(%s)", in.op, in.key)
		if in.op == "set" {
			call = fmt.Sprintf("set(%s, %s)", in.key, in.value)
		}
		switch {
		case out.status == 0:
			return call + " → no response"
		case out.status != http.StatusOK:
			return fmt.Sprintf("%s → failed %d %s", call, out.status, out.value)
		case in.op == "get" || in.op == "pop":
			if !out.present {
				return call + " → absent"
			}
			return call + " → " + out.value
		}
		return call + " → ok"
	},
	DescribeState: func(state any) string { return cmp.Or(state.(string), "absent") },
}

// envInt returns the environment variable name as a positive integer, or def when it
// is unset.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

// RunLinearizable checks random concurrent histories of one session on each store
// variant of vs under adapter a (see the top of the file).
func RunLinearizable(t *testing.T, a Adapter, vs []Variant) {
	histories := envInt(t, "ECHOSESS_LINEARIZABILITY_HISTORIES", 3)
	opsPerClient := envInt(t, "ECHOSESS_LINEARIZABILITY_OPS", 25)
	const clients = 4
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			var log ErrorLog // never blocks, unlike the harness's default handler
			h := NewHarness(t, a, v, log.Configure)
			checked, failed := 0, 0
			for n := range histories {
				history := runHistory(t, h, clients, opsPerClient)
				for _, op := range history {
					if op.Output.(linOutput).status != http.StatusOK {
						failed++
					}
				}
				res, info := porcupine.CheckOperationsVerbose(sessionModel, history, time.Minute)
				switch res {
				case porcupine.Illegal:
					f, err := os.CreateTemp("", "echosess-linearizability-*.html")
					if err != nil {
						t.Fatal(err)
					}
					f.Close()
					if err := porcupine.VisualizePath(sessionModel, info, f.Name()); err != nil {
						t.Errorf("writing the visualization: %v", err)
					}
					logIllegal(t, history)
					t.Fatalf("history %d of %d operations is not linearizable; see %s", n, len(history), f.Name())
				case porcupine.Unknown:
					t.Fatalf("history %d of %d operations: the check timed out", n, len(history))
				}
				checked += len(history)
			}
			t.Logf("%d histories, %d operations linearizable (%d failed requests, %d commit errors)",
				histories, checked, failed, len(log.All()))
		})
	}
}

// logIllegal logs, in order of invocation, the operations on each key whose history
// is not linearizable, for runs (as in CI) whose visualization file is out of reach.
func logIllegal(t *testing.T, history []porcupine.Operation) {
	for _, part := range sessionModel.Partition(history) {
		if porcupine.CheckOperationsTimeout(sessionModel, part, time.Minute) != porcupine.Illegal {
			continue
		}
		slices.SortFunc(part, func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
		for _, op := range part {
			ret := "…"
			if op.Return != math.MaxInt64 {
				ret = fmt.Sprint(time.Duration(op.Return))
			}
			t.Logf("client %d [%v, %s] %s", op.ClientId, time.Duration(op.Call), ret,
				sessionModel.DescribeOperation(op.Input, op.Output))
		}
	}
}

// runHistory creates a session, then has clients goroutines each send ops random
// requests with its cookie, and returns the operations they recorded.
func runHistory(t *testing.T, h *Harness, clients, ops int) []porcupine.Operation {
	t.Helper()
	r := h.Browser().Get("/set", "k", "seed", "v", "1") // a key no client touches keeps the session alive
	ck := r.Cookie(CookieName)
	if r.Status != http.StatusOK || ck == nil {
		t.Fatalf("creating the session: %d %q, cookie %v", r.Status, r.Body, ck)
	}
	keys := []string{"k0", "k1", "k2"}
	kinds := []string{"get", "set", "set", "delete", "pop", "pop"}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		history []porcupine.Operation
		moved   []string
	)
	start := time.Now()
	for c := range clients {
		b := h.WithCookie(CookieName, ck.Value)
		b.Client.Timeout = 30 * time.Second
		wg.Go(func() {
			for i := range ops {
				in := linInput{op: kinds[rand.IntN(len(kinds))], key: keys[rand.IntN(len(keys))]}
				query := []string{"k", in.key}
				if in.op == "set" {
					in.value = fmt.Sprintf("c%d-%d", c, i)
					query = append(query, "v", in.value)
				}
				op := porcupine.Operation{ClientId: c, Input: in, Call: int64(time.Since(start))}
				out, setCookie, err := send(b, "/"+in.op, query...)
				op.Output, op.Return = out, int64(time.Since(start))
				if err != nil {
					op.Return = math.MaxInt64 // no response: it may take effect at any later time
				}
				mu.Lock()
				history = append(history, op)
				if setCookie != nil && setCookie.Value != ck.Value {
					moved = append(moved, fmt.Sprintf("%s → %d, Set-Cookie %s", in.op, out.status, setCookie))
				}
				mu.Unlock()
				if err != nil {
					t.Logf("client %d: %v", c, err)
					return // like a crashed Jepsen process: its request stays open
				}
			}
		})
	}
	wg.Wait()
	if len(moved) > 0 {
		t.Fatalf("the session moved to another token, which the model cannot follow: %q", moved)
	}
	return history
}

// send makes a request and returns its outcome and the session cookie it set, if
// any; on a transport error the outcome has status 0.
func send(b *Browser, path string, query ...string) (linOutput, *http.Cookie, error) {
	resp, err := b.Client.Get(b.h.URL(path, query...))
	if err != nil {
		return linOutput{}, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return linOutput{}, nil, err
	}
	r := Response{Status: resp.StatusCode, Body: string(body), Header: resp.Header}
	out := linOutput{status: r.Status, present: r.Body != "<absent>", value: r.Body}
	return out, r.Cookie(CookieName), nil
}
