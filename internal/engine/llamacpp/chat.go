//go:build cgo

package llamacpp

import (
	"fmt"

	"github.com/cogenesis/cogenesis/internal/chattemplate"
	"github.com/cogenesis/cogenesis/llm"
)

// RenderChat renders msgs with the model's chat template (the GGUF's
// tokenizer.chat_template), ending with the assistant's turn opener when
// addGenerationPrompt is set. A model without a template gets ChatML, and
// the fallback is logged once. Tokenize the result with parseSpecial set
// and addSpecial unset: the template places BOS itself.
func (m *Model) RenderChat(msgs []llm.Message, addGenerationPrompt bool) (string, error) {
	info := m.Info()
	out, fellBack, err := chattemplate.RenderOrChatML(info.ChatTemplate, msgs, chattemplate.Options{
		AddGenerationPrompt: addGenerationPrompt,
		BOSToken:            m.Piece(info.Vocab.BOS),
		EOSToken:            m.Piece(info.Vocab.EOS),
	})
	if err != nil {
		return "", fmt.Errorf("render chat template of %s: %w", m.path, err)
	}
	if fellBack {
		m.fallbackOnce.Do(func() {
			m.opts.Logger.Info("model has no chat template; using ChatML", "model", m.path)
		})
	}
	return out, nil
}
