package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// clockTick is the unit of the CPU times in /proc/<pid>/stat (USER_HZ), which is
// 100 on every Linux that Go runs on.
const clockTick = 10 * time.Millisecond

// postgresCPU returns the CPU time that the processes named postgres on this
// machine have used so far (the server's backends, the listeners' included, and
// its background processes), or -1 when /proc cannot tell. A backend that exits
// takes its time with it; the apps' pools keep theirs for the whole run.
func postgresCPU() time.Duration {
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil || len(stats) == 0 {
		return -1
	}
	var total time.Duration
	for _, file := range stats {
		b, err := os.ReadFile(file)
		if err != nil {
			continue // exited meanwhile
		}
		open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || end < open || string(b[open+1:end]) != "postgres" {
			continue
		}
		// After the name: state, then 10 fields, then utime and stime.
		fields := bytes.Fields(b[end+1:])
		if len(fields) < 13 {
			continue
		}
		utime, err1 := strconv.ParseInt(string(fields[11]), 10, 64)
		stime, err2 := strconv.ParseInt(string(fields[12]), 10, 64)
		if err1 == nil && err2 == nil {
			total += time.Duration(utime+stime) * clockTick
		}
	}
	return total
}
