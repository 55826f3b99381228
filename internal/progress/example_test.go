package progress_test

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cogenesis/cogenesis/internal/progress"
)

func ExampleBar_Reader() {
	src := strings.NewReader(strings.Repeat("x", 1<<20))
	bar := progress.New(os.Stderr, "copy", src.Size(), progress.Bytes())
	n, err := io.Copy(io.Discard, bar.Reader(src))
	bar.Done()
	fmt.Println(n, err, bar.Current())
	// Output: 1048576 <nil> 1048576
}

// A job whose every unit failed, and the job that needed its output, end
// as "failed" and "skipped", not "done".
func ExampleBar_Fail() {
	fetch := progress.New(os.Stdout, "fetch", 2, progress.Terminal(false))
	fetch.Fail(1)
	fetch.Fail(1)
	fetch.Done()
	parse := progress.New(os.Stdout, "parse", 2, progress.Terminal(false))
	parse.Skip(2)
	parse.Done()
	// Output:
	// fetch: failed 2/2 in 0s
	// parse: skipped 2/2 in 0s
}

func ExampleFormatBytes() {
	fmt.Println(progress.FormatBytes(512))
	fmt.Println(progress.FormatBytes(3 << 29))
	// Output:
	// 512 B
	// 1.5 GiB
}
