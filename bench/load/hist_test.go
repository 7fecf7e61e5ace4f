package main

import (
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	for _, d := range []time.Duration{0, 1, 63, 64, 65, 127, 128, 1000, time.Microsecond * 250, time.Millisecond * 7, time.Second * 3} {
		got := bucketValue(bucketOf(d))
		if diff := float64(got-d) / float64(max(d, 1)); diff > 0.016 || diff < -0.016 {
			t.Errorf("bucketValue(bucketOf(%v)) = %v", d, got)
		}
	}
	for i := range (64 - subBits) << subBits {
		if i > 0 && bucketOf(bucketValue(i)) != i {
			t.Fatalf("bucket %d round-trips to %d", i, bucketOf(bucketValue(i)))
		}
	}
}

func TestHistogramQuantile(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Microsecond)
	}
	for q, want := range map[float64]time.Duration{0.5: 500 * time.Microsecond, 0.99: 990 * time.Microsecond} {
		got := h.quantile(q)
		if d := float64(got-want) / float64(want); d > 0.02 || d < -0.02 {
			t.Errorf("quantile(%v) = %v, want about %v", q, got, want)
		}
	}
}
