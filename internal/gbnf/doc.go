// Package gbnf parses, checks and rewrites GBNF grammars, llama.cpp's
// grammar format, in pure Go, so that a grammar reaches llama.cpp's
// grammar sampler only once it is known not to crash it.
//
// llama.cpp's grammar code (src/llama-grammar.cpp) recurses in C on
// nesting (its parser), on chains of rule references (its left-recursion
// check and llama_grammar_advance_stack), and on rules that match the
// empty string; a repetition of something that can match nothing, such as
// ("a"?)*, sends llama_grammar_advance_stack into unbounded recursion and
// kills the process. [Sanitize] parses a grammar the way llama.cpp does,
// enforces [Limits] on its size, nesting and expansion, rejects left
// recursion (with the real nullable analysis that llama.cpp's own check
// lacks), rewrites every repetition of a nullable operand into an
// equivalent one whose operand is not nullable (X* is (X minus the empty
// string)*), leaves at most one way for any expression to match the empty
// string, and prints the result as GBNF text for llama.cpp.
//
// # Grammar
//
// The accepted syntax is llama.cpp's: rules name ::= alternatives, one per
// line (newlines are allowed inside parentheses and after |); sequences;
// groups; string literals with the escapes \x.. \u.... \U........ \t \r
// \n \\ \" \[ \]; character classes [a-z], negated [^...]; . for any
// character; rule references; the repetitions *, +, ?, {m}, {m,} and
// {m,n}; # comments; and token references <[id]>, <name> and their
// negations !<[id]>, !<name>.
package gbnf
