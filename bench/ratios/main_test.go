package main

import (
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
