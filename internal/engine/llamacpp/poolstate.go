package llamacpp

import "context"

// RestoreState restores a saved state into the pooled sequence, as
// [Sequence.RestoreState] does, and forgets the prompt scores the pool
// kept for what the sequence held before. Restore through this method,
// not through Seq, whenever the sequence came from a [Pool]. A later
// [Pooled.Load] evaluates only the prompt past the restored tokens, unless
// it asks for scores: the restored positions have none, so it scores the
// whole prompt again.
func (ps *Pooled) RestoreState(ctx context.Context, data []byte, tokens []int32) error {
	ps.scores = ps.scores[:0]
	return ps.Seq.RestoreState(ctx, data, tokens)
}
