package collab

import (
	"strings"

	"github.com/cogenesis/cogenesis/privacy"
)

// TaskKind is the paper's task family; it picks the prompts.
type TaskKind = privacy.TaskKind

// The paper's three task kinds.
const (
	KindContext = privacy.KindContext // context-aware instructions (the synthetic dataset)
	KindEmail   = privacy.KindEmail   // personalized emails (LaMP Avocado)
	KindPaper   = privacy.KindPaper   // personalized paper abstracts (LaMP citation network)
)

// ParseTaskKind validates a kind name.
func ParseTaskKind(s string) (TaskKind, error) { return privacy.ParseTaskKind(s) }

// The paper's system prompts (Table 7), verbatim.
const (
	systemWithout = "You are now a helpful personal AI assistant. Aim for insightful and high-quality solutions that make users satisfied."

	systemWithContext = "You are now a helpful personal AI assistant. You should emulate the author's style and tone based on provided history content. Your responses should be detailed and informative, using the personal information reasonably in the user's profile. Aim for insightful and high-quality solutions that make users satisfied."

	systemWithHistory = "You are now a helpful personal AI assistant. You should emulate the author's style and tone based on provided history content. Your responses should be detailed and informative, matching the author's unique writing approach. Aim for insightful and high-quality solutions that make users satisfied."
)

// The paper's outline ("skeleton") prompts (Table 8), verbatim; {question}
// follows "Now, please provide the skeleton for the following question. ".
// The "\n" inside the examples stand as the two characters the paper shows.
const (
	outlineContext = `You're an organizer responsible for only giving the skeleton (not the full content) for answering the question. Provide the skeleton in a list of points (numbered 1., 2., 3., etc.) to answer the question. Instead of writing a full sentence, each skeleton point should be very short with only 3-5 words. Generally, the skeleton should have 8-15 points. You can refer to the following examples:

[Task1]: Develop a Marketing Script for Your Monthly Dinner Party: Create a script that highlights your monthly dinner party as a networking platform.

[Skeleton1]: 1. Warmly lit dining room\n2. Fine china and gourmet dishes\n3. Soft music background\n4. Invitation opening\n5. Guests arriving and networking\n6. Host's welcoming toast\n7. Expertly paired courses and wine\n8. Animated guest discussions\n9. Guest speaker's address\n10. Post-dinner networking lounge\n11. Online community continuation\n12. Next event date highlighted\n13. Closing with logo and contact info

[Task2]: Compose a reflective essay on the evolution of bridge design: Thomas, with his patent in bridge design, can discuss the evolution of bridge engineering, modern challenges, and future perspectives.

[Skeleton2]: 1. Introduction to bridges\n2. Early bridges: materials, principles\n3. Roman arches, concrete use\n4. Industrial Revolution: iron, steel\n5. Brooklyn Bridge: design icon\n6. 20th-century advances: materials, techniques\n7. Modern challenges: sustainability, climate\n8. Future technologies: smart materials, sensors\n9. Ethical considerations, safety\n10. Conclusion: adaptation, advancement

Now, please provide the skeleton for the following question. `

	outlineEmail = `You're an organizer responsible for only giving the skeleton (not the full content) for answering the question. Provide the skeleton in a list of points (numbered 1., 2., 3., etc.) to answer the question. Instead of writing a full sentence, each skeleton point should be very short with only 3-5 words. Generally, the skeleton should have 8-15 points. You can refer to the following examples:

[Task1]: Compose an email for the subject 'T-Mobile Sidekick debuts, FileMaker launches mobile DB, and more!' [Skeleton1]: 1. JavaWorld techno-tidbits intro\n2. T-Mobile Sidekick debut\n3. FileMaker mobile DB launch\n4. Palm OS 5 devices release\n5. Mobile security advancements\n6. Newsletter system update\n7. Customer service instructions\n8. JavaWorld team sign-off\n9. Editorial and advertising contacts\n10. Privacy policy reminder\n11. Copyright notice

[Task2]: Compose an email for the subject 'tomcat4, where servlet.jar is set ???'

[Skeleton2]: 1. Tomcat 4 servlet.jar location?\n2. Navigating Tomcat directory.\n3. Specifics for Tomcat 4.\n4. Setting up web application.\n5. Importance of servlets.\n6. Documentation exploration.\n7. Request for expert advice.\n8. Configuration file settings?\n9. Thanks and anticipation.\n10. P.S. Collaboration value.

Now, please provide the skeleton for the following question. `

	outlinePaper = `You're an organizer responsible for only giving the skeleton (not the full content) for answering the question from high-level perspective. Provide the skeleton in a list of points (numbered 1., 2., 3., etc.) to answer the question. Instead of writing a full sentence, each skeleton point should be very short with only few words. Generally, the skeleton should have 8-15 points. You can refer to the following examples:

[Task1]: Compose an abstract for the title 'Ensemble of Anchor Adapters for Transfer Learning'

[Skeleton1]: 1. Transfer learning importance\n2. Traditional approaches limitations\n3. Ensemble of Anchor Adapters introduction\n4. Anchor adapters concept\n5. Ensemble strategy for robustness\n6. Hybrid loss function formulation\n7. Experiments on heterogeneous domains\n8. EAA outperforms state-of-the-art\n9. Novel transferability metric introduction\n10. Contribution: ensemble and domain adaptation integration

[Task2]: Compose an abstract for the title 'Variability in software architecture: the road ahead'

[Skeleton2]: 1. Software architecture evolution\n2. VARSA symposium introduction\n3. Previous work foundation\n4. Challenges and opportunities\n5. Keynote speeches, research, collaboration\n6. Capturing and leveraging variability\n7. Cognitive and technical burdens\n8. Variability's impact on quality\n9. Lifecycle integration\n10. Research agenda proposal\n11. Interdisciplinary dialogue\n12. Tools, techniques, theory advancements\n13. Roadmap for strategic directions\n14. Conference essence and goals

Now, please provide the skeleton for the following question. `
)

// Task is one writing task for one user, as the strategies see it.
//
// Nothing in Task is public yet: the public instruction is a candidate
// that must pass the guard before it leaves the device.
type Task struct {
	Kind TaskKind
	// User is the user's vault id; a local model with saved states
	// ([EngineWithStates]) keeps the user's evaluated context under it.
	// Empty: none kept.
	User string
	// Instruction is the task as written: for context-aware tasks the
	// whole "General part: personal part." text; for emails the subject;
	// for papers the title. (Kept private: it can name private facts.)
	Instruction privacy.Private
	// General is the candidate for the cloud: the general section of a
	// context-aware task, or the subject or title.
	General privacy.Private
	// Profile is the user-profile block (context-aware tasks).
	Profile privacy.Private
	// History is the writing-history block ("examples" for emails and
	// papers).
	History privacy.Private
	// PrivatePrompt, when set, is a complete with-context instruction
	// (the paper's processed LaMP files carry them); it replaces the one
	// built from Profile, History and Instruction.
	PrivatePrompt privacy.Private
	// PublicPrompt, when set, is a complete without-context instruction
	// candidate (LaMP "_wo" files); it replaces the one built from General.
	PublicPrompt privacy.Private
}

// systemFor returns the with-context system prompt of a kind.
func systemFor(k TaskKind) string {
	if k == KindContext {
		return systemWithContext
	}
	return systemWithHistory
}

// privateInstruction builds the with-context user turn (Table 7). It is
// private: only the small model on the device reads it.
func (t Task) privateInstruction() string {
	if !t.PrivatePrompt.IsZero() {
		return t.PrivatePrompt.UnsafeText()
	}
	switch t.Kind {
	case KindEmail:
		return "## History Emails\n" + t.History.UnsafeText() + "\n\n## Task\nCompose an email for the subject '" + t.Instruction.UnsafeText() + "' that matches the author's unique style and tone."
	case KindPaper:
		return "## History Paper Abstracts\n" + t.History.UnsafeText() + "\n\n## Task\nCompose an abstract for the title '" + t.Instruction.UnsafeText() + "' that matches the author's unique content, style and tone."
	}
	return "## User Profile\n" + t.Profile.UnsafeText() + "\n\n## User Writing History\n" + t.History.UnsafeText() + "\n\n## Task\n" + t.Instruction.UnsafeText()
}

// publicCandidate builds the without-context user turn (Table 7), still
// unchecked.
func (t Task) publicCandidate() string {
	if !t.PublicPrompt.IsZero() {
		return t.PublicPrompt.UnsafeText()
	}
	switch t.Kind {
	case KindEmail:
		return "Compose an email for the subject '" + t.General.UnsafeText() + "'"
	case KindPaper:
		return "Compose an abstract for the title '" + t.General.UnsafeText() + "'"
	}
	return t.General.UnsafeText()
}

// outlinePrompt wraps the public instruction in the kind's outline prompt.
func outlinePrompt(k TaskKind, instruction privacy.Public) privacy.Public {
	var head privacy.Public
	switch k {
	case KindEmail:
		head = privacy.PublicConst(outlineEmail)
	case KindPaper:
		head = privacy.PublicConst(outlinePaper)
	default:
		head = privacy.PublicConst(outlineContext)
	}
	return privacy.Concat(head, instruction)
}

// withSketch appends the cloud's outline (or full draft) to the private
// instruction for the small model. The paper gives no wording for this
// step; this is ours.
func withSketch(private string, sketch string, full bool) string {
	label := "## Outline from a general assistant (no access to your context)\n"
	tail := "\n\nFollow the outline where it fits, and write the content for this user, in their style, using their context."
	if full {
		label = "## Draft from a general assistant (no access to your context)\n"
		tail = "\n\nRewrite the draft for this user, in their style, using their context."
	}
	return private + "\n\n" + label + strings.TrimSpace(sketch) + tail
}

// TaskFromRecord builds the context-aware task of a dataset record.
func TaskFromRecord(r privacy.Record) Task {
	return TaskFromVault(r.Vault, r.Task)
}

// TaskFromVault builds a context-aware task for a user and a task text
// (split at the first ": " into general and personal sections).
func TaskFromVault(v *privacy.Vault, t privacy.Task) Task {
	return Task{
		Kind:        KindContext,
		User:        v.ID,
		Instruction: t.Full,
		General:     t.General,
		Profile:     v.Profile,
		History:     v.HistoryText(),
	}
}
