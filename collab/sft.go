package collab

import (
	"context"
	"fmt"

	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/egress"
	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/privacy"
)

// SFTMessages returns one supervised fine-tuning example for the local
// model: the chat it sees for task (with the cloud's sketch in it when
// sketch is set, as the sketch strategies prompt it; full marks a draft
// rather than an outline) and reference as the assistant turn. Training on
// these makes the fine-tuned model see at inference exactly what it saw in
// training. The messages hold private text: they stay on the device.
func SFTMessages(task Task, reference privacy.Private, sketch string, full bool) []llm.Message {
	user := task.privateInstruction()
	if sketch != "" {
		user = withSketch(user, sketch, full)
	}
	return []llm.Message{
		{Role: llm.RoleSystem, Content: systemFor(task.Kind)},
		{Role: llm.RoleUser, Content: user},
		{Role: llm.RoleAssistant, Content: reference.UnsafeText()},
	}
}

// CloudSketch asks the cloud for what the sketch strategy would get for
// task: an outline of the guarded public instruction, or with full a
// draft. It goes through the same guard and egress check as a run.
func (r *Runner) CloudSketch(ctx context.Context, task Task, full bool, o Options) (string, error) {
	if r.Cloud == nil {
		return "", fmt.Errorf("sketch: no cloud model configured")
	}
	if r.Guard == nil {
		return "", fmt.Errorf("sketch: %w", errNoGuard)
	}
	o = o.withDefaults()
	st := Sketch
	if full {
		st = SketchFull
	}
	ctx = egress.WithGuard(audit.WithStrategy(ctx, string(st)), r.Guard)
	public, _, err := r.publicInstruction(ctx, task)
	if err != nil {
		return "", err
	}
	user := public
	if !full {
		user = outlinePrompt(task.Kind, public)
	}
	return r.Cloud.Chat(ctx, privacy.PublicConst(systemWithout), user, r.cloudChat(o))
}
