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

func ExampleFormatBytes() {
	fmt.Println(progress.FormatBytes(512))
	fmt.Println(progress.FormatBytes(3 << 29))
	// Output:
	// 512 B
	// 1.5 GiB
}
