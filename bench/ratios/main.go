// Command ratios reads `go test -bench` output of the bench package on standard input
// and prints, as Markdown tables, each case's median time and allocations per library
// and the ratios echosess / peer: of the whole request, and of the overhead over the
// baseline app, which is the session library's own cost per request.
//
//	go test -run='^$' -bench=. -count=6 . | tee results.txt
//	go run ./ratios < results.txt
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// key names one benchmark: case, library and store.
type key struct{ name, lib, store string }

// samples are one benchmark's measurements over -count runs, by unit.
type samples map[string][]float64

func main() {
	results, order, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ratios:", err)
		os.Exit(1)
	}
	med := func(k key, unit string) (float64, bool) {
		s, ok := results[k][unit]
		if !ok || len(s) == 0 {
			return 0, false
		}
		return median(s), true
	}
	for _, store := range []string{"memory", "postgres", "mysql", "redis"} {
		var peers, libs []string
		units := []string{"sec/op", "cpu-ns/op", "instructions/op", "allocs/op"}
		switch store {
		case "memory":
			libs, peers = []string{"baseline", "echosess", "scs", "gorilla"}, []string{"scs", "gorilla"}
		case "postgres":
			libs, peers = []string{"echosess", "echosess-cache", "scs"}, []string{"scs"}
		case "mysql":
			libs, peers = []string{"echosess", "echosess-cache", "scs"}, []string{"scs"}
			units = append(units, "B/op", "roundtrips/op", "cmds/op")
		case "redis":
			libs, peers = []string{"echosess", "scs", "gorilla"}, []string{"scs", "gorilla"}
			units = append(units, "B/op", "roundtrips/op", "cmds/op")
		}
		header := "| case |"
		rule := "|---|"
		for _, lib := range libs {
			header += " " + lib + " |"
			rule += "---:|"
		}
		mine := []string{"echosess"}
		if store == "postgres" || store == "mysql" {
			mine = append(mine, "echosess-cache")
		}
		for _, m := range mine {
			for _, p := range peers {
				header += fmt.Sprintf(" %s / %s |", m, p)
				rule += "---:|"
				if store == "memory" {
					header += fmt.Sprintf(" overhead %s / %s |", m, p)
					rule += "---:|"
				}
			}
		}
		lines := []string{header, rule}
		for _, name := range order {
			if _, ok := results[key{name, "echosess", store}]; !ok {
				continue
			}
			for _, unit := range units {
				if _, ok := med(key{name, "echosess", store}, unit); !ok {
					continue
				}
				row := fmt.Sprintf("| %s %s |", name, unit)
				for _, lib := range libs {
					v, ok := med(key{name, lib, store}, unit)
					row += " " + format(v, ok, unit) + " |"
				}
				base, hasBase := med(key{name, "baseline", store}, unit)
				for _, m := range mine {
					mv, mok := med(key{name, m, store}, unit)
					for _, p := range peers {
						pv, pok := med(key{name, p, store}, unit)
						row += " " + ratio(mv, pv, mok && pok) + " |"
						if store == "memory" {
							row += " " + ratio(mv-base, pv-base, mok && pok && hasBase) + " |"
						}
					}
				}
				lines = append(lines, row)
			}
		}
		if len(lines) > 2 {
			fmt.Printf("store=%s (medians of %d runs)\n\n%s\n\n", store, runs(results), strings.Join(lines, "\n"))
		}
	}
	printV5(results, order, med)
}

// printV5 prints the Echo v5 table, on memory stores: each v5 library beside its
// baseline, and the overhead (a library's figure minus its own Echo's baseline) of
// echosess-v5 over echosess's on v4 and over gorilla-v5's.
func printV5(results map[key]samples, order []string, med func(key, string) (float64, bool)) {
	libs := []string{"baseline", "echosess", "baseline-v5", "echosess-v5", "gorilla-v5"}
	lines := []string{
		"| case | " + strings.Join(libs, " | ") + " | overhead echosess-v5 / echosess | overhead echosess-v5 / gorilla-v5 |",
		"|---|" + strings.Repeat("---:|", len(libs)+2),
	}
	for _, name := range order {
		for _, unit := range []string{"sec/op", "cpu-ns/op", "instructions/op", "allocs/op"} {
			if _, ok := med(key{name, "echosess-v5", "memory"}, unit); !ok {
				continue
			}
			row := fmt.Sprintf("| %s %s |", name, unit)
			v := map[string]float64{}
			ok := true
			for _, lib := range libs {
				x, has := med(key{name, lib, "memory"}, unit)
				row += " " + format(x, has, unit) + " |"
				v[lib], ok = x, ok && has
			}
			mine := v["echosess-v5"] - v["baseline-v5"]
			row += " " + ratio(mine, v["echosess"]-v["baseline"], ok) + " |"
			row += " " + ratio(mine, v["gorilla-v5"]-v["baseline-v5"], ok) + " |"
			lines = append(lines, row)
		}
	}
	if len(lines) > 2 {
		fmt.Printf("Echo v5, store=memory (medians of %d runs)\n\n%s\n\n", runs(results), strings.Join(lines, "\n"))
	}
}

// parse collects the measurements of every benchmark line and the case names in the
// order they first appear.
func parse(r io.Reader) (map[key]samples, []string, error) {
	results := map[key]samples{}
	var order []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		k, ok := parseName(f[0])
		if !ok {
			continue
		}
		if !slices.Contains(order, k.name) {
			order = append(order, k.name)
		}
		if results[k] == nil {
			results[k] = samples{}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", f[0], err)
			}
			unit := f[i+1]
			switch unit {
			case "ns/op":
				unit, v = "sec/op", v/1e9
			case "cpu-ns/op":
				v /= 1e9
			}
			results[k][unit] = append(results[k][unit], v)
		}
	}
	return results, order, sc.Err()
}

// parseName splits "BenchmarkRead/lib=scs/store=memory-2" into its parts.
func parseName(s string) (key, bool) {
	s = strings.TrimPrefix(s, "Benchmark")
	if i := strings.LastIndexByte(s, '-'); i > strings.LastIndexByte(s, '/') {
		s = s[:i]
	}
	parts := strings.Split(s, "/")
	if len(parts) != 3 {
		return key{}, false
	}
	lib, ok1 := strings.CutPrefix(parts[1], "lib=")
	store, ok2 := strings.CutPrefix(parts[2], "store=")
	return key{parts[0], lib, store}, ok1 && ok2
}

func median(s []float64) float64 {
	s = slices.Sorted(slices.Values(s))
	if n := len(s); n%2 == 1 {
		return s[n/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func runs(results map[key]samples) int {
	n := 0
	for _, s := range results {
		for _, v := range s {
			n = max(n, len(v))
		}
	}
	return n
}

func format(v float64, ok bool, unit string) string {
	switch {
	case !ok:
		return "–"
	case unit == "allocs/op" || unit == "B/op":
		return strconv.FormatFloat(v, 'f', -1, 64)
	case unit == "roundtrips/op" || unit == "cmds/op":
		return fmt.Sprintf("%.2f", v)
	case unit == "instructions/op":
		return fmt.Sprintf("%.0f", v)
	case v >= 1e-3:
		return fmt.Sprintf("%.2f ms", v*1e3)
	default:
		return fmt.Sprintf("%.2f µs", v*1e6)
	}
}

func ratio(a, b float64, ok bool) string {
	if !ok || b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}
