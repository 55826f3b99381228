package cli

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
)

func runTestModel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("testmodel", flag.ContinueOnError)
	var (
		arch  = fs.String("arch", "llama", "architecture: llama or qwen2")
		shape = fs.String("shape", "tiny", "shape: tiny or 0.5b (Qwen2-0.5B)")
		typ   = fs.String("type", "f32", "weight type: f32, f16, q8_0 or q4_0")
		out   = fs.String("out", "", "output GGUF file")
		tok   = fs.String("tokenizer-from", "", "copy the tokenizer and chat template of this GGUF")
		seed  = fs.Uint64("seed", 1, "random seed for the weights")
		scale = fs.Float64("scale", 0.02, "standard deviation of the weights (larger: sharper random distributions)")
	)
	setUsage(fs, "Usage: cogen testmodel --arch llama|qwen2 --shape tiny|0.5b --type f32|f16|q8_0|q4_0 --out FILE [--tokenizer-from GGUF]")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *out == "" {
		return usagef("usage: cogen testmodel ... --out FILE", "--out is required")
	}
	sh, err := enginetest.ShapeByName(*shape)
	if err != nil {
		return &UsageError{Err: err}
	}
	err = enginetest.Write(*out, enginetest.Options{Arch: *arch, Shape: sh, Type: *typ, TokenizerFrom: *tok, Seed: *seed, Scale: float32(*scale)})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%s, %s, %s)\n", *out, *arch, *shape, *typ)
	return nil
}
