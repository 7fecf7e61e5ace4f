package main

import (
	"io"
	"os"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	in := `goos: linux
BenchmarkRead/lib=scs/store=memory-2   	 100	 2000 ns/op	 1.000 reads/op	 216 allocs/op
BenchmarkRead/lib=scs/store=memory-2   	 100	 4000 ns/op	 1.000 reads/op	 216 allocs/op
BenchmarkRead/lib=scs/store=memory-2   	 100	 9000 ns/op	 1.000 reads/op	 216 allocs/op
BenchmarkWrite/lib=echosess-cache/store=postgres 40000 12345 instructions/op
PASS
`
	results, order, err := parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(order, ",") != "Read,Write" {
		t.Errorf("order %q", order)
	}
	read := results[key{"Read", "scs", "memory"}]
	if got := median(read["sec/op"]); got != 4e-6 {
		t.Errorf("median sec/op %v", got)
	}
	if got := read["allocs/op"]; len(got) != 3 || got[0] != 216 {
		t.Errorf("allocs/op %v", got)
	}
	if got := results[key{"Write", "echosess-cache", "postgres"}]["instructions/op"]; len(got) != 1 || got[0] != 12345 {
		t.Errorf("instructions/op %v", got)
	}
}

func TestMedianOfEven(t *testing.T) {
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median = %v", got)
	}
}

func TestV5Overheads(t *testing.T) {
	in := `BenchmarkRead/lib=baseline/store=memory 1 100 instructions/op
BenchmarkRead/lib=echosess/store=memory 1 300 instructions/op
BenchmarkRead/lib=baseline-v5/store=memory 1 110 instructions/op
BenchmarkRead/lib=echosess-v5/store=memory 1 320 instructions/op
BenchmarkRead/lib=gorilla-v5/store=memory 1 1110 instructions/op
`
	results, order, err := parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	med := func(k key, unit string) (float64, bool) {
		s, ok := results[k][unit]
		if !ok {
			return 0, false
		}
		return median(s), true
	}
	out := captureStdout(t, func() { printV5(results, order, med) })
	// (320-110)/(300-100) and (320-110)/(1110-110)
	if want := "| Read instructions/op | 100 | 300 | 110 | 320 | 1110 | 1.05× | 0.21× |"; !strings.Contains(out, want) {
		t.Errorf("v5 table:\n%s\nwant the row %s", out, want)
	}
}

// captureStdout returns what fn prints to standard output.
func captureStdout(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	fn()
	os.Stdout = stdout
	w.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
