//go:build !linux

package main

import "time"

// postgresCPU returns -1: it reads /proc, which only Linux has.
func postgresCPU() time.Duration { return -1 }
