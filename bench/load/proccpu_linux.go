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

// processCPU returns the CPU time that the processes on this machine that match
// have used so far, or -1 when /proc cannot tell. match gets a process's name (as
// in /proc/<pid>/stat: postgres, redis-server) and its command line, whose
// arguments are separated by NULs (a server may have rewritten it as its title). A
// process that exits takes its time with it; the databases' servers and the apps'
// connections to them last the whole run.
func processCPU(match func(name, cmdline string) bool) time.Duration {
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
		if open < 0 || end < open {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join(filepath.Dir(file), "cmdline"))
		if err != nil || !match(string(b[open+1:end]), string(cmdline)) {
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
