module github.com/echosess/echosess/redisstore

go 1.26.0

require (
	github.com/echosess/echosess v0.1.0
	github.com/redis/rueidis v1.0.80
)

require golang.org/x/sys v0.50.0 // indirect

replace github.com/echosess/echosess => ../
