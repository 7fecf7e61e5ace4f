package echosess

// SetDeleteBatch sets how many rows one statement of s.DeleteExpired removes at most,
// so that tests can see several batches without thousands of rows.
func SetDeleteBatch(s *SQLStore, n int) { s.batch = n }
