// Package tinyapps holds four programs of a few lines each, one per store (memory,
// sqlite, postgres, mysql), whose imports CI lists with go list -deps: an
// application compiles the database driver of the store it uses and no other.
package tinyapps
