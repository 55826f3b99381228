package statecache_test

import (
	"fmt"
	"log"
	"os"

	"github.com/cogenesis/cogenesis/internal/statecache"
)

// The first request of a user evaluates their prefix and puts its state;
// the next ones get it and restore it (llamacpp's Sequence.SaveState and
// Sequence.RestoreState hold the places of the strings here).
func Example() {
	dir, err := os.MkdirTemp("", "statecache")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	c, err := statecache.Open(dir, statecache.Options{})
	if err != nil {
		log.Fatal(err)
	}
	k := statecache.Key{
		User:     "alice",
		Model:    "sha256:5d0b...", // statecache.FileID of the model file
		Settings: "ctx=4096 ...",   // the model's StateSettings
		Tokens:   []int32{1, 15043, 29892, 590},
	}
	for range 2 {
		state, o := c.Get(k)
		if o != statecache.Hit {
			fmt.Println("miss:", o)
			if err := c.Put(k, []byte("saved state")); err != nil {
				log.Fatal(err)
			}
			continue
		}
		fmt.Println("hit:", string(state))
	}
	// Output:
	// miss: absent
	// hit: saved state
}
